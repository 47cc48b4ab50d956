"""How many probes a scenario plans, worked out from its fields without expanding anything.

A few lines of YAML can multiply into millions of probes (brands x weeks x weekdays x messages a
day, aliases repeating brands); expanding them all would take gigabytes. Validation refuses a
plan above a limit from this count alone, naming the fields that multiply.
"""

from __future__ import annotations

from typing import NamedTuple

from harness.plan.calendar import planned_weeks, send_dates
from harness.scenario.model import Scenario

MAX_PROBES = 1_000_000
"""The default limit on a plan's size: about 0.9 GB of memory and half a minute to expand
(``benchmarks/plan_size.py``), a day of sending at ten a second. ``--max-probes`` moves it."""


class PlanSize(NamedTuple):
    """The factors of a plan's size: every brand gets ``per_day`` probes on every sending day."""

    brands: int
    sending_days: int
    per_day: int
    repeat_weeks: int | None = None
    """A repeating schedule's: the weeks counted (through ``until``, or its first weeks)."""

    @property
    def probes(self) -> int:
        """The number of probes the plan has."""
        return self.brands * self.sending_days * self.per_day


def plan_size(scenario: Scenario, weeks: int | None = None) -> PlanSize:
    """The size of ``scenario``'s plan (exactly ``len(build_plan(scenario))``); ``weeks``:
    of its first that many weeks."""
    schedule = scenario.schedule
    counted = (weeks or planned_weeks(schedule)) if schedule.repeat else None
    return PlanSize(len(scenario.brands), len(send_dates(schedule, weeks)),
                    schedule.messages_per_brand_per_day, counted)


def too_big(size: PlanSize, limit: int, weeks: int, weekdays: int) -> str | None:
    """Why a plan of ``size`` is refused under ``limit``, or ``None`` if it is not."""
    if size.probes <= limit:
        return None
    weeks_are = (f"schedule.weeks {weeks:,}" if size.repeat_weeks is None else
                 f"{size.repeat_weeks:,} weeks of the repeating schedule")
    return (f"the plan would have {size.probes:,} probes, over the limit of {limit:,}: "
            f"{size.brands:,} brands x {size.sending_days:,} sending days ({weeks_are} "
            f"x {weekdays} weekdays, less exclude_dates) x {size.per_day} "
            "schedule.messages_per_brand_per_day; make the schedule smaller, or raise the "
            "limit with --max-probes")
