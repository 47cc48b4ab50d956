"""The bounded sandbox message templates render in.

An immutable sandboxed jinja2 environment with strict undefined, made safe against templates
that try to take the validator's memory and time: every operation that could build a large
value from a small template (``*``, ``+``, ``%``, ``~``, ``str.format``, ``center``,
``replace``, ``join``, the ``indent`` or ``wordwrap`` filters, ...) is checked *before* it
runs, every value it builds is measured after, each render has a budget of steps (each loop
turn, call, filter and output costs some, larger values cost more) and a time limit, and a
message longer than :data:`MAX_MESSAGE_LENGTH` is refused as it is written.
:data:`ENVIRONMENT` is the one environment; :mod:`harness.scenario.templates` uses it.
"""

from __future__ import annotations

import operator
import re
import time
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from functools import update_wrapper
from types import BuiltinMethodType, MethodType
from typing import Any, cast

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context, Undefined
from jinja2.sandbox import (
    ImmutableSandboxedEnvironment,
    SandboxedEscapeFormatter,
    SandboxedFormatter,
)
from jinja2.utils import generate_lorem_ipsum
from jinja2.visitor import NodeTransformer
from markupsafe import Markup

MAX_BUILT_LENGTH = 100_000
"""The longest string or list (in characters or items) one template operation may build."""
MAX_MESSAGE_LENGTH = 100_000
"""The longest message a template may render, in characters (before stripping)."""
MAX_TEMPLATE_LENGTH = 20_000
"""The longest template text, in characters (compiling takes about 0.1 ms an expression)."""
MAX_STEPS = 20_000
"""The work one render may do: a loop turn, call, filter or output costs at least one step,
plus one per 100 characters it handles (so a render builds at most about two million)."""
MAX_SECONDS = 2.0
"""A last resort: no render may take longer than this, whatever its steps."""
_MAX_POWER_BITS = 4096
_CHARACTERS_PER_STEP = 100


class TemplateProblem(ValueError):
    """A template failed to compile or render; the message says why."""


class _TooCostly(SecurityError):
    """A render ran out of steps or time."""


# -- the work budget of the render in progress --------------------------------------------------


class _Budget:
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


_ACTIVE: ContextVar[_Budget | None] = ContextVar("shopper_template_budget", default=None)


