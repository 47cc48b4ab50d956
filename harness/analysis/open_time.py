"""Opening hours as a clock: how much open time lies between two moments, whether a moment
ends an open stretch, and when the next one starts.

:class:`harness.hours.Hours` moves forward through opening hours (``add``: when is work done);
calibration needs the inverse (how much open time did a reply take), for many probes, so the
opening intervals of a run's span are laid out once with their running total.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from itertools import accumulate
from zoneinfo import ZoneInfo

from harness.hours import WEEKDAYS, local_moment


class OpenTime:
    """The opening intervals of ``days`` (weekday names) from ``first`` to ``last`` (local
    dates in ``zone``), as :class:`harness.hours.Hours` reads them."""

    def __init__(self, days: Iterable[str], open_: time, close: time, zone: ZoneInfo,
                 first: date, last: date) -> None:
        numbers = {WEEKDAYS.index(day) for day in days}
        starts: list[float] = []
        ends: list[float] = []
        day = first
        while day <= last:
            if day.weekday() in numbers:
                start = local_moment(day, open_, zone).timestamp()
                end = local_moment(day, close, zone).timestamp()
                if end > start:
                    starts.append(start)
                    ends.append(end)
            day += timedelta(days=1)
        self.starts = starts
        self.ends = ends
        self._before = [0.0, *accumulate(e - s for s, e in zip(starts, ends, strict=True))]

    def _total(self, moment: float) -> float:
        """Open seconds from the first interval up to ``moment``."""
        index = bisect_right(self.starts, moment) - 1
        if index < 0:
            return 0.0
        return self._before[index] + min(moment, self.ends[index]) - self.starts[index]

    def elapsed(self, start: datetime, end: datetime) -> float:
        """Open seconds in ``[start, end]``."""
        return self._total(end.timestamp()) - self._total(start.timestamp())

    def ends_open(self, moment: datetime) -> bool:
        """Whether ``moment`` is in ``(open, close]`` of some day: where work counted in
        opening hours (``Hours.add``) can end."""
        stamp = moment.timestamp()
        index = bisect_left(self.starts, stamp) - 1
        return index >= 0 and stamp <= self.ends[index]

    def next_open(self, moment: datetime) -> datetime | None:
        """``moment`` if open, else the next opening (``Hours.next_open``); ``None`` past the
        span."""
        stamp = moment.timestamp()
        index = bisect_right(self.ends, stamp)
        if index >= len(self.starts):
            return None
        return datetime.fromtimestamp(max(stamp, self.starts[index]), moment.tzinfo)
