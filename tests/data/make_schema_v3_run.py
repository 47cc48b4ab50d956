"""Write a run store as the schema-3 harness wrote it: the small race with objectives and
alerts, stopped half-way (as if killed), so that it can be migrated and resumed.

This made ``schema_v3_run.sql`` (the store, as SQL), ``schema_v3_run.export.json`` (its
export, as that harness gave it) and ``schema_v3_run.simulated-x.jsonl`` (the simulated
platform's journal, which a resumed run reads); ``tests/test_alert_state.py`` migrates the
store, checks it against the export, and resumes the run. It was run once, with the harness
at commit 5c11561 (schema 3) first on the path::

    PYTHONPATH=<checkout of 5c11561> python tests/data/make_schema_v3_run.py OUT_DIR
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

from harness.analysis.outcomes import from_store
from harness.runner.loop import Runner
from harness.session.runs import simulate
from harness.session.scenarios import load_scenario_text
from harness.store.sqlite import Store
from tests.conftest import SMALL

MONITORING = """\
objectives:
  - name: answered
    brands: [mute, fast]
    indicator: {kind: response_rate}
    target: 50%
    min_probes: 3
alerts:
  urls: [{env: SHOPPER_TEST_ALERT_URL}]
"""
TEXT = SMALL + MONITORING
TICKS = 50  # a little under half of the run's 113 passes


def main(out: Path) -> None:
    folder = out / "run"
    scenario = load_scenario_text(TEXT, "watch.yaml")

    def stop_half_way(runner: Runner) -> None:
        ticks = [0]

        def count(**_: object) -> None:
            ticks[0] += 1
            if ticks[0] >= TICKS:
                runner.stop_requested = True

        runner.events.tick.add_listener(count)

    result = simulate(scenario, folder, source=TEXT, source_name="watch.yaml",
                      on_runner=stop_half_way)
    assert not result.finished and result.sent
    store = Store.open(folder / "run.sqlite")
    try:
        assert store.meta()["schema_version"] == "3"
        rows = [o.row(ZoneInfo("UTC")) for o in from_store(store)]
    finally:
        store.close()
    db = sqlite3.connect(folder / "run.sqlite")
    dump = "\n".join(db.iterdump()) + "\n"
    db.close()
    (out / "schema_v3_run.sql").write_text(dump, encoding="utf-8")
    exported = json.dumps(rows, indent=1, sort_keys=True, default=str) + "\n"
    (out / "schema_v3_run.export.json").write_text(exported, encoding="utf-8")
    journal = (folder / "simulated-x.jsonl").read_text(encoding="utf-8")
    (out / "schema_v3_run.simulated-x.jsonl").write_text(journal, encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
