"""How far a repeating schedule's stored plan reaches, and extending it as time goes on.

A repeating schedule (``schedule.repeat``) has no end, or one far off: its run stores the
probes due up to :data:`LOOKAHEAD` after the latest pass (and at least its first probe), never
past ``until``. At each pass the runner asks :meth:`Horizon.extend` for what has come within
reach, and it wakes when the stored plan runs out (:meth:`Horizon.next_at`) to extend it
again. The plan itself is :mod:`harness.plan.continuous`'s, a function of the scenario alone,
so the stored plan is the same however often, or from however many processes, it was
extended. How far it reaches is the meta value ``planned_through``.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from harness.plan.continuous import ContinuousPlan
from harness.plan.probe import Probe
from harness.scenario.model import Scenario
from harness.store.sqlite import Store

LOOKAHEAD = timedelta(days=1)
"""How far ahead of a pass the stored plan reaches: `shopper status`, `todo` and `export`
show what the next day holds."""
_A_DAY = timedelta(days=1)  # before the start, in every time zone
PLANNED_THROUGH = "planned_through"
"""The meta key: every probe due up to this moment (ISO 8601, UTC) is stored."""


def initial_plan(scenario: Scenario, now: datetime | None) -> tuple[list[Probe], datetime]:
    """The probes a new run of a repeating schedule starts with, and how far they reach:
    those due up to ``now`` + :data:`LOOKAHEAD`, and at least the first (``now`` ``None``:
    a simulated run, whose clock starts at its first probe)."""
    plan = ContinuousPlan(scenario)
    first, end = plan.first_moment(), plan.end()
    if now is not None:
        through = now + LOOKAHEAD if first is None else max(now + LOOKAHEAD, first)
    elif first is not None:
        through = first + LOOKAHEAD
    else:  # it never sends (validation says so first)
        through = end or datetime.combine(scenario.schedule.start, time(0), UTC)
    if end is not None:
        through = min(through, end)
    return plan.between(None, through), through


class Horizon:
    """A run's stored plan of a repeating schedule, and how to take it further."""

    def __init__(self, scenario: Scenario, store: Store,
                 lookahead: timedelta = LOOKAHEAD) -> None:
        self.plan = ContinuousPlan(scenario)
        self.store = store
        self.lookahead = lookahead
        self.end = self.plan.end()
        stored = store.probes()
        reach = store.meta().get(PLANNED_THROUGH)  # written with the plan; else its last probe
        self.through = (datetime.fromisoformat(reach) if reach else
                        max(p.scheduled_at for p in stored) if stored else
                        datetime.combine(scenario.schedule.start, time(0), UTC) - _A_DAY)
        self.count = len(stored)

    def extend(self, now: datetime) -> list[Probe]:
        """Store and return the probes due after the stored plan, up to ``now`` + lookahead
        (never past ``until``)."""
        target = now + self.lookahead
        if self.end is not None:
            target = min(target, self.end)
        if target <= self.through:
            return []
        probes = self.plan.between(self.through, target, self.count)
        self.store.extend_plan(probes, {PLANNED_THROUGH: target.isoformat()})
        self.through = target
        self.count += len(probes)
        return probes

    def next_at(self) -> datetime | None:
        """When the stored plan runs out and must be extended (``None``: it holds the whole
        schedule)."""
        if self.end is not None and self.through >= self.end:
            return None
        return self.through
