"""How long `shopper --help` and `shopper validate` take to start, and what they import.

Usage: python benchmarks/cli_startup.py [--runs N]

Prints JSON: median and best wall time over N runs of `python -m harness --help` and of
`python -m harness validate scenarios/great-race-2013.yaml`, and whether any heavy library
(matplotlib, scipy, tweepy) was imported by `--help`. Target: `--help` under 0.5 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _time(command: list[str], runs: int) -> dict[str, float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
        times.append(time.perf_counter() - started)
    return {"median_s": round(statistics.median(times), 4), "best_s": round(min(times), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    probe = ("import sys\nfrom harness.cli import main\ntry:\n    main(['--help'])\n"
             "except SystemExit:\n    pass\nsys.stdout = sys.__stdout__\n"
             "print([m for m in ('matplotlib', 'scipy', 'tweepy') if m in sys.modules])")
    heavy = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                           check=True, cwd=ROOT).stdout.strip().splitlines()[-1]
    help_times = _time([sys.executable, "-m", "harness", "--help"], runs)
    result = {
        "python": sys.version.split()[0],
        "runs": runs,
        "help": help_times,
        "validate_replay": _time([sys.executable, "-m", "harness", "validate",
                                  "scenarios/great-race-2013.yaml"], runs),
        "bare_python": _time([sys.executable, "-c", "pass"], runs),
        "heavy_modules_imported_by_help": json.loads(heavy.replace("'", '"')),
        "target_help_s": 0.5,
    }
    result["meets_target"] = (help_times["median_s"] < 0.5
                              and not result["heavy_modules_imported_by_help"])
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
