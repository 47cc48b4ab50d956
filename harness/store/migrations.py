"""Store schema migrations: a store written by an older harness is brought up to date when it
is opened, in one transaction, and never changed in a way an older harness could misread
(migrations only add).

``MIGRATIONS[n]`` takes a store from schema ``n`` to ``n + 1``.
"""

from __future__ import annotations

import sqlite3

MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """CREATE TABLE channel_health (
            channel        TEXT PRIMARY KEY,
            failures       INTEGER NOT NULL,
            since          TEXT,
            last_error     TEXT,
            total_failures INTEGER NOT NULL,
            updated_at     TEXT NOT NULL
        )""",
    ),
    2: (
        "ALTER TABLE sends ADD COLUMN reason TEXT",
        # Schema 2 kept only the words; they were written by `runner.sending` in these forms,
        # so each one's reason can be read back, once, here (nothing else reads the words).
        """UPDATE sends SET reason = CASE
            WHEN error LIKE 'rate limited:%' THEN 'rate_limited'
            WHEN error LIKE 'transient:%' THEN 'transient'
            WHEN error LIKE 'unexpected %' THEN 'adapter_bug'
            WHEN error LIKE 'AuthenticationFailed:%' THEN 'authentication_failed'
            WHEN error LIKE 'NotConfigured:%' THEN 'not_configured'
            WHEN error LIKE 'AccessDenied:%' THEN 'access_denied'
            WHEN error LIKE 'awaiting the persona''s post%' THEN 'awaiting_person'
            WHEN error LIKE 'declined:%' THEN 'declined'
            WHEN error LIKE 'outcome unknown:%' THEN 'outcome_unknown'
            WHEN error LIKE 'interrupted%' THEN 'interrupted'
            WHEN error LIKE 'not attempted: channel stopped%' THEN 'channel_stopped'
            WHEN error LIKE 'not attempted: channel rate-limited%' THEN 'channel_rate_limited'
            WHEN error LIKE 'resolved by the operator%' THEN 'operator'
            WHEN error LIKE 'cap:%' THEN 'capped'
            ELSE NULL END""",
    ),
    3: (
        """CREATE TABLE alert_state (
            objective        TEXT NOT NULL,
            brand            TEXT NOT NULL,
            state            TEXT NOT NULL,
            since            TEXT,
            breach_since     TEXT,
            last_notified_at TEXT,
            checked_at       TEXT NOT NULL,
            PRIMARY KEY (objective, brand)
        )""",
        """CREATE TABLE notifications (
            id           INTEGER PRIMARY KEY,
            objective    TEXT NOT NULL,
            brand        TEXT NOT NULL,
            kind         TEXT NOT NULL,
            at           TEXT NOT NULL,
            title        TEXT NOT NULL,
            text         TEXT NOT NULL,
            attempts     INTEGER NOT NULL,
            delivered_to TEXT NOT NULL,
            delivered_at TEXT,
            last_error   TEXT
        )""",
    ),
}


def migrate(db: sqlite3.Connection, version: int, target: int) -> None:
    """Apply every migration from ``version`` to ``target`` in one transaction."""
    db.execute("BEGIN IMMEDIATE")
    try:
        for step in range(version, target):
            for statement in MIGRATIONS[step]:
                db.execute(statement)
        db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(target),))
    except BaseException:
        rollback(db)
        raise
    db.execute("COMMIT")


def rollback(db: sqlite3.Connection) -> None:
    """Roll back the open transaction, if SQLite has not already done so itself (a failing
    statement can end it: a trigger's RAISE(ROLLBACK), a full disk); the error that got us here
    is the one to report, not "no transaction is active"."""
    if db.in_transaction:
        db.execute("ROLLBACK")
