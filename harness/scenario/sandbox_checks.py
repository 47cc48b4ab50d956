"""The checks that refuse a template operation before it runs, if it would build too much.

Formatting (``%``, ``str.format`` and the ``format`` filter), calls of string methods and
``lipsum``, and every filter and test are checked against their arguments before they run
(:func:`check_percent`, the checked formatters, :func:`check_call` and :func:`guard_filter`),
so that a small template cannot make one operation build a huge value; what they build is
measured after.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import update_wrapper
from types import BuiltinMethodType, MethodType
from typing import Any

from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEscapeFormatter, SandboxedFormatter
from jinja2.utils import generate_lorem_ipsum

from harness.scenario.sandbox_budget import charge
from harness.scenario.sandbox_values import (
    checked_weight,
    int_or_none,
    length_of,
    measure_built,
    refuse_over,
    weight_of,
)

# -- formatting: `%`, str.format and the `format` filter ----------------------------------------

_PERCENT = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?(.)", re.S)
_DIGITS = re.compile(r"\d+")


def check_percent(what: str, pattern: str | bytes, values: Any) -> None:
    """Refuse ``pattern % values`` if it would build more than MAX_BUILT_LENGTH characters."""
    text = pattern.decode("latin-1") if isinstance(pattern, bytes) else pattern
    specs = [m for m in _PERCENT.finditer(text) if m.group(3) != "%"]
    if isinstance(values, tuple):
        items: list[Any] = list(values)
    elif isinstance(values, Mapping):
        items = list(values.values())
    else:
        items = [values]
    widest = 0
    for match in specs:
        for number in match.group(1, 2):
            if number == "*":
                widest = max([widest, *(abs(i) for i in items if int_or_none(i) is not None)])
            elif number:
                widest = max(widest, int(number))
    refuse_over(what, widest, "characters in one field")
    biggest = max((checked_weight(item, written=True) for item in items), default=0)
    refuse_over(what, len(text) + len(specs) * (biggest + widest))


class _FieldCheck:
    """``str.format`` field by field: each field's width and value are checked, and the text
    written so far is counted."""

    written = 0

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        checked_weight(value, written=True)
        return super().convert_field(value, conversion)  # type: ignore[misc]

    def format_field(self, value: Any, format_spec: str) -> Any:
        checked_weight(value, written=True)
        for number in _DIGITS.findall(format_spec):
            refuse_over("'format'", int(number), "characters in one field")
        text = super().format_field(value, format_spec)  # type: ignore[misc]
        self.written += len(text)
        refuse_over("'format'", self.written)
        charge(1, len(text))
        return text


class CheckedFormatter(_FieldCheck, SandboxedFormatter):
    pass


class CheckedEscapeFormatter(_FieldCheck, SandboxedEscapeFormatter):
    pass


# -- calls, filters and tests -------------------------------------------------------------------


def _argument(args: tuple[Any, ...], kwargs: Mapping[str, Any], index: int, name: str,
              default: Any = None) -> Any:
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)


def _check_str_method(name: str, owner: str | bytes | bytearray, args: tuple[Any, ...],
                      kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
    """Refuse string methods that would build too much; return the arguments to use."""
    what = f"{name!r}"
    if name in ("center", "ljust", "rjust", "zfill"):
        width = int_or_none(_argument(args, kwargs, 0, "width"))
        refuse_over(what, width or 0)
    elif name == "expandtabs":
        size = int_or_none(_argument(args, kwargs, 0, "tabsize", 8)) or 0
        tabs = owner.count("\t") if isinstance(owner, str) else owner.count(b"\t")
        refuse_over(what, len(owner) + tabs * size)
    elif name == "replace":
        old, new = _argument(args, kwargs, 0, "old"), _argument(args, kwargs, 1, "new")
        count = int_or_none(_argument(args, kwargs, 2, "count", -1))
        kind = str if isinstance(owner, str) else (bytes, bytearray)
        if isinstance(old, kind) and isinstance(new, kind):
            hits = owner.count(old) if old else len(owner) + 1  # type: ignore[arg-type]
            if count is not None and count >= 0:
                hits = min(hits, count)
            refuse_over(what, len(owner) + hits * max(0, len(new) - len(old)))
    elif name == "join" and args:
        items = list(args[0]) if not isinstance(args[0], (list, tuple)) else args[0]
        charge(1, len(items))
        refuse_over(what, sum(length_of(item) for item in items)
                     + len(owner) * max(0, len(items) - 1))
        return (items, *args[1:])
    elif name == "translate" and args and isinstance(args[0], Mapping):
        longest = max((length_of(v) for v in args[0].values()), default=1)
        refuse_over(what, len(owner) * max(1, longest))
    return args


def check_call(target: Any, args: tuple[Any, ...],
                kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
    """Refuse calls that would build too much before they run; return the arguments."""
    owner = getattr(target, "__self__", None)
    if isinstance(target, (BuiltinMethodType, MethodType)):
        name = target.__name__
        if isinstance(owner, (str, bytes, bytearray)):
            return _check_str_method(name, owner, args, kwargs)
        if isinstance(owner, int) and name == "to_bytes":
            refuse_over("'to_bytes'", int_or_none(_argument(args, kwargs, 0, "length", 1)) or 0,
                         "bytes")
    elif target is generate_lorem_ipsum:
        paragraphs = int_or_none(_argument(args, kwargs, 0, "n", 5)) or 0
        words = int_or_none(_argument(args, kwargs, 3, "max", 100)) or 0
        refuse_over("'lipsum'", paragraphs * words * 8)
    return args


_NOT_WRITTEN = frozenset({
    "abs", "attr", "batch", "count", "d", "default", "dictsort", "first", "float", "groupby",
    "int", "items", "last", "length", "list", "map", "max", "min", "random", "reject",
    "rejectattr", "reverse", "round", "select", "selectattr", "slice", "sort", "sum", "unique",
})
"""Filters that do not turn their value into text (the others refuse what is not data)."""


def _check_filter(name: str, args: tuple[Any, ...],
                  kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
    """Refuse filter calls that would build too much before they run (``args[0]`` is the
    value); return the arguments to use."""
    what = f"the {name!r} filter"
    value: Any = args[0] if args else None
    size = length_of(value) if isinstance(value, (str, bytes)) else weight_of(value)
    if name == "center":
        refuse_over(what, int_or_none(_argument(args, kwargs, 1, "width", 80)) or 0)
    elif name == "indent":
        width = _argument(args, kwargs, 1, "width", 4)
        step = len(width) if isinstance(width, str) else int_or_none(width) or 0
        lines = str(value).count("\n") + 1 if isinstance(value, str) else size
        refuse_over(what, size + lines * step)
    elif name == "wordwrap":
        wrap = _argument(args, kwargs, 4, "wrapstring") or "\n"
        refuse_over(what, size + (size + 1) * length_of(wrap))
    elif name == "format":
        check_percent(what, str(value), tuple(args[1:]) or kwargs)
    elif name == "join":
        joiner = _argument(args, kwargs, 1, "d", "")
        items = value if isinstance(value, (list, tuple)) else list(value)
        charge(1, len(items))
        refuse_over(what, checked_weight(items, written=True) + len(items) * length_of(joiner))
        return (items, *args[1:])
    elif name == "replace":
        old, new = _argument(args, kwargs, 1, "old"), _argument(args, kwargs, 2, "new")
        text = str(value)
        if isinstance(old, str) and isinstance(new, str):
            hits = text.count(old) if old else len(text) + 1
            refuse_over(what, len(text) + hits * max(0, len(new) - len(old)))
    elif name == "batch":
        refuse_over(what, int_or_none(_argument(args, kwargs, 1, "linecount")) or 0, "items")
    elif name == "slice":
        refuse_over(what, int_or_none(_argument(args, kwargs, 1, "slices")) or 0, "lists")
    elif name in ("tojson", "pprint"):
        indent = _argument(args, kwargs, 1, "indent") if name == "tojson" else 1
        step = len(indent) if isinstance(indent, str) else int_or_none(indent) or 0
        refuse_over(what, size * (1 + step * 4))
    elif name == "sum":
        start = _argument(args, kwargs, 2, "start", 0)
        if not isinstance(start, (int, float)):
            raise SecurityError("the 'sum' filter adds numbers only")
    return args


def guard_filter(name: str, function: Callable[..., Any], *, test: bool = False) -> Any:
    """``function`` (a filter or test), measuring its value and arguments first and its
    result after."""
    injected = 1 if getattr(function, "jinja_pass_arg", None) is not None else 0
    # (`join` writes the items of its value, which may be a generator: see _check_filter.)
    written = (name in ("lower", "upper")) if test else name not in {*_NOT_WRITTEN, "join"}

    def guarded(*args: Any, **kwargs: Any) -> Any:
        own = args[injected:]
        weight = sum(checked_weight(a, written=written and i == 0) for i, a in enumerate(own))
        weight += sum(checked_weight(v) for v in kwargs.values())
        charge(1, weight)
        if not test:
            args = (*args[:injected], *_check_filter(name, own, kwargs))
        return measure_built(function(*args, **kwargs), f"the {name!r} filter")

    return update_wrapper(guarded, function)
