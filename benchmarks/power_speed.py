"""How fast `shopper power` draws the 2013 replay, beside one run of the real runner.

Usage: python benchmarks/power_speed.py [--replicates N]

Times ``power_analysis`` (plan, model, draws and every verdict) on
scenarios/great-race-2013.yaml for N replicates (default 10,000) in-process, after a warm-up
that imports numpy and scipy, and, as the peer, one real simulated run of the same scenario
(``harness.session.runs.simulate``: plan, store, the four-week race on a virtual clock) in a
temporary folder. Prints JSON. Target: 10,000 replicates in under 10 s on the 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from harness.analysis.power import power_analysis
from harness.session.runs import simulate
from harness.session.scenarios import load_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "great-race-2013.yaml"
TARGET_S = 10.0


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--replicates", type=int, default=10_000)
    replicates = parser.parse_args().replicates
    scenario = load_scenario(SCENARIO)
    power_analysis(scenario, 10)  # imports and caches, not the work
    print(f"drawing {replicates:,} replicates...", file=sys.stderr)
    started = time.perf_counter()
    result = power_analysis(scenario, replicates)
    wall = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        run = simulate(scenario, Path(scratch) / "run", say=lambda _: None)
        runner_s = time.perf_counter() - started
    print(json.dumps({
        "scenario": SCENARIO.name, "probes": result.probes, "replicates": replicates,
        "wall_s": round(wall, 3), "replicates_per_s": round(replicates / wall, 1),
        "target_s": TARGET_S, "meets_target": wall < TARGET_S,
        "runner_one_run_s": round(runner_s, 3), "runner_sent": run.sent,
        "replicates_per_runner_run": round(runner_s / (wall / replicates), 1),
    }, indent=2))


if __name__ == "__main__":
    main()
