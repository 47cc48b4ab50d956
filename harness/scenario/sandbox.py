"""The bounded sandbox message templates render in.

An immutable sandboxed jinja2 environment with strict undefined, made safe against templates
that try to take the validator's memory and time: every operation that could build a large
value from a small template (``*``, ``+``, ``%``, ``~``, ``str.format``, ``center``,
``replace``, ``join``, the ``indent`` or ``wordwrap`` filters, ...) is checked *before* it
runs (:mod:`harness.scenario.sandbox_checks`), every value it builds is measured after
(:mod:`harness.scenario.sandbox_values`), each render has a budget of steps (each loop turn,
call, filter and output costs some, larger values cost more) and a time limit
(:mod:`harness.scenario.sandbox_budget`, charged also by the code
:mod:`harness.scenario.sandbox_counting` adds to templates), and a message longer than
:data:`MAX_MESSAGE_LENGTH` is refused as it is written. :data:`ENVIRONMENT` is the one
environment; :mod:`harness.scenario.templates` uses it.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from functools import update_wrapper
from types import BuiltinMethodType, MethodType
from typing import Any, cast

from jinja2 import StrictUndefined, Template, nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter
from markupsafe import Markup

from harness.scenario.sandbox_budget import ACTIVE_BUDGET, CHARACTERS_PER_STEP, Budget, charge
from harness.scenario.sandbox_checks import (
    CheckedEscapeFormatter,
    CheckedFormatter,
    check_call,
    check_percent,
    guard_filter,
)
from harness.scenario.sandbox_counting import Counted
from harness.scenario.sandbox_values import (
    MAX_BUILT_LENGTH,
    checked_weight,
    int_or_none,
    measure_built,
    refuse_over,
    weight_of,
)

MAX_MESSAGE_LENGTH = 100_000
"""The longest message a template may render, in characters (before stripping)."""
MAX_TEMPLATE_LENGTH = 20_000
"""The longest template text, in characters (compiling takes about 0.1 ms an expression)."""
_MAX_POWER_BITS = 4096


class TemplateProblem(ValueError):
    """A template failed to compile or render; the message says why."""


_COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq, "ne": operator.ne, "gt": operator.gt, "gteq": operator.ge,
    "lt": operator.lt, "lteq": operator.le,
    "in": lambda a, b: a in b, "notin": lambda a, b: a not in b,
}


class _Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, where no operation may build a huge value and no render may
    run long (see the module's description)."""

    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})

    def __init__(self) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=False,
                         keep_trailing_newline=False, finalize=_finalize)
        self.filters = {name: guard_filter(name, f) for name, f in self.filters.items()}
        self.tests = {name: guard_filter(name, cast("Callable[..., Any]", f), test=True)
                      for name, f in self.tests.items()}

    # Parsing: loop turns, macro and block bodies, `~`, comparisons and slices are counted.
    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = Counted().visit(super()._parse(source, name, filename))
        tree.set_environment(self)
        return tree  # type: ignore[no-any-return]

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        what = f"{operator!r}"
        if operator == "*":
            for items, count in ((left, right), (right, left)):
                if isinstance(items, (str, list, tuple)) and isinstance(count, int):
                    size = len(items) * count
                    if size > MAX_BUILT_LENGTH:
                        raise SecurityError(f"'*' would build {size:,} items (at most "
                                            f"{MAX_BUILT_LENGTH:,} allowed)")
            if (int_or_none(left) is not None and int_or_none(right) is not None
                    and left.bit_length() + right.bit_length() > _MAX_POWER_BITS):
                raise SecurityError("'*' would build a number too large to write")
        elif (operator == "**" and isinstance(left, int) and isinstance(right, int)
              and abs(left) > 1 and right * abs(left).bit_length() > _MAX_POWER_BITS):
            raise SecurityError("'**' would build a number too large to write")
        elif operator == "+" and isinstance(left, (str, list, tuple)) and isinstance(
                right, (str, list, tuple)):
            refuse_over(what, len(left) + len(right), "items")
        elif operator == "%" and isinstance(left, (str, bytes)):
            check_percent(what, left, right)
        charge(1, weight_of(left) + weight_of(right))
        return measure_built(super().call_binop(context, operator, left, right), what)

    def call(__self, __context: Context, __obj: Any, *args: Any,
             **kwargs: Any) -> Any:
        own = {k: v for k, v in kwargs.items() if k not in ("_loop_vars", "_block_vars")}
        weight = sum(map(checked_weight, args)) + sum(map(checked_weight, own.values()))
        charge(1, weight)
        args = check_call(__obj, args, own)
        name = getattr(__obj, "__name__", type(__obj).__name__)
        return measure_built(super().call(__context, __obj, *args, **kwargs), f"{name!r}")

    def getattr(self, obj: Any, attribute: str) -> Any:
        charge()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        charge()
        return super().getitem(obj, argument)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """``str.format`` and ``str.format_map``, sandboxed, field by field checked."""
        if not isinstance(value, (MethodType, BuiltinMethodType)) or value.__name__ not in (
                "format", "format_map") or not isinstance(value.__self__, str):
            return None
        pattern: str = value.__self__
        is_map = value.__name__ == "format_map"

        def wrapper(*args: Any, **kwargs: Any) -> str:
            if is_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                mapping: Mapping[str, Any] = args[0]
                args = ()
            else:
                mapping = kwargs
            formatter: SandboxedFormatter
            if isinstance(pattern, Markup):
                formatter = CheckedEscapeFormatter(self, escape=pattern.escape)
            else:
                formatter = CheckedFormatter(self)
            return type(pattern)(formatter.vformat(pattern, args, mapping))

        return update_wrapper(wrapper, value)

    # Called by the code `Counted` adds to templates.
    def shopper_charge(self, steps: int) -> str:
        charge(steps)
        return ""

    def shopper_test(self, steps: int, value: Any) -> Any:
        charge(steps)
        return value

    def shopper_concat(self, *parts: Any) -> str:
        refuse_over("'~'", sum(checked_weight(part, written=True) for part in parts))
        return "".join(map(str, parts))

    def shopper_compare(self, left: Any, *operations: Any) -> bool:
        for op, right in zip(operations[::2], operations[1::2], strict=True):
            if not _COMPARISONS[op](left, right):
                return False
            left = right
        return True

    def shopper_slice(self, value: Any, start: Any, stop: Any, step: Any) -> Any:
        return measure_built(value[start:stop:step], "a slice")


def _finalize(value: Any) -> Any:
    """Every ``{{ ... }}`` output: data only, not too large, counted."""
    charge(1, checked_weight(value, written=True))
    return value


class _MessageTemplate(Template):
    """A template whose :meth:`render` runs with a budget and stops at the longest message."""

    def render(self, *args: Any, **kwargs: Any) -> str:
        context = self.new_context(dict(*args, **kwargs))
        budget = Budget()
        token = ACTIVE_BUDGET.set(budget)
        try:
            parts: list[str] = []
            written = 0
            for part in self.root_render_func(context):
                written += len(part)
                if written > MAX_MESSAGE_LENGTH:
                    raise SecurityError(f"the message is longer than {MAX_MESSAGE_LENGTH:,} "
                                        "characters")
                budget.charge(len(part) // CHARACTERS_PER_STEP)
                parts.append(part)
            return "".join(parts)
        finally:
            ACTIVE_BUDGET.reset(token)


_Sandbox.template_class = _MessageTemplate

ENVIRONMENT = _Sandbox()
