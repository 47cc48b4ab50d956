"""Schema 4 keeps the alerts' memory in the run's store: each objective's alert state per
brand, and every notification with its delivery. A store the schema-3 harness wrote is
migrated on open and keeps every row; the run it holds resumes and alerts as if it had always
had them."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from importlib import resources
from pathlib import Path

import pytest

from harness.session.runs import simulate
from harness.session.scenarios import load_scenario_text
from harness.store.alerts import (
    AlertState,
    NewNotification,
    alert_states,
    last_checked,
    notifications,
    record_delivery,
    record_round,
)
from harness.store.sqlite import SCHEMA_VERSION, Store
from tests.fakes.webhook import Webhook
from tests.oldstores import DATA, columns, reference_columns
from tests.simrun import export_rows

OLD_TABLES = ("meta", "probes", "sends", "replies", "cursors", "channel_health")
T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def schema_3_folder(tmp_path: Path) -> Path:
    """A run folder as the schema-3 harness left it, stopped half-way (see
    ``tests/data/make_schema_v3_run.py``): its store and its simulated platform's journal."""
    folder = tmp_path / "run"
    folder.mkdir()
    db = sqlite3.connect(folder / "run.sqlite")
    db.executescript((DATA / "schema_v3_run.sql").read_text(encoding="utf-8"))
    db.close()
    journal = (DATA / "schema_v3_run.simulated-x.jsonl").read_text(encoding="utf-8")
    (folder / "simulated-x.jsonl").write_text(journal, encoding="utf-8")
    return folder


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.stop()


def _rows(path: Path, tables: tuple[str, ...] = OLD_TABLES) -> dict[str, list[tuple[object, ...]]]:
    db = sqlite3.connect(path)
    try:
        return {table: db.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
                for table in tables}
    finally:
        db.close()


def test_the_fixture_is_a_real_schema_3_store(schema_3_folder: Path) -> None:
    db = sqlite3.connect(schema_3_folder / "run.sqlite")
    try:
        assert columns(db) == reference_columns(3)
        (version,) = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        assert version == "3"
        assert db.execute("SELECT COUNT(*) FROM replies").fetchone()[0] > 0
    finally:
        db.close()


def test_a_schema_3_store_is_migrated_on_open_and_keeps_every_row(schema_3_folder: Path) -> None:
    path = schema_3_folder / "run.sqlite"
    before = _rows(path)
    store = Store.open(path)
    try:
        assert store.meta()["schema_version"] == str(SCHEMA_VERSION) == "4"
        assert alert_states(store) == {} and notifications(store) == []
        assert last_checked(store) is None
    finally:
        store.close()
    after = _rows(path)
    before["meta"] = [row for row in before["meta"] if row[0] != "schema_version"]
    after["meta"] = [row for row in after["meta"] if row[0] != "schema_version"]
    assert after == before  # every row of every table, unchanged
    db = sqlite3.connect(path)
    try:
        current = sqlite3.connect(":memory:")
        current.executescript(resources.files("harness.store").joinpath("schema.sql")
                              .read_text(encoding="utf-8"))
        assert columns(db) == columns(current)  # the same tables and columns a new store has
    finally:
        db.close()
    expected = json.loads((DATA / "schema_v3_run.export.json").read_text(encoding="utf-8"))
    got = json.loads(json.dumps(export_rows(schema_3_folder), sort_keys=True, default=str))
    assert got == expected  # every probe reads exactly as the schema-3 harness read it


def test_a_migrated_run_resumes_and_announces_its_breach_once(
        schema_3_folder: Path, webhook: Webhook, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPPER_TEST_ALERT_URL", webhook.url())
    store = Store.open(schema_3_folder / "run.sqlite")
    source = store.meta()["scenario_yaml"]
    store.close()
    scenario = load_scenario_text(source, "watch.yaml")
    said: list[str] = []
    result = simulate(scenario, schema_3_folder, source=source, source_name="watch.yaml",
                      say=said.append)
    assert result.finished, said
    # Mute Inc never answers; Fast Co answers few of its name-mode week-2 messages: each
    # fails once and stays failing, each announced once.
    assert sorted(webhook.titles()) == ["SIMULATED FAILING: answered / Fast Co [small-race]",
                                        "SIMULATED FAILING: answered / Mute Inc [small-race]"]
    store = Store.open(schema_3_folder / "run.sqlite")
    try:
        states = alert_states(store)
        assert {key: s.state for key, s in states.items()} == {
            ("answered", "mute"): "failing", ("answered", "fast"): "failing"}
        assert all(s.breach_since is not None for s in states.values())
        assert sorted((n.kind, n.brand, n.delivered, n.attempts)
                      for n in notifications(store)) == [
            ("breach", "fast", True, 1), ("breach", "mute", True, 1)]
    finally:
        store.close()
    simulate(scenario, schema_3_folder, source=source, say=said.append)  # finished: nothing
    assert len(webhook.posts) == 2


def _state(objective: str, brand: str, at: datetime, **changes: object) -> AlertState:
    fields: dict[str, object] = {"state": "failing", "since": at, "breach_since": at,
                                 "last_notified_at": at, **changes}
    return AlertState(objective, brand, checked_at=at, **fields)  # type: ignore[arg-type]


def test_states_and_notifications_read_back_as_written(tmp_path: Path,
                                                       small_text: str) -> None:
    folder = tmp_path / "run"
    simulate(load_scenario_text(small_text, "small.yaml"), folder, say=lambda _: None)
    store = Store.open(folder / "run.sqlite")
    try:
        local = T0.astimezone(timezone(timedelta(hours=2)))  # written in UTC all the same
        first = _state("answered", "mute", local)
        ok = _state("answered", "fast", T0, state="ok", breach_since=None,
                    last_notified_at=None)
        stored = record_round(store, [first, ok], [
            NewNotification("answered", "mute", "breach", T0, "FAILING", "text\nlines")])
        assert [n.id for n in stored] == [1]
        assert alert_states(store) == {("answered", "fast"): ok, ("answered", "mute"): first}
        assert last_checked(store) == T0
        later = _state("answered", "mute", T0 + timedelta(hours=1), since=T0, breach_since=T0)
        again = record_round(store, [later], [
            NewNotification("answered", "mute", "reminder", later.checked_at, "STILL", "t")])
        assert [n.id for n in again] == [2]
        assert alert_states(store)["answered", "mute"] == later  # updated in place
        assert last_checked(store) == T0 + timedelta(hours=1)
        record_delivery(store, replace(stored[0], attempts=3, delivered_to=(0,),
                                       last_error="destination 1 (json): refused"))
        record_delivery(store, replace(again[0], attempts=1, delivered_to=(0, 1),
                                       delivered_at=later.checked_at))
        everything = notifications(store)
        assert [(n.id, n.kind, n.attempts, n.delivered_to, n.delivered) for n in everything] == [
            (1, "breach", 3, (0,), False), (2, "reminder", 1, (0, 1), True)]
        assert everything[0].text == "text\nlines"
        assert everything[0].last_error == "destination 1 (json): refused"
        assert [n.id for n in notifications(store, undelivered=True)] == [1]
        # times are kept in UTC, so the latest moment judged is the latest as text too
        raw = store.db.execute("SELECT since FROM alert_state WHERE brand = 'mute'")
        assert raw.fetchone()[0] == "2027-03-01T09:00:00+00:00"
    finally:
        store.close()
