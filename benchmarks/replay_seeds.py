"""The shipped 2013 replay over many seeds: does every report build, and is every JSON file it
writes strict JSON? (Not a timing: a sweep over outcomes a user can meet by changing --seed.)

Usage: python benchmarks/replay_seeds.py [--seeds N] [--first S]

Each seed is simulated in process and its whole report built (page, poster, charts, CSV,
summary.json). Prints JSON: seeds tried, reports built, failures (seed and error), seeds whose
name-only weeks got 0 replies (the edge that used to crash the report), and wall time.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "great-race-2013.yaml"


def _strict(path: Path) -> None:
    def refuse(constant: str) -> None:
        raise ValueError(f"{path.name} holds {constant}")

    json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)


def main() -> None:
    from harness.report.build import build_report
    from harness.session.runs import simulate
    from harness.session.scenarios import load_scenario
    from harness.store.sqlite import Store

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--first", type=int, default=1)
    options = parser.parse_args()
    scenario = load_scenario(SCENARIO)
    failures: list[dict[str, object]] = []
    zero_name_weeks = built = 0
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        for seed in range(options.first, options.first + options.seeds):
            folder = Path(scratch) / f"seed{seed}"
            try:
                simulate(scenario.model_copy(update={"seed": seed}), folder)
                store = Store.open(folder / "run.sqlite")
                try:
                    files = build_report(store, folder / "report")
                finally:
                    store.close()
                for path in folder.rglob("*.json"):
                    _strict(path)
                summary = json.loads(files.summary.read_text(encoding="utf-8"))
                names = [g for g in summary["groups"]["mention"] if g["group"] == "name"]
                zero_name_weeks += bool(names and names[0]["k"] == 0)
                built += 1
            except Exception as exc:  # a sweep reports every failure, it does not stop
                failures.append({"seed": seed, "error": f"{type(exc).__name__}: {exc}"[:300]})
            failed = bool(failures) and failures[-1]["seed"] == seed
            print(f"seed {seed}: {'FAILED' if failed else 'ok'}", file=sys.stderr)
    print(json.dumps({"seeds": options.seeds, "reports_built": built,
                      "failures": failures, "seeds_with_0_replies_in_name_weeks":
                      zero_name_weeks, "wall_s": round(time.perf_counter() - started, 1)},
                     indent=2))


if __name__ == "__main__":
    main()
