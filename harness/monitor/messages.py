"""What a notification says: a title and a plain-text body naming the objective, the brand,
the evidence, when the breach began and, for a recovery, how long it lasted.

Names come from the scenario and are untrusted: they are sent as plain text (Apprise's
``text`` body format, so a service that renders Markdown or HTML escapes them), one line each,
with control characters shown as escapes. A simulated run says so in the title and the body.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from harness.durations import format_duration
from harness.monitor.alerting import Notice
from harness.report.objectives import SIMULATED_NOTE, evidence
from harness.store.alerts import NewNotification


def inert(value: object) -> str:
    """A value as one line of text: line breaks and other control characters as escapes."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(value))


def _moment(moment: datetime, zone: tzinfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def compose(notice: Notice, *, run: str, brand_name: str, zone: tzinfo, simulated: bool,
            seed: str) -> NewNotification:
    """The notification ``notice`` calls for, as it is stored and sent."""
    verdict = notice.verdict
    who = f"{inert(verdict.objective)} / {inert(brand_name)}"
    if notice.kind == "breach":
        head = f"FAILING: {who}"
    elif notice.kind == "reminder":
        head = f"STILL FAILING: {who} (for {format_duration(notice.at - notice.breach_since)})"
    else:
        ended = notice.recovered_at or notice.at
        head = f"RECOVERED: {who} (after {format_duration(ended - notice.breach_since)})"
    title = f"{'SIMULATED ' if simulated else ''}{head} [{inert(run)}]"
    lines = [
        f"Objective: {inert(verdict.objective)} ({verdict.indicator}; target "
        f"{verdict.target:.0%})",
        f"Brand: {inert(brand_name)} ({inert(verdict.brand)})",
        f"Run: {inert(run)}",
        f"Now: {verdict.status}: {inert(evidence(verdict))}",
        f"Failing since: {_moment(notice.breach_since, zone)}",
    ]
    if notice.kind == "recovery":
        ended = notice.recovered_at or notice.at
        lines[-1] = (f"Failed from {_moment(notice.breach_since, zone)} to "
                     f"{_moment(ended, zone)}: the breach lasted "
                     f"{format_duration(ended - notice.breach_since)}")
    elif notice.kind == "reminder":
        lines.append(f"Still failing after {format_duration(notice.at - notice.breach_since)}")
    lines.append(f"Judged at: {_moment(notice.at, zone)}")
    if simulated:
        lines.append(f"{SIMULATED_NOTE} (seed {inert(seed)}).")
    return NewNotification(verdict.objective, verdict.brand, notice.kind, notice.at, title,
                           "\n".join(lines))
