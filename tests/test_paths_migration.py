"""Migration rollback: a store from an older harness (schema 1) whose migration fails half-way
is left exactly as it was (schema version 1, the same tables, every row), the failure is
reported as the store's error (exit 2 from the CLI, one line, no traceback), and once the
obstacle is gone the same store migrates and reads as before.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import RunFolderError
from harness.scenario.model import Scenario
from harness.store import migrations
from harness.store.sqlite import SCHEMA_VERSION, Store
from tests.conftest import ROOT
from tests.fakes.terminal import harness_env
from tests.oldstores import as_schema
from tests.simrun import export_rows, run_in_process

V1_SCHEMA = ROOT / "tests" / "data" / "schema_v1.sql"
# a second statement that fails after the first (CREATE TABLE channel_health) worked
FAILING = "INSERT INTO channel_health (channel) VALUES ('x')"
NOT_NULL = "NOT NULL constraint failed: channel_health.failures"
READ_ONLY_META = ("CREATE TRIGGER meta_is_read_only BEFORE UPDATE ON meta "
                  "BEGIN SELECT RAISE(ABORT, 'meta is read-only'); END")


def _tables(db: sqlite3.Connection) -> set[str]:
    return {name for (name,) in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}


def _dump(path: Path) -> list[str]:
    """Everything in the store, schema and rows, as SQL (read by a connection of its own)."""
    db = sqlite3.connect(path)
    try:
        return list(db.iterdump())
    finally:
        db.close()


def _version(path: Path) -> str:
    db = sqlite3.connect(path)
    try:
        (value,) = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return str(value)
    finally:
        db.close()


@pytest.fixture
def old_store(small_scenario: Scenario, tmp_path: Path) -> tuple[Path, list[dict[str, object]]]:
    """A finished run folder whose store is as harness 0.1 (schema 1) wrote it, and its
    export as the current harness gave it before the store was turned back."""
    folder = tmp_path / "run"
    assert run_in_process(small_scenario, folder)
    rows = export_rows(folder)
    as_schema(folder / "run.sqlite", 1, SCHEMA_VERSION)  # exactly schema 1's tables, columns
    return folder, rows


def test_a_migration_failing_after_its_first_statement_leaves_the_store_as_it_was(
        old_store: tuple[Path, list[dict[str, object]]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    folder, rows = old_store
    path = folder / "run.sqlite"
    before = _dump(path)
    monkeypatch.setitem(migrations.MIGRATIONS, 1, (*migrations.MIGRATIONS[1], FAILING))
    with pytest.raises(RunFolderError) as raised:
        Store.open(path)
    assert str(raised.value) == (f"{path}: could not bring the store from schema 1 to "
                                 f"{SCHEMA_VERSION} ({NOT_NULL})")
    assert _dump(path) == before  # not even the table the first statement made
    assert _version(path) == "1"
    assert not (folder / "run.sqlite-journal").exists()
    monkeypatch.undo()
    store = Store.open(path)  # nothing was left half-done: the real migration works
    try:
        assert store.meta()["schema_version"] == str(SCHEMA_VERSION)
        assert store.channel_health() == {}
    finally:
        store.close()
    assert export_rows(folder) == rows


def test_the_cli_reports_a_failed_migration_in_one_line_and_changes_nothing(
        old_store: tuple[Path, list[dict[str, object]]], small_file: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    folder, _ = old_store
    path = folder / "run.sqlite"
    before = _dump(path)
    monkeypatch.setitem(migrations.MIGRATIONS, 1, (*migrations.MIGRATIONS[1], FAILING))
    expected = (f"shopper: {path}: could not bring the store from schema 1 to "
                f"{SCHEMA_VERSION} ({NOT_NULL})\n")
    for command in (["status", str(folder)], ["export", str(folder)],
                    ["report", str(folder), "--out", str(folder.parent / "report")],
                    ["run", str(small_file), "--simulate", "-q", "--out", str(folder)]):
        assert main(command) == 2, command
        captured = capsys.readouterr()
        assert (captured.out, captured.err) == ("", expected), command
        assert _dump(path) == before, command
    assert not (folder.parent / "report").exists()


def test_a_store_whose_own_contents_break_the_migration_is_refused_cleanly_by_the_cli(
        old_store: tuple[Path, list[dict[str, object]]]) -> None:
    folder, rows = old_store
    path = folder / "run.sqlite"
    db = sqlite3.connect(path)
    db.execute(READ_ONLY_META)  # the migration's CREATE TABLE works, its UPDATE of meta fails
    db.commit()
    db.close()
    before = _dump(path)
    result = subprocess.run([sys.executable, "-m", "harness", "status", str(folder)],
                            capture_output=True, text=True, timeout=60, env=harness_env(),
                            cwd=folder.parent)
    assert (result.returncode, result.stdout, result.stderr) == (
        2, "", f"shopper: {path}: could not bring the store from schema 1 to "
               f"{SCHEMA_VERSION} (meta is read-only)\n")
    assert _dump(path) == before
    assert "channel_health" not in _tables(sqlite3.connect(path))
    assert _version(path) == "1"
    db = sqlite3.connect(path)
    db.execute("DROP TRIGGER meta_is_read_only")
    db.commit()
    db.close()
    assert main(["status", str(folder)]) == 0  # the obstacle gone, it migrates
    assert _version(path) == str(SCHEMA_VERSION)
    assert export_rows(folder) == rows


def test_the_error_names_the_real_cause_even_when_sqlite_rolled_back_by_itself(
        old_store: tuple[Path, list[dict[str, object]]]) -> None:
    folder, _ = old_store
    path = folder / "run.sqlite"
    db = sqlite3.connect(path)
    db.execute(READ_ONLY_META.replace("RAISE(ABORT", "RAISE(ROLLBACK"))
    db.commit()
    db.close()
    before = _dump(path)
    with pytest.raises(RunFolderError) as raised:
        Store.open(path)
    assert _dump(path) == before  # the store is safe either way
    assert "meta is read-only" in str(raised.value)
