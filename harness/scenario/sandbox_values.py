"""Measuring the values a template handles, and refusing those too large to build.

:func:`weight_of` says about how many characters a value takes written out (and, for values
about to be written into a message, refuses what is not data, such as a method);
:func:`checked_weight` and :func:`refuse_over` refuse anything larger than
:data:`MAX_BUILT_LENGTH`, and :func:`measure_built` measures what an operation built and
charges it to the render's budget.
"""

from __future__ import annotations

from typing import Any

from jinja2.exceptions import SecurityError
from jinja2.runtime import Undefined

from harness.scenario.sandbox_budget import charge

MAX_BUILT_LENGTH = 100_000
"""The longest string or list (in characters or items) one template operation may build."""

_OPAQUE_HINTS = {
    "builtin_function_or_method": " (a method: call it, with '()')",
    "method": " (a method: call it, with '()')",
    "function": " (a function: call it, with '()')",
    "Macro": " (a macro: call it, with '()')",
    "generator": " (write '|list' to make it a list)",
    "type": "",
}


def weight_of(value: Any, *, written: bool = False) -> int:
    """About how many characters ``value`` takes when written out, counted no further than
    just past :data:`MAX_BUILT_LENGTH`. With ``written``, refuse values whose text would be
    Python's description of an object (``<built-in method upper ...>``) rather than data:
    they have nothing to say in a message, and memory addresses make plans differ run to run.
    """
    if isinstance(value, str):
        return len(value)
    total = 0
    stack = [value]
    while stack and total <= MAX_BUILT_LENGTH:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item) + 2
        elif isinstance(item, (bool, int)):
            total += item.bit_length() // 3 + 1
        elif item is None or isinstance(item, (float, range)):
            total += 8
        elif isinstance(item, (bytes, bytearray)):
            total += 4 * len(item) + 3
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += 2 + len(item)
            stack.extend(item)
        elif isinstance(item, dict):
            total += 2 + 2 * len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, Undefined):
            if written:
                str(item)  # a StrictUndefined raises its own clear message
            total += 1
        elif written:
            kind = type(item).__name__
            raise SecurityError(f"a {kind} object cannot be written into a message"
                                f"{_OPAQUE_HINTS.get(kind, '')}")
        else:
            total += 1
    return total


def checked_weight(value: Any, *, written: bool = False) -> int:
    """The weight of ``value``, refusing it if it is too large to handle."""
    weight = weight_of(value, written=written)
    if weight > MAX_BUILT_LENGTH:
        raise SecurityError(f"a value larger than {MAX_BUILT_LENGTH:,} characters cannot be "
                            "used in a template")
    return weight


def refuse_over(what: str, size: int, unit: str = "characters") -> None:
    if size > MAX_BUILT_LENGTH:
        raise SecurityError(f"{what} would build {size:,} {unit} (at most "
                            f"{MAX_BUILT_LENGTH:,} allowed)")


def int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def length_of(value: Any) -> int:
    try:
        return len(value)
    except TypeError:
        return 0


def measure_built(value: Any, what: str) -> Any:
    """Measure what an operation built: too long is refused, and its size is charged."""
    size = length_of(value) if isinstance(value, (str, bytes, list, tuple, dict, set)) else 0
    refuse_over(what, size, "characters" if isinstance(value, (str, bytes)) else "items")
    charge(1, size)
    return value
