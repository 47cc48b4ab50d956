"""Business hours in a brand's own time zone: is it open, and when is a piece of work done."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, get_args
from zoneinfo import ZoneInfo

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = get_args(Weekday)  # Monday first, as date.weekday() counts



def local_moment(day: date, clock_time: time, zone: ZoneInfo) -> datetime:
    """The UTC instant a local wall clock in ``zone`` first shows ``clock_time`` on ``day``
    (``time.max`` is 24:00, the next midnight). A time that happens twice (clocks going back)
    is its first occurrence; a time skipped by clocks going forward moves forward to the
    moment the clocks change (02:30 in a 02:00-03:00 gap is 03:00, the new time)."""
    if clock_time == time.max:
        return local_moment(day + timedelta(days=1), time(0), zone)
    naive = datetime.combine(day, clock_time)
    aware = naive.replace(tzinfo=zone)
    moment = aware.astimezone(UTC)  # fold=0: the earlier offset; in a gap, the later instant
    if moment.astimezone(zone).replace(tzinfo=None) != naive:  # in a spring-forward gap
        moment = clocks_change(aware.replace(fold=1).astimezone(UTC), moment, zone)
    return moment


def clocks_change(before: datetime, after: datetime, zone: ZoneInfo) -> datetime:
    """The first whole second in ``(before, after]`` with ``after``'s UTC offset in ``zone``:
    the moment of the one offset change between them."""
    target = after.astimezone(zone).utcoffset()
    low, high = math.floor(before.timestamp()), math.ceil(after.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == target:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


@dataclass(frozen=True)
class Hours:
    """Opening hours on given weekdays, in a time zone."""

    days: frozenset[int]
    open: time
    close: time
    zone: ZoneInfo

    @classmethod
    def of(cls, days: Iterable[str], open_: time, close: time, zone: str) -> Hours:
        """Build from weekday names (``"mon"``...) and a zone name."""
        return cls(frozenset(WEEKDAYS.index(d) for d in days), open_, close, ZoneInfo(zone))

    def _interval(self, day: date) -> tuple[datetime, datetime]:
        return local_moment(day, self.open, self.zone), local_moment(day, self.close, self.zone)

    def is_business_day(self, moment: datetime) -> bool:
        """Whether the local date of ``moment`` is a working day."""
        return moment.astimezone(self.zone).weekday() in self.days

    def is_open(self, moment: datetime) -> bool:
        """Whether ``moment`` falls inside opening hours."""
        if not self.is_business_day(moment):
            return False
        start, end = self._interval(moment.astimezone(self.zone).date())
        return start <= moment < end

    def next_open(self, moment: datetime) -> datetime:
        """``moment`` if open, else the next opening time."""
        day = moment.astimezone(self.zone).date()
        for offset in range(8):
            current = day + timedelta(days=offset)
            if current.weekday() not in self.days:
                continue
            start, end = self._interval(current)
            if moment < end:
                return max(moment, start).astimezone(UTC)
        raise ValueError("business hours have no working day")

    def open_until(self, moment: datetime) -> datetime:
        """The closing time of the day ``moment`` falls on (local date), in UTC."""
        return self._interval(moment.astimezone(self.zone).date())[1].astimezone(UTC)

    def add(self, moment: datetime, work: timedelta) -> datetime:
        """When ``work`` counted only in opening hours, started at ``moment``, is done."""
        remaining = work
        current = self.next_open(moment)
        for _ in range(10_000):
            _, end = self._interval(current.astimezone(self.zone).date())
            if current + remaining <= end:
                return current + remaining
            remaining -= end - current
            current = self.next_open(end)
        raise ValueError("work too long for these business hours")
