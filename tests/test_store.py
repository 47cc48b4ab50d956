"""The store across harness versions: older stores are migrated, newer ones refused, and a
run folder made by an older harness resumes; channel health is recorded and shown."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import RunFolderError, TransientError
from harness.runner.loop import Runner
from harness.scenario.model import Scenario
from harness.session.runs import simulate
from harness.store.sqlite import SCHEMA_VERSION, Store

from .conftest import ROOT
from .oldstores import as_schema
from .simrun import export_rows, run_in_process

V1_SCHEMA = ROOT / "tests" / "data" / "schema_v1.sql"


def _tables(db: sqlite3.Connection) -> set[str]:
    return {row[0] for row in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}


def _as_version_1(store_path: Path) -> None:
    """Turn a current store into what harness 0.1 (schema 1) wrote."""
    as_schema(store_path, 1, SCHEMA_VERSION)  # exactly the tables and columns schema 1 had
    db = sqlite3.connect(store_path)
    db.execute("UPDATE meta SET value = '0.1.0' WHERE key = 'harness_version'")
    db.execute("UPDATE meta SET value = 'fingerprint-of-0.1' WHERE key = 'scenario_hash'")
    db.commit()
    db.close()


def test_a_store_from_schema_1_is_migrated_and_reads_the_same(
        small_scenario: Scenario, tmp_path: Path) -> None:
    folder = tmp_path / "run"
    assert run_in_process(small_scenario, folder)
    before = export_rows(folder)
    _as_version_1(folder / "run.sqlite")
    store = Store.open(folder / "run.sqlite")
    try:
        assert store.meta()["schema_version"] == str(SCHEMA_VERSION)
        assert store.channel_health() == {}
    finally:
        store.close()
    assert export_rows(folder) == before


def test_a_run_folder_made_by_an_older_harness_resumes_with_the_same_file(
        small_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "run"
    assert main(["run", str(small_file), "--simulate", "-q", "--out", str(folder)]) == 0
    _as_version_1(folder / "run.sqlite")
    db = sqlite3.connect(folder / "run.sqlite")
    db.execute("DELETE FROM meta WHERE key = 'finished_at'")  # as if it had been stopped
    db.commit()
    db.close()
    assert main(["run", str(small_file), "--simulate", "-q", "--out", str(folder)]) == 0
    assert "finished" in capsys.readouterr().err
    changed = small_file.read_text(encoding="utf-8").replace("seed: 7", "seed: 8")
    small_file.write_text(changed, encoding="utf-8")
    assert main(["run", str(small_file), "--simulate", "-q", "--out", str(folder)]) == 2
    assert "differs from this one" in capsys.readouterr().err


def test_a_store_from_a_newer_harness_is_refused(small_scenario: Scenario,
                                                 tmp_path: Path) -> None:
    folder = tmp_path / "run"
    assert run_in_process(small_scenario, folder)
    db = sqlite3.connect(folder / "run.sqlite")
    db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    with pytest.raises(RunFolderError, match="schema 99 is newer than this harness"):
        Store.open(folder / "run.sqlite")


@pytest.mark.slow
def test_a_channel_failing_again_and_again_is_reported_degraded_then_recovered(
        small_scenario: Scenario, small_file: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    from harness.channels.simulated import SimulatedChannel

    outage: dict[str, object] = {}

    class Flaky(SimulatedChannel):
        """Polls fail for six hours on the second day."""

        def poll(self, cursor: str | None):  # type: ignore[no-untyped-def]
            now = self.context.clock.now()
            start = outage.setdefault("start", now + timedelta(days=1))
            assert isinstance(start, type(now))
            if start <= now < start + timedelta(hours=6):
                raise TransientError("503 service unavailable")
            return super().poll(cursor)

    folder = tmp_path / "run"
    assert run_in_process(small_scenario, folder, adapter=Flaky, stop_after_ticks=None)
    store = Store.open(folder / "run.sqlite")
    try:
        health = store.channel_health()["x"]
    finally:
        store.close()
    assert not health.degraded and health.total_failures >= 3  # recovered, failures counted
    assert main(["status", str(folder)]) == 0
    assert "x: ok now" in capsys.readouterr().out

    stopped = tmp_path / "stopped"  # stopped in the middle of the outage: degraded
    runners: list[Runner] = []
    failures = {"n": 0}

    class StopInOutage(Flaky):
        def poll(self, cursor: str | None):  # type: ignore[no-untyped-def]
            try:
                return super().poll(cursor)
            except TransientError:
                failures["n"] += 1
                if failures["n"] >= 3:
                    runners[0].stop_requested = True
                raise

    outage.clear()
    assert not simulate(small_scenario, stopped, adapter=StopInOutage,
                        on_runner=runners.append).finished
    assert main(["status", str(stopped)]) == 0
    out = capsys.readouterr().out
    assert "DEGRADED:   channel x: 3 failures in a row" in out
    assert main(["report", str(stopped)]) == 0
    page = (stopped / "report" / "report.html").read_text(encoding="utf-8")
    assert "Channel x is degraded" in page
