"""Safety rails for live runs: caps on messages, and the kill switch.

Caps hold whatever the scenario's schedule asks for: at most ``per_brand_per_day`` messages
(first messages and follow-ups) to any one brand on any one day in the brand's own time zone,
and at most ``total`` messages in the whole run. A message over a cap is never handed to a
channel; it is recorded as not sent, with the cap as its reason.

The kill switch is a file, ``STOP``, in the run folder (``shopper stop DIR`` makes it): while it
is there nothing is sent, and polling for replies goes on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from pathlib import Path

STOP_FILE = "STOP"
DEFAULT_PER_BRAND_PER_DAY = 10
DEFAULT_TOTAL = 1000
DEFAULT_CAPS = (DEFAULT_PER_BRAND_PER_DAY, DEFAULT_TOTAL)


@dataclass
class Limits:
    """Message caps, counted from what was sent (and is being sent)."""

    per_brand_per_day: int | None
    total: int | None
    zones: Mapping[str, tzinfo]
    """Each brand's time zone: its day is its own."""
    _per_day: Counter[tuple[str, date]] = field(default_factory=Counter)
    _total: int = 0

    def count(self, brand: str, at: datetime) -> None:
        """Count one message to ``brand`` sent (or about to be) at ``at``."""
        self._per_day[(brand, at.astimezone(self.zones[brand]).date())] += 1
        self._total += 1

    def count_all(self, sent: Iterable[tuple[str, datetime]]) -> None:
        """Count messages already sent, as (brand, moment)."""
        for brand, at in sent:
            self.count(brand, at)

    def refuse(self, brand: str, at: datetime) -> str | None:
        """Why one more message to ``brand`` at ``at`` would break a cap, or ``None``."""
        if self.total is not None and self._total >= self.total:
            return f"cap: the run's limit of {self.total} messages is reached"
        day = at.astimezone(self.zones[brand]).date()
        if (self.per_brand_per_day is not None
                and self._per_day[(brand, day)] >= self.per_brand_per_day):
            return (f"cap: {self.per_brand_per_day} messages to {brand} on {day} (in the "
                    "brand's time zone) already")
        return None


def stop_requested(folder: Path) -> bool:
    """Whether the run folder's kill switch is on."""
    return (folder / STOP_FILE).exists()
