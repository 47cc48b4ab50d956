"""A simulated brand's profile over time: its base ``simulate:`` profile, then each phase.

A phase applies to the messages sent from its start (``from``) until the next phase's; it
is laid over the *base* profile, not over the phase before it: each field it names replaces
the base's, mappings (``reply``, ``category``, ``latency``, ``auto_ack``) key by key. A date
starts at midnight in the brand's time zone, a date and time without an offset is read in
that zone too. The phase in force for a message is the one its send time falls in, so a
reply to a message sent before a slip follows the old profile, however late it comes.
"""

from __future__ import annotations

import bisect
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from harness.hours import local_moment
from harness.scenario.model import AutoAck, SimulateProfile
from harness.scenario.phase_model import Phase


def phase_start(start: date | datetime, zone: str) -> datetime:
    """The UTC moment a phase starting at ``start`` begins, in a brand's ``zone``."""
    if isinstance(start, datetime):
        if start.tzinfo is not None and start.utcoffset() is not None:
            return start.astimezone(UTC)
        return local_moment(start.date(), start.time(), ZoneInfo(zone))
    return local_moment(start, time(0), ZoneInfo(zone))


def apply_phase(base: SimulateProfile, phase: Phase) -> SimulateProfile:
    """``base`` with what ``phase`` changes (and no phases of its own). The values were
    validated by :class:`Phase` under the same rules, so they are copied in as they are."""
    update: dict[str, Any] = {"phases": []}
    for name in Phase.model_fields:
        value = getattr(phase, name)
        if name == "start" or value is None:
            continue
        if isinstance(value, BaseModel):
            current = getattr(base, name)
            if current is None and name == "auto_ack":
                current = AutoAck()
            changes = {k: v for k, v in value if v is not None}
            update[name] = current.model_copy(update=changes)
        elif isinstance(value, dict):
            update[name] = {**getattr(base, name), **value}
        else:
            update[name] = list(value) if isinstance(value, list) else value
    return base.model_copy(update=update)


class PhasedProfile:
    """Which profile is in force when: ``profiles[0]`` is the base (before any phase),
    ``profiles[i]`` the base with phase ``i - 1`` applied, from ``starts[i - 1]`` on."""

    def __init__(self, profile: SimulateProfile, zone: str) -> None:
        self.starts = [phase_start(p.start, zone) for p in profile.phases]
        self.profiles = [profile, *(apply_phase(profile, p) for p in profile.phases)]

    def index(self, sent: datetime) -> int:
        """The index into :attr:`profiles` of the profile for a message sent at ``sent``."""
        return bisect.bisect_right(self.starts, sent) if self.starts else 0

    def at(self, sent: datetime) -> SimulateProfile:
        """The profile in force for a message sent at ``sent``."""
        return self.profiles[self.index(sent)]


def ordered(starts: list[datetime]) -> list[int]:
    """The positions of the phases that do not start after the one before them."""
    return [i for i in range(1, len(starts)) if starts[i] <= starts[i - 1]]
