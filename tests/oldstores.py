"""Stores as older harnesses wrote them: a current store turned back to an older schema, and
checked column by column against that schema's DDL (``tests/data/schema_vN.sql``)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

DATA = Path(__file__).parent / "data"

# What each schema added, undone newest first.
_UNDO = {
    4: ("DROP TABLE notifications", "DROP TABLE alert_state"),
    3: ("ALTER TABLE sends DROP COLUMN reason",),
    2: ("DROP TABLE channel_health",),
}


def columns(db: sqlite3.Connection) -> dict[str, list[str]]:
    """Each table's columns, in order."""
    tables = [name for (name,) in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    return {table: [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
            for table in tables}


def reference_columns(version: int) -> dict[str, list[str]]:
    """The tables and columns schema ``version`` had, from its DDL."""
    reference = sqlite3.connect(":memory:")
    try:
        reference.executescript((DATA / f"schema_v{version}.sql").read_text(encoding="utf-8"))
        return columns(reference)
    finally:
        reference.close()


def as_schema(store_path: Path, version: int, current: int) -> None:
    """Turn a store at schema ``current`` into what schema ``version`` was (its rows kept)."""
    db = sqlite3.connect(store_path)
    try:
        for step in range(current, version, -1):
            for statement in _UNDO[step]:
                db.execute(statement)
        db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(version),))
        db.commit()
        assert columns(db) == reference_columns(version)  # exactly what that schema had
    finally:
        db.close()
