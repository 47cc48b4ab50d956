"""Clocks: where the runner and the simulated platform get the time.

The runner never calls ``datetime.now`` itself. Live runs use :class:`SystemClock`, which
really sleeps; simulated runs use :class:`VirtualClock`, which jumps straight to the next
event, so four weeks pass in a moment and every run is reproducible.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Tells the time (timezone-aware, UTC) and waits until a given moment."""

    def now(self) -> datetime:
        """The current time."""
        ...

    def sleep_until(self, moment: datetime) -> None:
        """Return at ``moment`` (or at once if it has passed)."""
        ...

    @property
    def is_virtual(self) -> bool:
        """Whether time jumps rather than passes."""
        ...


class SystemClock:
    """Real time; sleeps in short steps so a signal is acted on promptly."""

    is_virtual = False

    def __init__(self, max_nap: float = 5.0) -> None:
        self.max_nap = max_nap

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep_until(self, moment: datetime) -> None:
        while (remaining := (moment - self.now()).total_seconds()) > 0:
            time.sleep(min(remaining, self.max_nap))


class VirtualClock:
    """Simulated time that moves only when told to, and never backwards."""

    is_virtual = True

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("VirtualClock needs a timezone-aware start")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def sleep_until(self, moment: datetime) -> None:
        self._now = max(self._now, moment.astimezone(UTC))
