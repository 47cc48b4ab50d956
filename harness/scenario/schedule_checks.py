"""Checks across a schedule's own fields: a repeating schedule (``repeat``, ``until``) and
fixed send times (``times``) against the keys they replace or fix.

Each problem is a path under ``schedule``, a message, and whether it is about the key (a key
that must not be there) rather than its value. ``checks.py`` pins them to the file; the
application layer turns them into a usage error when ``--start`` or ``--until`` made them.
"""

from __future__ import annotations

from datetime import time

from harness.scenario.located import Path_
from harness.scenario.model import Schedule

ScheduleProblem = tuple[Path_, str, bool]
"""A path under ``schedule``, the message, and whether it points at the key."""


def _clock(value: time) -> str:
    return "24:00" if value == time.max else f"{value:%H:%M}"


def schedule_problems(schedule: Schedule) -> list[ScheduleProblem]:
    """Every problem across ``schedule``'s fields (see the module docstring)."""
    given = schedule.model_fields_set
    problems: list[ScheduleProblem] = []
    if schedule.until is not None and not schedule.repeat:
        problems.append((("until",), "until ends a repeating schedule: add repeat: true, or "
                         "leave until out (a fixed schedule ends after its weeks)", True))
    if schedule.repeat and "weeks" in given:
        problems.append((("weeks",), "a repeating schedule has no number of weeks: leave "
                         "weeks out (until ends it; without until it repeats without end)",
                         True))
    if schedule.until is not None and schedule.until < schedule.start:
        problems.append((("until",), f"until ({schedule.until}) is before start "
                         f"({schedule.start})", False))
    if schedule.times is None:
        return problems
    if "send_window" in given:
        problems.append((("send_window",), "give either times (fixed send times) or "
                         "send_window (a random time in it each day), not both", True))
    seen: dict[time, int] = {}
    for index, moment in enumerate(schedule.times):
        if moment == time.max:
            problems.append((("times", index), "a send time is 00:00 to 23:59 (24:00 is the "
                             "next day's 00:00)", False))
        elif moment in seen:
            problems.append((("times", index), f"{_clock(moment)} is listed twice (first as "
                             f"times[{seen[moment]}]): send times must be distinct", False))
        seen.setdefault(moment, index)
    count = len(schedule.times)
    if schedule.messages_per_brand_per_day != count:
        problems.append((("messages_per_brand_per_day",),
                         f"{schedule.messages_per_brand_per_day} messages a day, but times "
                         f"lists {count}: each time is one message a day (leave "
                         "messages_per_brand_per_day out, or make it match)", False))
    return problems
