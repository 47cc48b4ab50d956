"""The embedded store: one SQLite file per run, in WAL mode.

The runner's writes go through :meth:`Store.write`, one transaction per batch; a resumed
simulated run continues from the last moment the store saw the runner act. Live runs
commit with ``synchronous=FULL`` (durable across power loss); simulated runs use ``OFF``, which
survives a killed process (the crash a simulation guards against) at a fraction of the cost.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

from harness.errors import RunFolderError
from harness.plan.probe import FollowUpStep, Probe
from harness.store.migrations import migrate, rollback
from harness.store.records import ChannelHealth, ReplyRecord, SendRecord, WriteBatch

SCHEMA_VERSION = 4
STORE_FILE = "run.sqlite"


_last_ts: list[object] = [None, None]  # the runner writes the same moment many times a pass


def _ts(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment != _last_ts[0]:
        _last_ts[:] = [moment, moment.astimezone(UTC).isoformat()]
    return _last_ts[1]  # type: ignore[return-value]


def _follow_ups_json(probe: Probe) -> str:
    if not probe.follow_ups:
        return "[]"
    return json.dumps([step._asdict() for step in probe.follow_ups], ensure_ascii=False)


def _dt(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


class Store:
    """A run's records: scenario snapshot, plan, sends, replies, cursors."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self.db = connection
        self.path = path
        self._plan: list[Probe] | None = None  # only ever extended (extend_plan)

    # -- opening -----------------------------------------------------------------------

    @classmethod
    def create(cls, path: Path, *, meta: dict[str, str], probes: Sequence[Probe],
               durable: bool = True) -> Store:
        """Create a new store holding the plan; fails if ``path`` exists."""
        if path.exists():
            raise RunFolderError(f"{path} already exists")
        store = cls(_connect(path, durable), path)
        store._plan = list(probes)
        schema = resources.files("harness.store").joinpath("schema.sql").read_text("utf-8")
        with store.transaction():
            for statement in schema.split(";"):
                if statement.strip():
                    store.db.execute(statement)
            store.db.executemany("INSERT INTO meta (key, value) VALUES (?, ?)",
                                 [*meta.items(), ("schema_version", str(SCHEMA_VERSION))])
            store._insert_probes(probes)
        return store

    def _insert_probes(self, probes: Sequence[Probe]) -> None:
        self.db.executemany(
            "INSERT INTO probes (probe_id, seq, persona, brand, industry, channel, category,"
            " mention, week, day, scheduled_at, text, follow_ups)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(p.probe_id, p.seq, p.persona, p.brand, p.industry, p.channel, p.category,
              p.mention, p.week, p.day, _ts(p.scheduled_at), p.text, _follow_ups_json(p))
             for p in probes],
        )

    @classmethod
    def open(cls, path: Path, *, durable: bool = True) -> Store:
        """Open an existing store, checking it is one of ours and undamaged."""
        if not path.is_file():
            raise RunFolderError(f"{path}: no run store here")
        try:
            store = cls(_connect(path, durable), path)
        except sqlite3.DatabaseError as exc:
            raise RunFolderError(f"{path}: not a readable run store ({exc})") from None
        try:
            store._check_and_migrate(path)
        except BaseException:
            store.close()  # a store refused is not left open
            raise
        return store

    def _check_and_migrate(self, path: Path) -> None:
        try:
            version = self.db.execute(
                "SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            check = self.db.execute("PRAGMA quick_check").fetchone()
        except sqlite3.DatabaseError as exc:
            raise RunFolderError(f"{path}: not a readable run store ({exc})") from None
        if check is None or check[0] != "ok":
            raise RunFolderError(f"{path}: the store is damaged ({check[0] if check else '?'})")
        if version is None or not str(version[0]).isdigit():
            raise RunFolderError(f"{path}: not a run store (no schema version)")
        if int(version[0]) > SCHEMA_VERSION:
            raise RunFolderError(f"{path}: store schema {version[0]} is newer than this "
                                 f"harness understands ({SCHEMA_VERSION}); upgrade shopper")
        if int(version[0]) < SCHEMA_VERSION:
            try:
                migrate(self.db, int(version[0]), SCHEMA_VERSION)
            except sqlite3.DatabaseError as exc:
                raise RunFolderError(f"{path}: could not bring the store from schema "
                                     f"{version[0]} to {SCHEMA_VERSION} ({exc})") from None

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    def reopen(self, path: Path, *, durable: bool = True) -> Store:
        """This store, moved to ``path`` after :meth:`close`; keeps what it knew of the plan."""
        store = Store.open(path, durable=durable)
        store._plan = self._plan
        return store

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit of work."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            rollback(self.db)
            raise
        self.db.execute("COMMIT")

    def write(self, batch: WriteBatch) -> None:
        """Commit everything in ``batch`` in one transaction, in this order: outcomes of
        earlier sends, polls (replies with the cursor that produced them), closes, and the
        intents of sends about to be made."""
        if not batch:
            return
        with self.transaction() as db:
            if batch.outcomes:
                db.executemany(
                    "UPDATE sends SET state = ?, sent_at = ?, platform_id = ?, error = ?,"
                    " retry_at = ?, reason = ? WHERE probe_id = ? AND step = ? AND attempt = ?",
                    [(s.state, _ts(s.sent_at), s.platform_id, s.error, _ts(s.retry_at),
                      s.reason, s.probe_id, s.step, s.attempt) for s in batch.outcomes])
            for channel, replies, cursor, polled_at in batch.polls:
                db.executemany(
                    "INSERT INTO replies (channel, platform_id, probe_id, step, matched_by,"
                    " author, from_brand, kind, automated, text, created_at, received_at,"
                    " in_reply_to, raw) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (channel, platform_id) DO NOTHING",
                    [(r.channel, r.platform_id, r.probe_id, r.step, r.matched_by, r.author,
                      int(r.from_brand), r.kind, int(r.automated), r.text, _ts(r.created_at),
                      _ts(r.received_at), r.in_reply_to, r.raw) for r in replies])
                db.execute(
                    "INSERT INTO cursors (channel, cursor, polled_at) VALUES (?, ?, ?)"
                    " ON CONFLICT (channel) DO UPDATE SET cursor = excluded.cursor,"
                    " polled_at = excluded.polled_at", (channel, cursor, _ts(polled_at)))
            if batch.closes:
                db.executemany("UPDATE probes SET closed_at = ? WHERE probe_id = ?",
                               [(_ts(at), pid) for pid, at in batch.closes])
            if batch.health:
                db.executemany(
                    "INSERT INTO channel_health (channel, failures, since, last_error,"
                    " total_failures, updated_at) VALUES (?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (channel) DO UPDATE SET failures = excluded.failures,"
                    " since = excluded.since, last_error = excluded.last_error,"
                    " total_failures = excluded.total_failures,"
                    " updated_at = excluded.updated_at",
                    [(h.channel, h.failures, _ts(h.since), h.last_error, h.total_failures,
                      _ts(h.updated_at)) for h in batch.health.values()])
            if batch.intents:
                db.executemany(
                    "INSERT INTO sends (probe_id, step, attempt, state, intended_at,"
                    " platform_id, in_reply_to, text) VALUES (?, ?, ?, 'intended', ?, ?, ?, ?)",
                    [(s.probe_id, s.step, s.attempt, _ts(s.intended_at), s.platform_id,
                      s.in_reply_to, s.text) for s in batch.intents])
        batch.clear()

    def last_activity(self) -> datetime | None:
        """The latest moment the runner recorded acting at (a send intended, a poll, a
        close): where a resumed virtual clock starts."""
        row = self.db.execute(
            "SELECT MAX(t) FROM (SELECT MAX(intended_at) AS t FROM sends"
            " UNION ALL SELECT MAX(polled_at) FROM cursors"
            " UNION ALL SELECT MAX(closed_at) FROM probes) AS times").fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    # -- meta ------------------------------------------------------------------------------

    def meta(self) -> dict[str, str]:
        """All metadata: scenario name, hash and snapshot, seed, clock, finished_at..."""
        return dict(self.db.execute("SELECT key, value FROM meta").fetchall())

    def clear_meta(self, key: str) -> None:
        """Remove one metadata value (nothing happens if it is not set)."""
        with self.transaction():
            self.db.execute("DELETE FROM meta WHERE key = ?", (key,))

    def set_meta(self, key: str, value: str) -> None:
        """Set one metadata value."""
        with self.transaction():
            self.db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key)"
                            " DO UPDATE SET value = excluded.value", (key, value))

    # -- the plan --------------------------------------------------------------------------

    def first_scheduled_at(self) -> datetime | None:
        """When the first probe is due."""
        row = self.db.execute("SELECT MIN(scheduled_at) FROM probes").fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def extend_plan(self, probes: Sequence[Probe], meta: dict[str, str]) -> None:
        """Add ``probes`` (due after every stored one) to the plan, and set ``meta``, in one
        transaction: a repeating schedule's plan grows as its run goes on."""
        with self.transaction():
            self._insert_probes(probes)
            self.db.executemany("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key)"
                                " DO UPDATE SET value = excluded.value", list(meta.items()))
        if self._plan is not None:  # a new list: whoever holds the old one keeps it as it was
            self._plan = [*self._plan, *probes]

    def probes(self) -> list[Probe]:
        """The plan, in send order."""
        if self._plan is None:
            self._plan = self._read_plan()
        return self._plan

    def _read_plan(self) -> list[Probe]:
        rows = self.db.execute(
            "SELECT probe_id, seq, persona, brand, industry, channel, category, mention, week,"
            " day, scheduled_at, text, follow_ups FROM probes ORDER BY seq").fetchall()
        return [
            Probe(probe_id=r[0], seq=r[1], persona=r[2], brand=r[3], industry=r[4], channel=r[5],
                  category=r[6], mention=r[7], week=r[8], day=r[9],
                  scheduled_at=datetime.fromisoformat(r[10]), text=r[11],
                  follow_ups=tuple(FollowUpStep(**f) for f in json.loads(r[12])))
            for r in rows
        ]

    def closed(self) -> dict[str, datetime]:
        """When each closed probe's observation window ended."""
        return {pid: datetime.fromisoformat(at) for pid, at in self.db.execute(
            "SELECT probe_id, closed_at FROM probes WHERE closed_at IS NOT NULL")}

    # -- sends -----------------------------------------------------------------------------

    def sends(self) -> list[SendRecord]:
        """Every send attempt, in the order they were intended."""
        rows = self.db.execute(
            "SELECT probe_id, step, attempt, state, intended_at, sent_at, platform_id,"
            " in_reply_to, text, error, retry_at, reason FROM sends"
            " ORDER BY intended_at, probe_id, step, attempt")
        return [SendRecord(r[0], r[1], r[2], r[3], datetime.fromisoformat(r[4]), _dt(r[5]),
                           r[6], r[7], r[8], r[9], _dt(r[10]), r[11]) for r in rows]

    # -- replies and cursors -----------------------------------------------------------------

    def replies(self) -> list[ReplyRecord]:
        """Every stored reply, oldest first."""
        rows = self.db.execute(
            "SELECT channel, platform_id, probe_id, step, matched_by, author, from_brand, kind,"
            " automated, text, created_at, received_at, in_reply_to, raw FROM replies"
            " ORDER BY created_at, channel, platform_id")
        return [ReplyRecord(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]), r[7], bool(r[8]),
                            r[9], datetime.fromisoformat(r[10]), datetime.fromisoformat(r[11]),
                            r[12], r[13]) for r in rows]

    def counts(self) -> dict[str, int]:
        """Probes planned, first messages sent, and probes answered: with a brand reply (not
        automatic) within the observation window, as the export's ``responded`` counts."""
        planned = self.db.execute("SELECT COUNT(*) FROM probes").fetchone()[0]
        sent_at = {pid: datetime.fromisoformat(at) for pid, at in self.db.execute(
            "SELECT probe_id, sent_at FROM sends WHERE step = 0 AND state = 'sent'")}
        window = timedelta(seconds=int(self.meta().get("observation_window_s", "0")))
        answered = {pid for pid, at in self.db.execute(
            "SELECT probe_id, MIN(created_at) FROM replies WHERE from_brand = 1"
            " AND automated = 0 AND probe_id IS NOT NULL GROUP BY probe_id")
            if pid in sent_at and datetime.fromisoformat(at) <= sent_at[pid] + window}
        return {"planned": planned, "sent": len(sent_at), "answered": len(answered)}

    def channel_health(self) -> dict[str, ChannelHealth]:
        """Per channel that ever failed: its current run of failures and its total."""
        return {r[0]: ChannelHealth(r[0], r[1], _dt(r[2]), r[3], r[4],
                                    datetime.fromisoformat(r[5]))
                for r in self.db.execute(
                    "SELECT channel, failures, since, last_error, total_failures, updated_at"
                    " FROM channel_health ORDER BY channel")}

    def cursors(self) -> dict[str, tuple[str | None, datetime]]:
        """Per channel: the last cursor and when it was polled."""
        return {ch: (cur, datetime.fromisoformat(at)) for ch, cur, at in
                self.db.execute("SELECT channel, cursor, polled_at FROM cursors")}


def _connect(path: Path, durable: bool) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, timeout=10.0)
    connection.execute("PRAGMA journal_mode = WAL")
    # FULL: a commit survives power loss. OFF: it survives a killed process (only an OS
    # crash can lose it), which is all a simulated run, with nothing real at stake, needs.
    connection.execute(f"PRAGMA synchronous = {'FULL' if durable else 'OFF'}")
    connection.execute("PRAGMA foreign_keys = ON")
    return connection
