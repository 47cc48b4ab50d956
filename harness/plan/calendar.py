"""Which days messages go out on, and the local send times within them."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from harness.hours import WEEKDAYS, clocks_change, local_moment
from harness.scenario.model import Schedule

PREVIEW_WEEKS = 4
"""The weeks of a repeating schedule without ``until`` that stand for its plan where a whole
plan is needed (`shopper plan` and `validate`, the balance tables, the power analysis)."""


def planned_weeks(schedule: Schedule) -> int:
    """How many weeks the schedule's plan has: ``weeks``; for a repeating schedule, the weeks
    through ``until``, or :data:`PREVIEW_WEEKS` without it."""
    if not schedule.repeat:
        return schedule.weeks
    if schedule.until is None:
        return PREVIEW_WEEKS
    return max(0, (schedule.until - schedule.start).days // 7 + 1)


def send_dates(schedule: Schedule, weeks: int | None = None) -> list[tuple[int, date]]:
    """``(week index, date)`` for every sending day, in order. Week 0 starts on ``start``.
    ``weeks``: that many weeks (default :func:`planned_weeks`); never past ``until``."""
    weekdays = {WEEKDAYS.index(day) for day in schedule.weekdays}
    excluded = set(schedule.exclude_dates)
    days = []
    for offset in range((planned_weeks(schedule) if weeks is None else weeks) * 7):
        day = schedule.start + timedelta(days=offset)
        if schedule.until is not None and day > schedule.until:
            break
        if day.weekday() in weekdays and day not in excluded:
            days.append((offset // 7, day))
    return days


def fixed_times(day: date, times: list[time], zone: ZoneInfo) -> list[datetime]:
    """The moments ``day`` shows each of ``times`` on the wall clocks of ``zone``, in order (a
    time the clocks skip moves forward to the change; a repeated one is its first pass)."""
    return sorted(local_moment(day, clock_time, zone) for clock_time in times)


Window = tuple[tuple[datetime, int], ...]
"""A send window on one day: UTC spans ``(first moment, length in seconds)``, in order."""

_LATEST_OFFSET = timedelta(hours=14)  # no zone is further than this from UTC
_EARLIEST_OFFSET = timedelta(hours=-12)
_SAMPLE_EVERY = timedelta(hours=6)  # offset changes are months apart, never two in 6 hours


def send_window(day: date, start: time, end: time, zone: ZoneInfo) -> Window:
    """Every moment of ``day`` whose local time in ``zone`` is in ``[start, end)``.

    Usually one span of ``end - start``. A daylight-saving change that day shortens it (the
    skipped local times are not in it: a start or end in the gap moves forward to the change),
    lengthens it (a repeated local hour inside the window is in it twice), or splits it in two
    (a start or end inside the repeated hour: the local times before ``start``, or from
    ``end`` on, that the clocks show again after going back are not in it).
    """
    low = datetime.combine(day, start)
    high = datetime.combine(day + timedelta(days=1), time(0)) if end == time.max else \
        datetime.combine(day, end)
    spans: list[tuple[datetime, datetime]] = []
    for first, last, offset in _constant_offsets(low - _LATEST_OFFSET, high - _EARLIEST_OFFSET,
                                                 zone):
        # This piece shows local times [first + offset, last + offset): keep those in the window.
        begin = max(first, (low - offset).replace(tzinfo=UTC))
        finish = min(last, (high - offset).replace(tzinfo=UTC))
        if begin >= finish:
            continue
        if spans and spans[-1][1] == begin:
            spans[-1] = (spans[-1][0], finish)
        else:
            spans.append((begin, finish))
    if not spans:  # the whole window was skipped by the clocks going forward
        return ((local_moment(day, start, zone), 1),)
    return tuple((first, int((last - first).total_seconds())) for first, last in spans)


def _constant_offsets(low: datetime, high: datetime,
                      zone: ZoneInfo) -> list[tuple[datetime, datetime, timedelta]]:
    """``[low, high)`` (naive UTC) cut where ``zone``'s UTC offset changes: ``(first, last,
    offset)`` pieces, aware UTC."""
    end = high.replace(tzinfo=UTC)
    samples = [low.replace(tzinfo=UTC)]
    while samples[-1] + _SAMPLE_EVERY < end:
        samples.append(samples[-1] + _SAMPLE_EVERY)
    samples.append(end)
    pieces = []
    first, offset = samples[0], _offset(samples[0], zone)
    for before, after in pairwise(samples):
        if _offset(after, zone) != offset:
            change = clocks_change(before, after, zone)
            pieces.append((first, change, offset))
            first, offset = change, _offset(change, zone)
    pieces.append((first, end, offset))
    return pieces


def _offset(moment: datetime, zone: ZoneInfo) -> timedelta:
    offset = moment.astimezone(zone).utcoffset()
    assert offset is not None
    return offset


MIN_GAP = timedelta(hours=1)
"""The usual least time between two messages to one brand on one day (see :func:`day_gap`)."""


def day_gap(window_seconds: int, count: int) -> int:
    """The least gap, in seconds, between ``count`` messages to one brand in a window of
    ``window_seconds``: :data:`MIN_GAP`, or less when the gaps would take more than half the
    window (so the times stay spread at random): ``window // (2 x (count - 1))``."""
    if count < 2:
        return 0
    return min(int(MIN_GAP.total_seconds()), window_seconds // (2 * (count - 1)))


def send_times(rng: random.Random, window: Window, count: int) -> list[datetime]:
    """``count`` whole seconds of a window from :func:`send_window`, in order, uniformly at
    random among those at least :func:`day_gap` apart.

    Draws ``count`` seconds in the window shortened by the ``count - 1`` gaps, sorts them and
    moves the *i*-th on by *i* gaps. One time is one uniform draw, as :func:`send_time`.
    """
    total = sum(length for _, length in window)
    gap = day_gap(total, count)
    span = total - (count - 1) * gap
    draws = sorted(rng.randrange(span) for _ in range(count))
    if len(window) == 1:  # the usual day: one span
        first = window[0][0]
        return [first + timedelta(seconds=second + i * gap) for i, second in enumerate(draws)]
    return [_moment(window, second + i * gap) for i, second in enumerate(draws)]


def send_time(rng: random.Random, window: Window) -> datetime:
    """A uniformly random whole second in a window from :func:`send_window`."""
    return _moment(window, rng.randrange(sum(length for _, length in window)))


def _moment(window: Window, second: int) -> datetime:
    """The ``second``-th second of a window (its spans laid end to end)."""
    for first, length in window:
        if second < length:
            return first + timedelta(seconds=second)
        second -= length
    raise AssertionError("unreachable")  # pragma: no cover
