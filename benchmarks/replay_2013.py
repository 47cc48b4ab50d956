"""Wall time of a whole simulated replay of the 2013 race, as a user runs it.

Usage: python benchmarks/replay_2013.py [--runs N]

Each run is `python -m harness run scenarios/great-race-2013.yaml --simulate --out DIR` in a
fresh temporary folder (start-up, validation, plan, store and the four-week race). Prints
JSON: median and best wall time. Target: under 3 s on the 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "great-race-2013.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    times = []
    with tempfile.TemporaryDirectory() as scratch:
        for number in range(runs):
            out = Path(scratch) / f"run{number}"
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "harness", "run", str(SCENARIO), "--simulate",
                            "-q", "--out", str(out)], check=True, capture_output=True)
            times.append(time.perf_counter() - started)
    median = statistics.median(times)
    print(json.dumps({"runs": runs, "median_s": round(median, 3),
                      "best_s": round(min(times), 3), "target_s": 3.0,
                      "meets_target": median < 3.0}, indent=2))


if __name__ == "__main__":
    main()
