"""Which days messages go out on, and the local send times within them."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from harness.hours import local_moment
from harness.scenario.model import Schedule
from harness.scenario.types import WEEKDAYS


def send_dates(schedule: Schedule) -> list[tuple[int, date]]:
    """``(week index, date)`` for every sending day, in order. Week 0 starts on ``start``."""
    weekdays = {WEEKDAYS.index(day) for day in schedule.weekdays}
    excluded = set(schedule.exclude_dates)
    days = []
    for offset in range(schedule.weeks * 7):
        day = schedule.start + timedelta(days=offset)
        if day.weekday() in weekdays and day not in excluded:
            days.append((offset // 7, day))
    return days


def send_window(day: date, start: time, end: time, zone: ZoneInfo) -> tuple[datetime, int]:
    """The UTC start of the local window ``[start, end)`` on ``day``, and its length in
    seconds (a daylight-saving change that day lengthens or shortens it)."""
    first = local_moment(day, start, zone)
    last = local_moment(day, end, zone)
    return first, max(1, int((last - first).total_seconds()))


def send_time(rng: random.Random, window: tuple[datetime, int]) -> datetime:
    """A uniformly random whole second in a window from :func:`send_window`."""
    first, span = window
    return first + timedelta(seconds=rng.randrange(span))
