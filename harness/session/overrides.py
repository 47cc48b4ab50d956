"""`--start` and `--until`: a scenario's schedule with its start or end replaced, checked as
the file's own values are, so a weekly job need not rewrite the file (as ``--seed`` replaces
its seed)."""

from __future__ import annotations

from datetime import date

from harness.errors import UsageError
from harness.scenario.located import format_path
from harness.scenario.model import Scenario
from harness.scenario.schedule_checks import schedule_problems
from harness.session.scenarios import bound_plan


def with_schedule(scenario: Scenario, *, start: date | None = None, until: date | None = None,
                  max_probes: int | None = None) -> Scenario:
    """``scenario`` with its schedule's ``start`` and ``until`` replaced, where given. A
    problem they make (an ``until`` before the start, on a schedule that does not repeat, no
    sending day left, a plan too big) is a :class:`~harness.errors.UsageError` naming them."""
    update = {key: value for key, value in (("start", start), ("until", until))
              if value is not None}
    if not update:
        return scenario
    schedule = scenario.schedule.model_copy(update=update)
    changed = scenario.model_copy(update={"schedule": schedule})
    problems = [f"schedule.{format_path(path)}: {message}"
                for path, message, _ in schedule_problems(schedule)]
    if not problems:
        bound_plan(changed, lambda path, message, key=False: problems.append(
            f"{format_path(path)}: {message}"), max_probes)
    if problems:
        flags = " ".join(f"--{key} {value.isoformat()}" for key, value in update.items())
        raise UsageError(f"with {flags}: " + "; ".join(problems))
    return changed
