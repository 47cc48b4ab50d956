"""The budget of steps and time one template render may spend.

Each render of a message template gets a :class:`Budget` of :data:`MAX_STEPS` steps and
:data:`MAX_SECONDS` seconds, made the active one for the render's duration; :func:`charge`
counts work (a loop turn, a call, a filter, an output, and one step per
:data:`CHARACTERS_PER_STEP` characters handled) against it, and a render that runs out of
either is stopped with a :class:`~jinja2.exceptions.SecurityError`.
"""

from __future__ import annotations

import time
from contextvars import ContextVar

from jinja2.exceptions import SecurityError

MAX_STEPS = 20_000
"""The work one render may do: a loop turn, call, filter or output costs at least one step,
plus one per 100 characters it handles (so a render builds at most about two million)."""
MAX_SECONDS = 2.0
"""A last resort: no render may take longer than this, whatever its steps."""
CHARACTERS_PER_STEP = 100


class _TooCostly(SecurityError):
    """A render ran out of steps or time."""


class Budget:
    """The steps and time left to one render."""

    __slots__ = ("clock_at", "deadline", "left")

    def __init__(self) -> None:
        self.left = MAX_STEPS
        self.deadline = 0.0  # set at the first look at the clock
        self.clock_at = MAX_STEPS - _STEPS_BETWEEN_CLOCKS  # most renders never need one

    def charge(self, steps: int) -> None:
        self.left -= steps
        if self.left < 0:
            raise _TooCostly(f"the template needs more than {MAX_STEPS:,} steps to render "
                             "(loops, calls or values too large)")
        if self.left <= self.clock_at:  # the clock is read now and then, not every step
            self.clock_at = self.left - _STEPS_BETWEEN_CLOCKS
            now = time.monotonic()
            if not self.deadline:
                self.deadline = now + MAX_SECONDS
            elif now > self.deadline:
                raise _TooCostly(f"the template takes longer than {MAX_SECONDS:g} seconds to "
                                 "render")


_STEPS_BETWEEN_CLOCKS = 64


ACTIVE_BUDGET: ContextVar[Budget | None] = ContextVar("shopper_template_budget", default=None)


def charge(steps: int = 1, characters: int = 0) -> None:
    """Count work against the render in progress (none while compiling)."""
    budget = ACTIVE_BUDGET.get()
    if budget is not None:
        budget.charge(steps + characters // CHARACTERS_PER_STEP)
