"""The report's "Alerts" section: the notifications a run's alerts sent, and those that could
not be delivered (with their attempts and last error; destinations named by index and scheme,
never by URL). Shown only when the run's scenario has ``alerts:``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo

from harness.scenario.model import Scenario
from harness.store.alerts import notifications
from harness.store.sqlite import Store


@dataclass(frozen=True)
class AlertRow:
    """One notification as the page lists it (every field is text to escape)."""

    kind: str
    at: str
    title: str
    delivered: bool
    attempts: int
    last_error: str


@dataclass(frozen=True)
class AlertLog:
    """What the section shows."""

    sent: list[AlertRow]
    undelivered: list[AlertRow]
    unsent: int = 0
    """Notifications recorded with no destination to send them to."""


def alert_log(store: Store, scenario: Scenario, zone: tzinfo) -> AlertLog | None:
    """The notifications of the run in ``store`` (None when its scenario has no alerts)."""
    if scenario.alerts is None:
        return None
    recorded = notifications(store)
    rows = [AlertRow(n.kind, n.at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z"), n.title,
                     n.delivered, n.attempts, n.last_error or "")
            for n in recorded if not n.unsent]
    return AlertLog([r for r in rows if r.delivered], [r for r in rows if not r.delivered],
                    sum(1 for n in recorded if n.unsent))
