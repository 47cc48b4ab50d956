"""How long `shopper report` takes: for the 280-probe 2013 race and for a 100,000-probe run.

Usage: python benchmarks/report_speed.py [--brands N] [--skip-large]

Simulates the 2013 replay and (unless --skip-large) the 5,000-brand scenario of
race_100k.py, then times building the whole report (summary, charts, HTML, poster, CSV) of
each in-process. Prints JSON. Targets: under 3 s for the race, under 20 s for 100,000 probes.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from race_100k import scenario_yaml

from harness.report.build import build_report
from harness.session.runs import simulate
from harness.session.scenarios import load_scenario, load_scenario_text
from harness.store.sqlite import Store

ROOT = Path(__file__).resolve().parent.parent


def _time_report(folder: Path) -> float:
    store = Store.open(folder / "run.sqlite")
    try:
        started = time.perf_counter()
        build_report(store, folder / "report")
        return time.perf_counter() - started
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--brands", type=int, default=5000)
    parser.add_argument("--skip-large", action="store_true")
    args = parser.parse_args()
    result: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as scratch:
        race = Path(scratch) / "race"
        simulate(load_scenario(ROOT / "scenarios" / "great-race-2013.yaml"), race)
        result["race_280_report_s"] = round(_time_report(race), 3)
        result["race_target_s"] = 3.0
        if not args.skip_large:
            large = Path(scratch) / "large"
            simulate(load_scenario_text(scenario_yaml(args.brands), "large.yaml"), large)
            result["probes"] = args.brands * 20
            result["large_report_s"] = round(_time_report(large), 3)
            result["large_target_s"] = 20.0
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