def _charge(steps: int = 1, characters: int = 0) -> None:
    """Count work against the render in progress (none while compiling)."""
    budget = _ACTIVE.get()
    if budget is not None:
        budget.charge(steps + characters // _CHARACTERS_PER_STEP)


# -- measuring values ---------------------------------------------------------------------------

_OPAQUE_HINTS = {
    "builtin_function_or_method": " (a method: call it, with '()')",
    "method": " (a method: call it, with '()')",
    "function": " (a function: call it, with '()')",
    "Macro": " (a macro: call it, with '()')",
    "generator": " (write '|list' to make it a list)",
    "type": "",
}


def _weight(value: Any, *, written: bool = False) -> int:
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


def _checked(value: Any, *, written: bool = False) -> int:
    """The weight of ``value``, refusing it if it is too large to handle."""
    weight = _weight(value, written=written)
    if weight > MAX_BUILT_LENGTH:
        raise SecurityError(f"a value larger than {MAX_BUILT_LENGTH:,} characters cannot be "
                            "used in a template")
    return weight


def _refuse_over(what: str, size: int, unit: str = "characters") -> None:
    if size > MAX_BUILT_LENGTH:
        raise SecurityError(f"{what} would build {size:,} {unit} (at most "
                            f"{MAX_BUILT_LENGTH:,} allowed)")


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _length(value: Any) -> int:
    try:
        return len(value)
    except TypeError:
        return 0


def _built(value: Any, what: str) -> Any:
    """Measure what an operation built: too long is refused, and its size is charged."""
    size = _length(value) if isinstance(value, (str, bytes, list, tuple, dict, set)) else 0
    _refuse_over(what, size, "characters" if isinstance(value, (str, bytes)) else "items")
    _charge(1, size)
    return value


# -- formatting: `%`, str.format and the `format` filter ----------------------------------------

_PERCENT = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?(.)", re.S)
_DIGITS = re.compile(r"\d+")


def _check_percent(what: str, pattern: str | bytes, values: Any) -> None:
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
                widest = max([widest, *(abs(i) for i in items if _int(i) is not None)])
            elif number:
                widest = max(widest, int(number))
    _refuse_over(what, widest, "characters in one field")
    biggest = max((_checked(item, written=True) for item in items), default=0)
    _refuse_over(what, len(text) + len(specs) * (biggest + widest))


class _FieldCheck:
    """``str.format`` field by field: each field's width and value are checked, and the text
    written so far is counted."""

    written = 0

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        _checked(value, written=True)
        return super().convert_field(value, conversion)  # type: ignore[misc]

    def format_field(self, value: Any, format_spec: str) -> Any:
        _checked(value, written=True)
        for number in _DIGITS.findall(format_spec):
            _refuse_over("'format'", int(number), "characters in one field")
        text = super().format_field(value, format_spec)  # type: ignore[misc]
        self.written += len(text)
        _refuse_over("'format'", self.written)
        _charge(1, len(text))
        return text


class _Formatter(_FieldCheck, SandboxedFormatter):
    pass


class _EscapeFormatter(_FieldCheck, SandboxedEscapeFormatter):
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
        width = _int(_argument(args, kwargs, 0, "width"))
        _refuse_over(what, width or 0)
    elif name == "expandtabs":
        size = _int(_argument(args, kwargs, 0, "tabsize", 8)) or 0
        tabs = owner.count("\t") if isinstance(owner, str) else owner.count(b"\t")
        _refuse_over(what, len(owner) + tabs * size)
    elif name == "replace":
        old, new = _argument(args, kwargs, 0, "old"), _argument(args, kwargs, 1, "new")
        count = _int(_argument(args, kwargs, 2, "count", -1))
        kind = str if isinstance(owner, str) else (bytes, bytearray)
        if isinstance(old, kind) and isinstance(new, kind):
            hits = owner.count(old) if old else len(owner) + 1  # type: ignore[arg-type]
            if count is not None and count >= 0:
                hits = min(hits, count)
            _refuse_over(what, len(owner) + hits * max(0, len(new) - len(old)))
    elif name == "join" and args:
        items = list(args[0]) if not isinstance(args[0], (list, tuple)) else args[0]
        _charge(1, len(items))
        _refuse_over(what, sum(_length(item) for item in items)
                     + len(owner) * max(0, len(items) - 1))
        return (items, *args[1:])
    elif name == "translate" and args and isinstance(args[0], Mapping):
        longest = max((_length(v) for v in args[0].values()), default=1)
        _refuse_over(what, len(owner) * max(1, longest))
    return args


def _check_call(target: Any, args: tuple[Any, ...],
                kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
    """Refuse calls that would build too much before they run; return the arguments."""
    owner = getattr(target, "__self__", None)
    if isinstance(target, (BuiltinMethodType, MethodType)):
        name = target.__name__
        if isinstance(owner, (str, bytes, bytearray)):
            return _check_str_method(name, owner, args, kwargs)
        if isinstance(owner, int) and name == "to_bytes":
            _refuse_over("'to_bytes'", _int(_argument(args, kwargs, 0, "length", 1)) or 0,
                         "bytes")
    elif target is generate_lorem_ipsum:
        paragraphs = _int(_argument(args, kwargs, 0, "n", 5)) or 0
        words = _int(_argument(args, kwargs, 3, "max", 100)) or 0
        _refuse_over("'lipsum'", paragraphs * words * 8)
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
    size = _length(value) if isinstance(value, (str, bytes)) else _weight(value)
    if name == "center":
        _refuse_over(what, _int(_argument(args, kwargs, 1, "width", 80)) or 0)
    elif name == "indent":
        width = _argument(args, kwargs, 1, "width", 4)
        step = len(width) if isinstance(width, str) else _int(width) or 0
        lines = str(value).count("\n") + 1 if isinstance(value, str) else size
        _refuse_over(what, size + lines * step)
    elif name == "wordwrap":
        wrap = _argument(args, kwargs, 4, "wrapstring") or "\n"
        _refuse_over(what, size + (size + 1) * _length(wrap))
    elif name == "format":
        _check_percent(what, str(value), tuple(args[1:]) or kwargs)
    elif name == "join":
        joiner = _argument(args, kwargs, 1, "d", "")
        items = value if isinstance(value, (list, tuple)) else list(value)
        _charge(1, len(items))
        _refuse_over(what, _checked(items, written=True) + len(items) * _length(joiner))
        return (items, *args[1:])
    elif name == "replace":
        old, new = _argument(args, kwargs, 1, "old"), _argument(args, kwargs, 2, "new")
        text = str(value)
        if isinstance(old, str) and isinstance(new, str):
            hits = text.count(old) if old else len(text) + 1
            _refuse_over(what, len(text) + hits * max(0, len(new) - len(old)))
    elif name == "batch":
        _refuse_over(what, _int(_argument(args, kwargs, 1, "linecount")) or 0, "items")
    elif name == "slice":
        _refuse_over(what, _int(_argument(args, kwargs, 1, "slices")) or 0, "lists")
    elif name in ("tojson", "pprint"):
        indent = _argument(args, kwargs, 1, "indent") if name == "tojson" else 1
        step = len(indent) if isinstance(indent, str) else _int(indent) or 0
        _refuse_over(what, size * (1 + step * 4))
    elif name == "sum":
        start = _argument(args, kwargs, 2, "start", 0)
        if not isinstance(start, (int, float)):
            raise SecurityError("the 'sum' filter adds numbers only")
    return args


def _guard_filter(name: str, function: Callable[..., Any], *, test: bool = False) -> Any:
    """``function`` (a filter or test), measuring its value and arguments first and its
    result after."""
    injected = 1 if getattr(function, "jinja_pass_arg", None) is not None else 0
    # (`join` writes the items of its value, which may be a generator: see _check_filter.)
    written = (name in ("lower", "upper")) if test else name not in {*_NOT_WRITTEN, "join"}

    def guarded(*args: Any, **kwargs: Any) -> Any:
        own = args[injected:]
        weight = sum(_checked(a, written=written and i == 0) for i, a in enumerate(own))
        weight += sum(_checked(v) for v in kwargs.values())
        _charge(1, weight)
        if not test:
            args = (*args[:injected], *_check_filter(name, own, kwargs))
        return _built(function(*args, **kwargs), f"the {name!r} filter")

    return update_wrapper(guarded, function)


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
        self.filters = {name: _guard_filter(name, f) for name, f in self.filters.items()}
        self.tests = {name: _guard_filter(name, cast("Callable[..., Any]", f), test=True)
                      for name, f in self.tests.items()}

    # Parsing: loop turns, macro and block bodies, `~`, comparisons and slices are counted.
    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = _Counted().visit(super()._parse(source, name, filename))
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
            if (_int(left) is not None and _int(right) is not None
                    and left.bit_length() + right.bit_length() > _MAX_POWER_BITS):
                raise SecurityError("'*' would build a number too large to write")
        elif (operator == "**" and isinstance(left, int) and isinstance(right, int)
              and abs(left) > 1 and right * abs(left).bit_length() > _MAX_POWER_BITS):
            raise SecurityError("'**' would build a number too large to write")
        elif operator == "+" and isinstance(left, (str, list, tuple)) and isinstance(
                right, (str, list, tuple)):
            _refuse_over(what, len(left) + len(right), "items")
        elif operator == "%" and isinstance(left, (str, bytes)):
            _check_percent(what, left, right)
        _charge(1, _weight(left) + _weight(right))
        return _built(super().call_binop(context, operator, left, right), what)

    def call(__self, __context: Context, __obj: Any, *args: Any,
             **kwargs: Any) -> Any:
        own = {k: v for k, v in kwargs.items() if k not in ("_loop_vars", "_block_vars")}
        weight = sum(map(_checked, args)) + sum(map(_checked, own.values()))
        _charge(1, weight)
        args = _check_call(__obj, args, own)
        name = getattr(__obj, "__name__", type(__obj).__name__)
        return _built(super().call(__context, __obj, *args, **kwargs), f"{name!r}")

    def getattr(self, obj: Any, attribute: str) -> Any:
        _charge()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _charge()
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
                formatter = _EscapeFormatter(self, escape=pattern.escape)
            else:
                formatter = _Formatter(self)
            return type(pattern)(formatter.vformat(pattern, args, mapping))

        return update_wrapper(wrapper, value)

    # Called by the code `_Counted` adds to templates.
    def shopper_charge(self, steps: int) -> str:
        _charge(steps)
        return ""

    def shopper_test(self, steps: int, value: Any) -> Any:
        _charge(steps)
        return value

    def shopper_concat(self, *parts: Any) -> str:
        _refuse_over("'~'", sum(_checked(part, written=True) for part in parts))
        return "".join(map(str, parts))

    def shopper_compare(self, left: Any, *operations: Any) -> bool:
        for op, right in zip(operations[::2], operations[1::2], strict=True):
            if not _COMPARISONS[op](left, right):
                return False
            left = right
        return True

    def shopper_slice(self, value: Any, start: Any, stop: Any, step: Any) -> Any:
        return _built(value[start:stop:step], "a slice")


def _finalize(value: Any) -> Any:
    """Every ``{{ ... }}`` output: data only, not too large, counted."""
    _charge(1, _checked(value, written=True))
    return value


def _call(name: str, args: list[nodes.Expr], lineno: int) -> nodes.Call:
    return nodes.Call(nodes.EnvironmentAttribute(name, lineno=lineno), args, [], None, None,
                      lineno=lineno)


def _static_steps(body: Iterable[nodes.Node]) -> int:
    """What running ``body`` once costs, before any call in it: a step per node and per 100
    characters of text."""
    steps = 1
    for statement in body:
        for node in (statement, *statement.find_all(nodes.Node)):
            steps += 1
            if isinstance(node, nodes.TemplateData):
                steps += len(node.data) // _CHARACTERS_PER_STEP
    return steps


class _Counted(NodeTransformer):
    """Rewrite a parsed template so that each loop turn (also of a filtered or recursive
    loop) and each macro, call-block and block body charges its static cost, and ``~``,
    comparisons and slices, which jinja runs as plain Python, are measured."""

    def _charge_body(self, node: nodes.For | nodes.Macro | nodes.CallBlock | nodes.Block
                     ) -> None:
        steps = _static_steps(node.body)
        node.body.insert(0, nodes.ExprStmt(
            _call("shopper_charge", [nodes.Const(steps)], node.lineno), lineno=node.lineno))

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        self._charge_body(node)
        if node.test is not None:
            test = cast(nodes.Expr, node.test)
            node.test = _call("shopper_test", [nodes.Const(1), test], node.lineno)
        return node

    def visit_Macro(self, node: nodes.Macro) -> nodes.Node:
        self.generic_visit(node)
        self._charge_body(node)
        return node

    def visit_CallBlock(self, node: nodes.CallBlock) -> nodes.Node:
        self.generic_visit(node)
        self._charge_body(node)
        return node

    def visit_Block(self, node: nodes.Block) -> nodes.Node:
        self.generic_visit(node)
        self._charge_body(node)
        return node

    def _refuse(self, node: nodes.Node, tag: str) -> nodes.Node:
        raise TemplateSyntaxError(f"'{{% {tag} %}}' is not available: a message template "
                                  "cannot use other templates", node.lineno)

    def visit_Extends(self, node: nodes.Extends) -> nodes.Node:
        return self._refuse(node, "extends")

    def visit_Include(self, node: nodes.Include) -> nodes.Node:
        return self._refuse(node, "include")

    def visit_Import(self, node: nodes.Import) -> nodes.Node:
        return self._refuse(node, "import")

    def visit_FromImport(self, node: nodes.FromImport) -> nodes.Node:
        return self._refuse(node, "from ... import")

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _call("shopper_concat", list(node.nodes), node.lineno)

    def visit_Compare(self, node: nodes.Compare) -> nodes.Node:
        self.generic_visit(node)
        args: list[nodes.Expr] = [node.expr]
        for operand in node.ops:
            args += [nodes.Const(operand.op), operand.expr]
        return _call("shopper_compare", args, node.lineno)

    def visit_Getitem(self, node: nodes.Getitem) -> nodes.Node:
        self.generic_visit(node)
        if not isinstance(node.arg, nodes.Slice):
            return node
        parts: list[nodes.Expr] = [part if part is not None else nodes.Const(None)
                 for part in (node.arg.start, node.arg.stop, node.arg.step)]
        return _call("shopper_slice", [node.node, *parts], node.lineno)


class _MessageTemplate(Template):
    """A template whose :meth:`render` runs with a budget and stops at the longest message."""

    def render(self, *args: Any, **kwargs: Any) -> str:
        context = self.new_context(dict(*args, **kwargs))
        budget = _Budget()
        token = _ACTIVE.set(budget)
        try:
            parts: list[str] = []
            written = 0
            for part in self.root_render_func(context):
                written += len(part)
                if written > MAX_MESSAGE_LENGTH:
                    raise SecurityError(f"the message is longer than {MAX_MESSAGE_LENGTH:,} "
                                        "characters")
                budget.charge(len(part) // _CHARACTERS_PER_STEP)
                parts.append(part)
            return "".join(parts)
        finally:
            _ACTIVE.reset(token)


_Sandbox.template_class = _MessageTemplate

ENVIRONMENT = _Sandbox()
