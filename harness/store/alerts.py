"""The alert records of a run's store (schema 4): each objective's alert state per brand, and
every notification with its delivery.

The state is what makes alerts edge-triggered across restarts: a run that starts again reads
back what was last judged and announced, so it announces nothing twice. Notifications are
decided and recorded in one transaction with the states that led to them, and delivered
afterwards; one not yet delivered stays in the store until it is.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, get_args

from harness.store.sqlite import Store

AlertLevel = Literal["unknown", "ok", "failing"]
"""An objective as last judged for a brand: ``unknown`` until it has passed or failed once
(too few probes decided), then ``ok`` or ``failing``."""
NoticeKind = Literal["breach", "recovery", "reminder"]
NOTICE_KINDS: tuple[NoticeKind, ...] = get_args(NoticeKind)


@dataclass(frozen=True)
class AlertState:
    """One objective for one brand, as the alerts last saw it."""

    objective: str
    brand: str
    state: AlertLevel
    since: datetime | None
    """When ``state`` was first judged."""
    breach_since: datetime | None
    """Start of the breach that was announced (None: no breach announced)."""
    last_notified_at: datetime | None
    """When the breach notice or the latest reminder was due (reminders are spaced from it)."""
    checked_at: datetime
    """The moment last judged, on the run's clock."""

    @property
    def key(self) -> tuple[str, str]:
        """(objective, brand)."""
        return self.objective, self.brand


@dataclass(frozen=True)
class NewNotification:
    """A notification decided, before the store gives it an id."""

    objective: str
    brand: str
    kind: NoticeKind
    at: datetime
    title: str
    text: str


@dataclass(frozen=True)
class Notification:
    """A notification as stored, with how its delivery went."""

    id: int
    objective: str
    brand: str
    kind: NoticeKind
    at: datetime
    title: str
    text: str
    attempts: int
    delivered_to: tuple[int, ...]
    """The destinations (by index in ``alerts.urls``) that have it."""
    delivered_at: datetime | None
    last_error: str | None

    @property
    def delivered(self) -> bool:
        """Whether it is settled: every destination had it, or there was none to send it to."""
        return self.delivered_at is not None

    @property
    def unsent(self) -> bool:
        """Settled without being sent anywhere (no destination was configured)."""
        return self.delivered_at is not None and not self.delivered_to


def _ts(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()  # sorts as text


def _dt(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def alert_states(store: Store) -> dict[tuple[str, str], AlertState]:
    """Every alert state, by (objective, brand)."""
    rows = store.db.execute(
        "SELECT objective, brand, state, since, breach_since, last_notified_at, checked_at"
        " FROM alert_state ORDER BY objective, brand")
    states = [AlertState(r[0], r[1], r[2], _dt(r[3]), _dt(r[4]), _dt(r[5]),
                         datetime.fromisoformat(r[6])) for r in rows]
    return {state.key: state for state in states}


def notifications(store: Store, *, undelivered: bool = False) -> list[Notification]:
    """Every notification (or only those not yet delivered), oldest first."""
    where = " WHERE delivered_at IS NULL" if undelivered else ""
    rows = store.db.execute(
        "SELECT id, objective, brand, kind, at, title, text, attempts, delivered_to,"
        f" delivered_at, last_error FROM notifications{where} ORDER BY id")
    return [Notification(r[0], r[1], r[2], r[3], datetime.fromisoformat(r[4]), r[5], r[6], r[7],
                         tuple(json.loads(r[8])), _dt(r[9]), r[10]) for r in rows]


def record_round(store: Store, states: Sequence[AlertState],
                 new: Sequence[NewNotification]) -> list[Notification]:
    """Write the states judged and the notifications they call for, in one transaction; the
    notifications as stored, not yet delivered."""
    with store.transaction() as db:
        db.executemany(
            "INSERT INTO alert_state (objective, brand, state, since, breach_since,"
            " last_notified_at, checked_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (objective, brand) DO UPDATE SET state = excluded.state,"
            " since = excluded.since, breach_since = excluded.breach_since,"
            " last_notified_at = excluded.last_notified_at, checked_at = excluded.checked_at",
            [(s.objective, s.brand, s.state, _ts(s.since), _ts(s.breach_since),
              _ts(s.last_notified_at), _ts(s.checked_at)) for s in states])
        (last,) = db.execute("SELECT COALESCE(MAX(id), 0) FROM notifications").fetchone()
        stored = [Notification(last + offset, n.objective, n.brand, n.kind, n.at, n.title,
                               n.text, 0, (), None, None)
                  for offset, n in enumerate(new, start=1)]
        db.executemany(
            "INSERT INTO notifications (id, objective, brand, kind, at, title, text, attempts,"
            " delivered_to, delivered_at, last_error) VALUES (?, ?, ?, ?, ?, ?, ?, 0, '[]',"
            " NULL, NULL)",
            [(n.id, n.objective, n.brand, n.kind, _ts(n.at), n.title, n.text) for n in stored])
    return stored


def record_delivery(store: Store, notification: Notification) -> None:
    """Write how a notification's delivery went: its attempts, the destinations that have it,
    when it was delivered to all of them, and the last error."""
    with store.transaction() as db:
        db.execute(
            "UPDATE notifications SET attempts = ?, delivered_to = ?, delivered_at = ?,"
            " last_error = ? WHERE id = ?",
            (notification.attempts, json.dumps(list(notification.delivered_to)),
             _ts(notification.delivered_at), notification.last_error, notification.id))


def last_checked(store: Store) -> datetime | None:
    """The latest moment the alerts were judged at (None: never)."""
    (value,) = store.db.execute("SELECT MAX(checked_at) FROM alert_state").fetchone()
    return _dt(value)
