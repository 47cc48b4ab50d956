"""Schema 3 keeps why each send ended as it did in a column of its own (``sends.reason``), and
the runner decides by it alone. A store the schema-2 harness wrote is migrated on open: every
row keeps its words and gains its reason, and it reads exactly as that harness read it.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import cast
from zoneinfo import ZoneInfo

import pytest

from harness.channels.base import ChannelAdapter, OutgoingMessage, SentPost
from harness.errors import (
    AccessDenied,
    AuthenticationFailed,
    AwaitingPerson,
    ChannelError,
    Declined,
    NotConfigured,
    OutcomeUnknown,
    RateLimited,
    TransientError,
)
from harness.runner import sending
from harness.runner.limits import Limits
from harness.store.migrations import MIGRATIONS
from harness.store.records import REASONS, SendRecord
from harness.store.sqlite import SCHEMA_VERSION, Store
from tests.oldstores import DATA, columns, reference_columns
from tests.simrun import export_rows

NOW = datetime(2024, 3, 4, 10, 0, tzinfo=UTC)
INTENT = SendRecord("p-1", 0, 2, "intended", NOW, None, None, None, "hello")


@pytest.fixture
def schema_2_folder(tmp_path: Path) -> Path:
    """A run folder holding the store the schema-2 harness wrote (see make_schema_v2_run.py)."""
    folder = tmp_path / "run"
    folder.mkdir()
    db = sqlite3.connect(folder / "run.sqlite")
    db.executescript((DATA / "schema_v2_run.sql").read_text(encoding="utf-8"))
    db.close()
    return folder


def test_the_fixture_is_a_real_schema_2_store(schema_2_folder: Path) -> None:
    db = sqlite3.connect(schema_2_folder / "run.sqlite")
    try:
        assert columns(db) == reference_columns(2)
        (version,) = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        assert version == "2"
    finally:
        db.close()


def test_a_schema_2_store_is_migrated_on_open_and_reads_as_before(schema_2_folder: Path) -> None:
    path = schema_2_folder / "run.sqlite"
    store = Store.open(path)
    try:
        assert store.meta()["schema_version"] == str(SCHEMA_VERSION) == "4"
        reasons = {(s.probe_id, s.attempt): s.reason for s in store.sends()}
        words = {(s.probe_id, s.attempt): s.error for s in store.sends()}
    finally:
        store.close()
    db = sqlite3.connect(path)
    try:
        current = sqlite3.connect(":memory:")
        current.executescript(resources.files("harness.store").joinpath("schema.sql")
                              .read_text(encoding="utf-8"))
        assert columns(db) == columns(current)  # the same columns a new store has
    finally:
        db.close()
    first = {probe: reason for (probe, attempt), reason in reasons.items() if attempt == 1}
    assert first["2024-03-04-bank-1"] == "transient"
    assert first["2024-03-04-mute-1"] == "rate_limited"
    assert first["2024-03-04-fast-1"] == "access_denied"
    assert first["2024-03-04-slow-1"] == "adapter_bug"
    assert first["2024-03-05-mute-1"] == "awaiting_person"
    assert first["2024-03-05-bank-1"] == "declined"
    assert first["2024-03-05-slow-1"] == "outcome_unknown"
    assert first["2024-03-05-fast-1"] == "authentication_failed"
    assert all(reason is None for key, reason in reasons.items() if words[key] is None)
    expected = json.loads((DATA / "schema_v2_run.export.json").read_text(encoding="utf-8"))
    got = json.loads(json.dumps(export_rows(schema_2_folder), sort_keys=True, default=str))
    for row in got:  # the export's one column newer than that harness
        assert row.pop("simulated") is False
    assert got == expected  # every probe reads exactly as the schema-2 harness read it


class _Adapter:
    """Just what `sending.attempt` and `sending.settle` ask of an adapter."""

    def __init__(self, error: Exception | None, can_find_posts: bool = True) -> None:
        self.error, self.can_find_posts = error, can_find_posts

    def send(self, message: OutgoingMessage) -> SentPost:
        assert self.error is not None
        raise self.error

    def find_post(self, message: OutgoingMessage) -> SentPost | None:
        return None


MESSAGE = OutgoingMessage("p-1", 0, "a", "@a", "b", ("@b",), "at", "c", "hello")


def _attempt(error: Exception) -> SendRecord:
    adapter = cast(ChannelAdapter, _Adapter(error, can_find_posts=False))
    return sending.attempt(adapter, MESSAGE, INTENT, NOW)[0]


class _Looking(_Adapter):
    def find_post(self, message: OutgoingMessage) -> SentPost | None:
        if self.error is not None:
            raise self.error
        return None


def _settled(lookup: Exception | None, can_find_posts: bool = True) -> SendRecord:
    return sending.settle(cast(ChannelAdapter, _Looking(lookup, can_find_posts)), MESSAGE,
                          INTENT, NOW)


def _classified(records: list[SendRecord]) -> list[str | None]:
    """What the migration's back-fill makes of each record's words, in a schema-2 table."""
    db = sqlite3.connect(":memory:")
    try:
        db.executescript((DATA / "schema_v2.sql").read_text(encoding="utf-8"))
        db.executemany("INSERT INTO sends (probe_id, step, attempt, state, intended_at, text, "
                       "error) VALUES ('p-1', 0, ?, ?, 't', 'hello', ?)",
                       [(n, r.state, r.error) for n, r in enumerate(records)])
        for statement in MIGRATIONS[2]:
            db.execute(statement)
        return [reason for (reason,) in db.execute("SELECT reason FROM sends ORDER BY attempt")]
    finally:
        db.close()


def test_the_migration_gives_each_old_row_the_reason_the_runner_now_records() -> None:
    """Every reason the code records, made by the code itself, then stripped to its words as
    schema 2 kept them, is read back as the same reason."""
    limits = Limits(1, None, {"b": ZoneInfo("UTC")})
    limits.count("b", NOW)
    cap = limits.refuse("b", NOW)
    assert cap is not None
    records = [
        _attempt(RateLimited("429", NOW + timedelta(minutes=15))),
        _attempt(TransientError("502")),
        _attempt(RuntimeError("bug")),
        _attempt(AuthenticationFailed("401")),
        _attempt(NotConfigured("no token")),
        _attempt(AccessDenied("403")),
        _attempt(AwaitingPerson("not yet", NOW)),
        _attempt(Declined("no")),
        _attempt(OutcomeUnknown("dropped")),
        _settled(None, can_find_posts=False),
        _settled(ChannelError("lookup broke")),
        _settled(None),
        sending.capped(INTENT, cap),
        sending.not_attempted(INTENT, "channel_stopped", NOW),
        sending.not_attempted(INTENT, "channel_rate_limited", NOW),
        sending.resolved(INTENT, None, NOW),
        sending.resolved(INTENT, ("123", NOW), NOW),
    ]
    reasons = [r.reason for r in records]
    # every reason there is, none left out, but those first recorded under schema 3, which
    # no schema-2 store can hold (a stop asked for between two sends of a batch)
    since_schema_3 = {sending.not_attempted(INTENT, "stopping", NOW).reason}
    assert set(reasons) == set(REASONS) - since_schema_3
    assert _classified(records) == reasons
    assert _classified([sending.sent(INTENT, "1", NOW)]) == [None]  # a plain send has none


def test_the_runner_decides_by_the_reason_not_the_words() -> None:
    """Words that look like a transient failure do not make one; the reason does."""
    lookalike = sending.failed(INTENT, "declined", "transient: AuthenticationFailed: x", None,
                               "not_sent")
    assert not sending.counts_as_failure(lookalike)
    assert not sending.stops_channel(lookalike) and not sending.is_channel_failure(lookalike)
    plain = sending.failed(INTENT, "authentication_failed", "the server said no", NOW)
    assert sending.stops_channel(plain) and sending.is_channel_failure(plain)
    assert not sending.counts_as_failure(plain)
    retried = sending.failed(INTENT, "adapter_bug", "", NOW)
    assert sending.counts_as_failure(retried) and not sending.stops_channel(retried)
