"""What `shopper status` says of a run's alerts (each objective's alert state per brand, the
notifications not delivered: how many, their attempts, the last error; destinations by index
and scheme, never by URL), and what `shopper check --notify` says it sent."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterable
from datetime import tzinfo
from pathlib import Path

from harness.cli.output import counted, printable
from harness.scenario.model import Scenario
from harness.session.checks import Check
from harness.store.alerts import alert_states, notifications
from harness.store.sqlite import Store


def status_lines(store: Store, scenario: Scenario, zone: tzinfo) -> list[str]:
    """The lines for `shopper status` (none when the scenario has no alerts)."""
    if scenario.alerts is None or not scenario.objectives:
        return []
    names = {objective.name for objective in scenario.objectives}
    states = [s for s in alert_states(store).values() if s.objective in names]
    if not states:
        return ["alerts:     not judged yet (the runner judges the objectives as it runs)"]
    lines = []
    for state in states:
        since = state.since.astimezone(zone).isoformat() if state.since else "?"
        if state.state == "failing":
            told = ("announced" if state.breach_since is not None
                    else "not announced yet: in maintenance")
            words = f"FAILING since {since} ({told})"
        elif state.breach_since is not None:
            words = f"{state.state} since {since} (recovery not announced yet: in maintenance)"
        else:
            words = f"{state.state} since {since}" if state.state == "ok" else \
                "not judged yet (too few probes decided)"
        lines.append(f"alert:      {printable(state.objective)} / {printable(state.brand)}: "
                     f"{words}")
    last = max(s.checked_at for s in states)
    lines.append(f"alerts:     last judged at {last.astimezone(zone).isoformat()}")
    unsent = [n for n in notifications(store) if n.unsent]
    if unsent:
        lines.append(f"alerts:     {counted(len(unsent), 'notification', 'notifications')} "
                     f"({_kinds(n.kind for n in unsent)}) recorded but "
                     f"{printable(unsent[-1].last_error or 'not sent')}")
    waiting = notifications(store, undelivered=True)
    if waiting:
        attempts = sum(n.attempts for n in waiting)
        error = next((n.last_error for n in reversed(waiting) if n.last_error), None)
        lines.append(f"UNDELIVERED: {len(waiting)} notification{'s' if len(waiting) != 1 else ''}"
                     f" ({_kinds(n.kind for n in waiting)}) after {attempts} "
                     "attempts; last "
                     f"error: {printable(error or 'none recorded')}; each is tried again at the "
                     "next evaluation (`shopper check DIR --notify`, or the running run)")
    return lines


def notify(folder: Path, check: Check) -> None:
    """`shopper check --notify`: send what the check calls for; say what, on standard error
    (standard output is the check's, and may be JSON)."""
    from harness.session.alerts import notify_run

    def say(text: str) -> None:
        print(printable(text), file=sys.stderr)

    done = notify_run(folder, check, say)
    if done is None:
        return
    if not done.judged:
        say(f"shopper: alerts: already judged at a later moment than {check.at.isoformat()}: "
            "nothing new to announce")
    for notification in done.tried:
        outcome = ("delivered" if notification.delivered else
                   f"NOT DELIVERED after {notification.attempts} attempts: "
                   f"{notification.last_error}")
        say(f"shopper: alerts: {notification.kind}: {notification.title}: {outcome}")
    if not done.tried:
        say("shopper: alerts: nothing to send")


def _kinds(each: Iterable[str]) -> str:
    """``1 breach, 12 reminders``."""
    kinds = Counter(each)
    many = {"breach": "breaches", "recovery": "recoveries", "reminder": "reminders"}
    return ", ".join(f"{count} {kind if count == 1 else many.get(kind, kind)}"
                     for kind, count in sorted(kinds.items()))
