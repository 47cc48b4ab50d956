"""Hostile input, generated: whatever a scenario file holds, loading it gives a scenario or a
:class:`ScenarioError` listing one-line problems, never another exception, quickly; the
command line exits 0 or 2 without a traceback; and no scenario can make a run write outside
its folder.

Hypothesis runs derandomized (the same inputs every time, no example database) with modest
example counts, so the file is deterministic and takes well under a minute. Each test prints
how many inputs it tried (``pytest -s`` shows it) and the module prints the total.
"""

from __future__ import annotations

import contextlib
import copy
import io
import re
import textwrap
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jinja2.sandbox
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.errors import ScenarioError
from harness.scenario import templates, yamlsafe
from harness.scenario.model import Scenario
from harness.session.scenarios import load_scenario, load_scenario_text

from .conftest import SMALL

SLOW = 10.0  # seconds for one input: a generous bound for work that takes milliseconds
PROBLEM_LINE = re.compile(r"^.+:\d+:\d+: .*$")
TRIED: Counter[str] = Counter()


def fuzz(examples: int) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Deterministic hypothesis settings with ``examples`` inputs."""
    return settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


@pytest.fixture(scope="module", autouse=True)
def total_tried() -> Iterator[None]:
    yield
    print(f"\ntest_fuzz: tried {sum(TRIED.values()):,} inputs in all "
          f"({', '.join(f'{name} {count:,}' for name, count in sorted(TRIED.items()))})")


def report(name: str) -> None:
    print(f"{name}: tried {TRIED[name]:,} inputs")


def loads_or_refuses(text: str, what: str) -> Scenario | None:
    """Load ``text``: a scenario, or a ScenarioError of one-line problems; quickly."""
    TRIED[what] += 1
    started = time.monotonic()
    try:
        return load_scenario_text(text, "fuzz.yaml")
    except ScenarioError as exc:
        assert exc.problems
        for problem in exc.problems:
            line = str(problem)
            assert "\n" not in line and "\r" not in line, repr(line)
            assert PROBLEM_LINE.match(line), repr(line)
            assert len(line) < 20_000, line[:200]
        return None
    finally:
        assert time.monotonic() - started < SLOW


# -- (a) anything at all --------------------------------------------------------------------

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(),
                    st.text(max_size=30), st.dates().map(str), st.sampled_from(
                        ["17:30", "2h", "0s", "-1d", "on", "yes", "~", "@acme", "#Acme",
                         "Europe/Paris", "../../etc/passwd", "{{ mention }}", "{env: X}"]))
DATA = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=5),
    st.dictionaries(st.one_of(st.text(max_size=12), st.sampled_from(
        ["id", "name", "templates", "handles", "simulate", "settings", "<<", "x-a"])),
        inner, max_size=5)), max_leaves=25)
SECTIONS = ["name", "title", "seed", "timezone", "personas", "brands", "matchups",
            "categories", "channels", "schedule", "design", "report", "x-anchors", "colour"]


def dump(data: Any) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def scalar(text: str) -> str:
    """``text`` as one double-quoted YAML scalar, on one line."""
    return yaml.safe_dump(text, allow_unicode=True, width=10**9, default_style='"').strip()


def test_arbitrary_text() -> None:
    @fuzz(250)
    @given(st.text(max_size=400))
    def check(text: str) -> None:
        loads_or_refuses(text, "text")

    check()
    report("text")


def test_arbitrary_bytes(tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = tmp_path_factory.mktemp("bytes")

    @fuzz(150)
    @given(st.binary(max_size=400))
    def check(content: bytes) -> None:
        TRIED["bytes"] += 1
        path = folder / "fuzz.yaml"
        path.write_bytes(content)
        started = time.monotonic()
        try:
            load_scenario(path)
        except ScenarioError as exc:
            assert all("\n" not in str(p) for p in exc.problems)
        assert time.monotonic() - started < SLOW

    check()
    report("bytes")


@pytest.mark.slow
def test_arbitrary_yaml_data() -> None:
    @fuzz(200)
    @given(DATA)
    def check(data: Any) -> None:
        loads_or_refuses(dump(data), "yaml data")

    check()
    report("yaml data")


@pytest.mark.slow
def test_arbitrary_sections() -> None:
    @fuzz(200)
    @given(st.dictionaries(st.sampled_from(SECTIONS), DATA, min_size=1))
    def check(sections: dict[str, Any]) -> None:
        loads_or_refuses(dump(sections), "sections")

    check()
    report("sections")


# -- (b) a valid scenario, broken a little ---------------------------------------------------

BASE: dict[str, Any] = yaml.safe_load(SMALL)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if prefix:
        yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, (*prefix, index))


PATHS = list(paths(BASE))
UNICODE = st.one_of(
    st.text(min_size=1, max_size=4),
    st.sampled_from(["\x00", "\x07", "\x1b[31m", "\u202e", "\u200b", "\ufeff", "\ufffe",
                     "\r", "\t", "\n  ", "'", '"', "{{", "}}", "{%", "%}", "&a", "*a", "!!",
                     "<<: ", "😀", "\\ud800", "\\x00", ": ", "- ", "#", "|", ">"]))


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """The small scenario with keys dropped, values replaced by data of any type, and
    characters inserted anywhere in the text."""
    document = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        parent: Any = document
        with contextlib.suppress(KeyError, IndexError, TypeError):
            for part in path[:-1]:
                parent = parent[part]
            if draw(st.booleans()):
                del parent[path[-1]]
            else:
                parent[path[-1]] = draw(DATA)
    text = dump(document)
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(UNICODE) + text[at:]
    return text


def test_the_valid_scenario_loads() -> None:
    assert loads_or_refuses(dump(BASE), "mutations") is not None


@pytest.mark.slow
def test_mutations_of_a_valid_scenario() -> None:
    @fuzz(300)
    @given(mutated())
    def check(text: str) -> None:
        loads_or_refuses(text, "mutations")

    check()
    report("mutations")


# -- templates: generated from pieces of jinja, benign and hostile ---------------------------

NUMBERS = ["0", "1", "-1", "3", "7", "99999", "100001", "10**9", "2**64", "9**99", "0.5"]
ATOMS = ["mention", "'x'", "'a b\\tc'", "''", "brand.name", "persona.name", "persona.id",
         "persona.attributes", "[1, 2]", "(1, 'a')", "{'a': 1}", "range(3)", "none", "true",
         "'%s'", "'{}'", "'{:>9}'", "'x' * 99999", "mention_mode", "channel.platform"]
HOSTILE_ATOMS = ["cycler", "namespace", "lipsum", "dict", "joiner", "self", "range(99999)",
                 "'%*d'", "'{:{}}'", "loop"]
METHODS = ["center", "ljust", "rjust", "zfill", "expandtabs", "format", "replace", "join",
           "translate", "split", "upper", "to_bytes", "encode", "count", "items", "get",
           "startswith", "strip", "title", "splitlines"]
FILTERS = ["center", "indent", "wordwrap", "format", "join", "replace", "batch", "slice",
           "tojson", "sum", "list", "map", "select", "first", "last", "length", "string",
           "upper", "title", "truncate", "default", "unique", "sort", "reverse", "dictsort",
           "items", "int", "float", "round", "abs", "trim", "wordcount", "min", "max"]
OPERATORS = ["+", "-", "*", "/", "//", "%", "**", "~", " in ", " not in ", "==", "<", " and ",
             " or "]


def expressions(atoms: list[str], numbers: list[str],
                operators: list[str] = OPERATORS) -> st.SearchStrategy[str]:
    leaf = st.sampled_from(atoms + numbers)

    def grow(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        arguments = st.lists(inner, max_size=3).map(", ".join)
        return st.one_of(
            st.tuples(inner, st.sampled_from(operators), inner).map(lambda t: f"({''.join(t)})"),
            st.tuples(inner, st.sampled_from(METHODS), arguments).map(
                lambda t: f"{t[0]}.{t[1]}({t[2]})"),
            st.tuples(inner, st.sampled_from(FILTERS), arguments).map(
                lambda t: f"({t[0]})|{t[1]}" + (f"({t[2]})" if t[2] else "")),
            st.tuples(inner, inner).map(lambda t: f"{t[0]}[{t[1]}]"),
            st.tuples(inner, inner, inner).map(lambda t: f"{t[0]}[{t[1]}:{t[2]}]"),
            st.lists(inner, max_size=4).map(lambda items: f"[{', '.join(items)}]"),
        )

    return st.recursive(leaf, grow, max_leaves=8)


def statements(expression: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    def grow(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        body = st.lists(inner, min_size=1, max_size=3).map("".join)
        return st.one_of(
            st.tuples(expression, body).map(
                lambda t: "{% for i in " + t[0] + " %}" + t[1] + "{% endfor %}"),
            st.tuples(expression, body).map(lambda t: "{% if " + t[0] + " %}" + t[1]
                                            + "{% else %}x{% endif %}"),
            st.tuples(expression, body).map(
                lambda t: "{% set ns = namespace(v=" + t[0] + ") %}" + t[1] + "{{ ns.v }}"),
            body.map(lambda b: "{% macro m(v) %}" + b + "{% endmacro %}{{ m(1) }}{{ m(2) }}"),
        )

    output = expression.map(lambda e: "{{ " + e + " }}")
    return st.recursive(output | st.sampled_from(["text ", "{{ mention }} "]), grow,
                        max_leaves=6)


HOSTILE_TEMPLATES = statements(expressions(ATOMS + HOSTILE_ATOMS, NUMBERS))
# Benign: small values and no `**`, so that the stock sandbox (which has no limits) can
# render them too.
BENIGN_TEMPLATES = statements(expressions(
    [atom for atom in ATOMS if "99999" not in atom], ["0", "1", "2", "3", "-1", "0.5"],
    [op for op in OPERATORS if op != "**"]))
VARIABLES = {
    "mention": "@acme", "mention_mode": "at",
    "persona": {"id": "ana", "name": "Ana", "account": "@ana",
                "attributes": {"city": "Lyon", "followers": 300}},
    "brand": {"id": "acme", "name": "Acme", "industry": "Tools", "hashtag": "#Acme",
              "handle": "@acme"},
    "channel": {"id": "x", "platform": "x"}, "category": {"id": "faq", "label": "FAQ"},
}


@pytest.mark.slow
def test_hostile_templates_render_or_are_refused_quickly() -> None:
    @fuzz(400)
    @given(HOSTILE_TEMPLATES)
    def check(source: str) -> None:
        TRIED["hostile templates"] += 1
        started = time.monotonic()
        with contextlib.suppress(templates.TemplateProblem):
            text = templates.render(source, copy.deepcopy(VARIABLES))
            assert len(text) <= templates.MAX_MESSAGE_LENGTH
        assert time.monotonic() - started < 2 * templates.MAX_SECONDS + 1

    check()
    report("hostile templates")


@pytest.mark.slow
def test_benign_templates_render_as_jinja_renders_them() -> None:
    """The guards change no result: what the stock immutable sandbox renders, ours renders
    the same (or refuses, for a value too large); what it refuses, ours refuses."""
    stock = jinja2.sandbox.ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined)

    @fuzz(300)
    @given(BENIGN_TEMPLATES)
    def check(source: str) -> None:
        TRIED["benign templates"] += 1
        try:
            with warnings.catch_warnings():  # Python's, on code like `1[2]` jinja writes
                warnings.simplefilter("ignore", SyntaxWarning)
                expected: str | None = stock.from_string(source).render(VARIABLES).strip()
        except Exception:
            expected = None
        try:
            ours: str | None = templates.render(source, copy.deepcopy(VARIABLES))
        except templates.TemplateProblem as exc:
            message = str(exc)
            too_large = any(words in message for words in (
                "would build", "larger than", "longer than", "steps"))
            # Python's description of an object (with its address) is refused, not written.
            not_data = "cannot be written into a message" in message and re.search(
                r"<[^>]*(object|class|function|built-in|method)", expected or "")
            # An undefined value inside a list is an error too, not the word "Undefined".
            undefined = "Undefined" in (expected or "")
            assert expected is None or too_large or not_data or undefined, (
                source, expected, message)
            return
        assert ours == expected, source

    check()
    report("benign templates")


@pytest.mark.slow
def test_hostile_templates_in_a_scenario() -> None:
    @fuzz(120)
    @given(HOSTILE_TEMPLATES)
    def check(source: str) -> None:
        document = copy.deepcopy(BASE)
        document["categories"][0]["templates"] = [source]
        document["categories"][1]["follow_up"][0]["template"] = source + " again"
        loads_or_refuses(dump(document), "templates in scenarios")

    check()
    report("templates in scenarios")


# -- explicit hostile templates and YAML -----------------------------------------------------


@pytest.mark.parametrize(("source", "reason"), [
    ("{{ '%999999999s' % mention }}", "'%' would build 999,999,999 characters in one field"),
    ("{{ '%*s' % (999999999, mention) }}", "'%' would build 999,999,999 characters"),
    ("{{ '%.999999999f' % 1.0 }}", "'%' would build 999,999,999 characters"),
    ("{{ mention.center(10**9) }}", "'center' would build 1,000,000,000 characters"),
    ("{{ mention.ljust(10**9) }}", "'ljust' would build 1,000,000,000 characters"),
    ("{{ mention.rjust(10**9, '.') }}", "'rjust' would build 1,000,000,000 characters"),
    ("{{ mention.zfill(10**9) }}", "'zfill' would build 1,000,000,000 characters"),
    ("{{ '\t'.expandtabs(10**9) }}", "'expandtabs' would build 1,000,000,001 characters"),
    ("{{ '{:>999999999}'.format(mention) }}", "'format' would build 999,999,999 characters"),
    ("{{ '{:{}}'.format(mention, 999999999) }}", "'format' would build 999,999,999"),
    ("{{ '{x:>999999999}'.format_map({'x': 1}) }}", "'format' would build 999,999,999"),
    ("{{ '{0}{0}{0}'.format('x' * 99999) }}", "'format' would build 199,998 characters"),
    ("{{ mention|center(10**9) }}", "the 'center' filter would build 1,000,000,000"),
    ("{{ 'a\nb'|indent(10**9) }}", "the 'indent' filter would build 2,000,000,003"),
    ("{{ ('x' * 99999)|wordwrap(1, wrapstring='y' * 99999) }}", "the 'wordwrap' filter"),
    ("{{ '%999999999s'|format(mention) }}", "the 'format' filter would build 999,999,999"),
    ("{{ range(99999)|join('x' * 99999) }}", "larger than 100,000 characters"),
    ("{{ ('x' * 99999).replace('', 'y' * 99999) }}", "'replace' would build 9,999,999,999"),
    ("{{ ('x' * 99999)|replace('x', 'yy' * 50000) }}", "the 'replace' filter would build"),
    ("{{ ('x' * 99999).translate({120: 'y' * 99999}) }}", "larger than 100,000 characters"),
    ("{{ (1).to_bytes(999999999, 'big') }}", "'to_bytes' would build 999,999,999 bytes"),
    ("{{ lipsum(999999) }}", "'lipsum' would build"),
    ("{{ lipsum(1, max=999999999) }}", "'lipsum' would build"),
    ("{{ [1]|batch(999999999, 'x')|list }}", "the 'batch' filter would build 999,999,999"),
    ("{{ [1]|slice(999999999)|list }}", "the 'slice' filter would build 999,999,999 lists"),
    ("{{ [1, 2]|tojson(999999999) }}", "the 'tojson' filter would build"),
    ("{{ [[0] * 90000, [0] * 90000]|sum(start=[]) }}", "larger than 100,000 characters"),
    ("{{ [[0], [0]]|sum(start=[]) }}", "the 'sum' filter adds numbers only"),
    ("{{ 'x' * 99999 ~ 'x' * 99999 }}", "'~' would build 199,998 characters"),
    ("{{ 'x' * 60000 + 'x' * 60000 }}", "'+' would build 120,000 items"),
    ("{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
     "needs more than 20,000 steps"),
    ("{% for i in range(100000) %}{% for j in range(100000) if false %}{% endfor %}"
     "{% endfor %}", "needs more than 20,000 steps"),
    ("{% for x in 'x' * 99999 %}{% for y in 'x' * 99999 %}{% endfor %}{% endfor %}",
     "needs more than 20,000 steps"),
    ("{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
     "{{ f(40) }}", "needs more than 20,000 steps"),
    ("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", "RecursionError"),
    ("{% for x in [1] recursive %}{% if loop.depth < 4 %}{{ loop(range(100000)) }}{% endif %}"
     "{% endfor %}", "needs more than 20,000 steps"),
    ("{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
     "{% endfor %}{{ ns.s|length }}", "'~' would build 131,072 characters"),
    ("{% set ns = namespace(n=10**1000) %}{% for i in range(40) %}{% set ns.n = ns.n * ns.n %}"
     "{% endfor %}", "'*' would build a number too large to write"),
    ("{% set a = 'x' * 99999 %}{{ [a, a, a] }}", "larger than 100,000 characters"),
    ("{% set a = 'x' * 99999 %}{{ ([a] * 99999)|map('upper')|list|length }}",
     "larger than 100,000 characters"),
    ("{% set a = 'x' * 99999 %}{% for i in range(100000) %}{% if a in a %}{% endif %}"
     "{% endfor %}", "needs more than 20,000 steps"),
    ("{% set a = 'x' * 99999 %}{% for i in range(100000) %}{{ a[::-1]|length }}{% endfor %}",
     "needs more than 20,000 steps"),
    ("{% set x %}{% for i in range(100000) %}" + "x" * 500 + "{% endfor %}{% endset %}"
     "{{ x|length }}", "needs more than 20,000 steps"),
    ("{% for i in range(100) %}{{ 'x' * 99999 }}{% endfor %}",
     "the message is longer than 100,000 characters"),
    ("{{ ''.__class__.__mro__ }}", "access to attribute '__class__' of 'str' object"),
    ("{{ self._TemplateReference__context }}", "'_TemplateReference__context'"),
    ("{{ lipsum.__globals__ }}", "access to attribute '__globals__'"),
    ("{{ mention.format.__globals__ }}", "access to attribute '__globals__'"),
    ("{{ mention|attr('__class__') }}", "access to attribute '__class__'"),
    ("{% for x in [1] %}{{ loop._iterator }}{% endfor %}", "'_iterator'"),
    ("{{ namespace }}", "a type object cannot be written into a message"),
    ("{{ cycler }}", "a type object cannot be written into a message"),
    ("{{ range }}", "a function object cannot be written into a message"),
    ("{{ mention.upper }}", "a builtin_function_or_method object cannot be written"),
    ("{{ [1, 2]|map('string') }}", "a generator object cannot be written into a message"),
    ("{{ '%s' % cycler }}", "a type object cannot be written into a message"),
    ("{{ 'x' ~ joiner }}", "a type object cannot be written into a message"),
    ("{% include 'x.yaml' %}", "'{% include %}' is not available"),
    ("{% extends 'x.html' %}", "'{% extends %}' is not available"),
    ("{% import 'x' as y %}", "'{% import %}' is not available"),
    ("{% from 'x' import y %}", "'{% from ... import %}' is not available"),
    ("{{ " + "(" * 500 + "1" + ")" * 500 + " }}", "nested too deeply"),
    ("".join(f"{{% for i{k} in [1] %}}" for k in range(25)) + "x" + "{% endfor %}" * 25,
     "nested too deeply"),
    ("".join("{% if true %}" for _ in range(200)) + "x" + "{% endif %}" * 200,
     "nested too deeply"),
    ("{{ " + "9" * 5000 + " }}", "Exceeds the limit (4300 digits)"),
    ("{{ mention }}" * 2000, "characters long (at most 20,000)"),
])
def test_template_bomb_is_refused_quickly(source: str, reason: str) -> None:
    TRIED["template bombs"] += 1
    started = time.monotonic()
    with pytest.raises(templates.TemplateProblem) as caught:
        templates.render(source, copy.deepcopy(VARIABLES))
    assert time.monotonic() - started < 2 * templates.MAX_SECONDS + 1
    assert reason in str(caught.value)
    assert "\n" not in str(caught.value)


ORDINARY = [
    "{{ persona.attributes.keys()|list|join(', ') }}",
    "{{ ['a','b']|map('upper')|join(', ') }}",
    "{{ range(3)|join('-') }}",
    '{{ persona.attributes.items()|list }}',
    '{% for k, v in persona.attributes.items() %}{{ k }}={{ v }};{% endfor %}',
    "{{ mention|replace('@', '') }}",
    '{{ "%s %s"|format(mention, brand.name) }}',
    "{{ brand.name|truncate(5) }} {{ ('x' * 300)|truncate(10) }}",
    '{{ persona.attributes|dictsort|first }}',
    ("{% for x in [1,2,3] %}{{ loop.cycle('a','b') }}{{ loop.index0 }}{{ loop.revindex }}{{ "
     'loop.first }}{{ loop.last }}{{ loop.length }}{% endfor %}'),
    "{% set c = cycler('a','b') %}{{ c.next() }}{{ c.next() }}{{ c.next() }}",
    "{% set j = joiner(', ') %}{% for x in [1,2] %}{{ j() }}{{ x }}{% endfor %}",
    '{{ namespace(a=1).a }} {{ dict(a=1).a }}',
    ('{% set ns = namespace(total=0) %}{% for x in [1,2,3] %}{% set ns.total = ns.total + x '
     '%}{% endfor %}{{ ns.total }}'),
    "{{ persona.attributes.get('city', 'x') }} {{ persona.attributes.get('nope', 'x') }}",
    '{{ lipsum(1, false, 3, 5)|length > 0 }}',
    "{{ 'abc'|reverse }} {{ [3,1,2]|sort|join }} {{ [1,2]|sum }} {{ 3000|filesizeformat }}",
    ("{{ 'a b'|title }}|{{ 'x'|center(5) }}|{{ 'a\\nb'|indent(2) }}|{{ 'a b c'|wordwrap(3) "
     '}}'),
    "{{ [1,2,3]|batch(2)|list }} {{ [1,2,3]|slice(2)|list }} {{ {'a':1}|tojson }}",
    ("{{ mention is string }} {{ 3 is divisibleby 3 }} {{ [1,2,3]|select('odd')|list }} {{ "
     "[1,2]|map('string')|join(',') }}"),
    ("{{ (mention ~ '!')|upper }} {{ mention[0] }} {{ mention[1:3] }} {{ "
     "mention.startswith('@') }}"),
    ("{{ [{'n': 2}, {'n': 1}]|sort(attribute='n')|map(attribute='n')|join }} {{ [{'n': "
     "2}]|selectattr('n', 'gt', 1)|list|length }}"),
    ("{{ [1, 2, 2]|unique|list }} {{ ['b', 'a']|min }} {{ [1, 5]|max }} {{ -3|abs }} {{ "
     "2.567|round(1) }} {{ '42'|int + 1 }} {{ '1.5'|float }}"),
    ("{{ 'Hello %s, you have %d messages'|format(persona.name, 3) }} {{ '{} and "
     "{}'.format(mention, brand.name) }} {{ '{name}!'.format_map({'name': 'x'}) }}"),
    ("{% macro greet(who, punct='!') %}Hi {{ who }}{{ punct }}{% endmacro %}{{ "
     "greet(brand.name) }} {{ greet('you', punct='?') }}"),
    ('{% macro wrap() %}[{{ caller() }}]{% endmacro %}{% call wrap() %}inside {{ mention '
     '}}{% endcall %}'),
    '{% filter upper %}shout {{ mention }}{% endfilter %}',
    '{% set block %}set {{ brand.name }}{% endset %}{{ block }}',
    ('{% for x in [] %}never{% else %}empty{% endfor %} {% for x in [1,2,3] if x > 1 %}{{ x '
     '}}{% endfor %}'),
    ('{% with a = 1, b = 2 %}{{ a + b }}{% endwith %} {{ 7 // 2 }} {{ 7 % 3 }} {{ 2 ** 8 }} '
     '{{ 1 / 4 }} {{ not false }} {{ 1 if true else 2 }}'),
    ("{{ [1,2] + [3] }} {{ (1, 2) }} {{ 'a' < 'b' }} {{ 1 == 1.0 }} {{ 'ab' not in 'abc' }} "
     '{{ none is none }} {{ mention|length }} {{ mention|wordcount }}'),
    ("{{ 'x,y'.split(',')|last }} {{ '  pad '|trim }} {{ 'A'|lower }} {{ 'a'|capitalize }} "
     "{{ '<b>'|e }} {{ '<b>x</b>'|striptags }} {{ {'a': 'b'}|xmlattr }} {{ 'a b'|urlencode "
     "}} {{ 'see http://x.example'|urlize }}"),
    ('{{ persona.attributes|items|list }} {{ [1,2,3]|first }} {{ '
     "[[1,2],[3]]|map('length')|list }} {{ {'b':1,'a':2}|dictsort(by='value') }} {{ "
     "[1,2]|reverse|list }} {{ 'abc'|list }}"),
    ("{{ [{'g': 'x', 'v': 1}, {'g': 'x', 'v': "
     "2}]|groupby('g')|map(attribute='list')|list|length }} {{ 3|string ~ 'x' }} {{ "
     "[1]|pprint }} {{ mention|attr('upper')() }}"),
    '{% block b %}block{% endblock %} {{ self.b() }}',
    '{% for a in [1,2] %}{% for b in [3,4] %}{{ a * b }},{% endfor %}{% endfor %}',
    ('{% for x in [1,[2,3]] recursive %}{% if x is iterable %}{{ loop(x) }}{% else %}{{ x '
     '}}{% endif %}{% endfor %}'),
    '{% raw %}{{ not rendered }}{% endraw %} {# a comment #}ok',
    ("{{ '%(a)s-%(b)s'|format(a=1, b=2) }} {{ '%-5s|' % 'ab' }} {{ '%05d' % 42 }} {{ '%.2f' "
     "% 3.14159 }} {{ '%x' % 255 }} {{ '%r' % 'q' }} {{ '%c' % 65 }} {{ '100%%' % () }}"),
    "{{ 'a' * 3 }} {{ 3 * 'a' }} {{ [0] * 2 }} {{ 10 ** -1 }} {{ 2 ** 0.5 }}",
]


@pytest.mark.parametrize("source", ORDINARY)
def test_ordinary_templates_render_as_jinja_renders_them(source: str) -> None:
    """Loops, macros, call blocks, filters, tests, formatting, slices and comparisons as
    message templates use them: the guards change nothing."""
    stock = jinja2.sandbox.ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined)
    expected = stock.from_string(source).render(copy.deepcopy(VARIABLES)).strip()
    assert templates.render(source, copy.deepcopy(VARIABLES)) == expected


def test_python_descriptions_of_objects_are_not_written() -> None:
    # The stock sandbox writes "<TemplateReference None>" or "<built-in method ... at 0x...>":
    # meaningless in a message, and an address makes plans differ from run to run.
    for source in ("{{ self }}", "{{ mention.upper }}", "{{ [cycler] }}", "{{ joiner() }}"):
        with pytest.raises(templates.TemplateProblem, match="cannot be written into a message"):
            templates.render(source, copy.deepcopy(VARIABLES))


def billion_laughs_with_merge_keys(levels: int = 12) -> str:
    lines = ["x-a: &a {k0: 1, k1: 1, k2: 1, k3: 1, k4: 1, k5: 1, k6: 1, k7: 1, k8: 1}"]
    for n in range(1, levels):
        before, name = chr(ord("a") + n - 1), chr(ord("a") + n)
        lines.append(f"x-{name}: &{name} {{<<: [{', '.join(['*' + before] * 9)}]}}")
    return "\n".join(lines) + "\n"


def merge_chain_in_keys(length: int = 3_000) -> str:
    # Mappings used as keys are refused, so never merged as they are read: the last merge
    # would resolve the whole chain at once (PyYAML does it recursively).
    lines = ["? &m0 {k: 1}\n: 0"] + [f"? &m{i} {{<<: *m{i - 1}, k{i}: 1}}\n: {i}"
                                      for i in range(1, length)]
    return "\n".join(lines) + f"\nname: {{<<: *m{length - 1}}}\n"


def long_text_repeated() -> str:
    return ("x-long: &long '" + "y" * 1_000_000 + "'\ntitle: ["
            + ", ".join(["*long"] * 50_000) + "]\n")


def long_keys_repeated() -> str:
    return ("x-long: &long '" + "k" * 100_000 + "'\nx-map: {"
            + ", ".join(["*long : 1"] * 500) + "}\n")


@pytest.mark.parametrize(("make", "message"), [
    (billion_laughs_with_merge_keys,
     "merge keys (<<) expand to more than 200,000 values (too many aliases or too large)"),
    (merge_chain_in_keys, "merge keys (<<) nested deeper than 40 levels"),
    (long_text_repeated, "document expands to more than 10,000,000 characters of text"),
    (long_keys_repeated, "document expands to more than 10,000,000 characters of text"),
], ids=lambda value: getattr(value, "__name__", "")[:20])
@pytest.mark.slow
def test_yaml_bombs_are_refused_quickly(make: Callable[[], str], message: str) -> None:
    TRIED["yaml bombs"] += 1
    text = make()
    assert len(text.encode()) <= yamlsafe.MAX_FILE_BYTES
    started = time.monotonic()
    with pytest.raises(ScenarioError) as caught:
        load_scenario_text(text, "bomb.yaml")
    assert time.monotonic() - started < SLOW
    assert any(message in p.message for p in caught.value.problems), str(caught.value)[:500]
    assert max(len(str(problem)) for problem in caught.value.problems) < 1_000


def test_a_long_bad_value_gives_a_short_problem() -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario_text("seed: " + "9" * 100_000 + "\n", "s.yaml")
    [problem] = caught.value.problems
    assert problem.message.startswith("bad value '999999999999999999999999999999...999")
    assert "(100,000 characters)" in problem.message and len(problem.message) < 400


def test_odd_keys_are_quoted_in_field_paths() -> None:
    text = 'schedule: {start: 2013-01-07, "\\n": 1, "\\u202e": 2, "": 3, ' + "k" * 80 + ": 4}"
    with pytest.raises(ScenarioError) as caught:
        load_scenario_text(text, "s.yaml")
    lines = str(caught.value).splitlines()
    assert len(lines) == len(caught.value.problems)
    paths = {problem.path for problem in caught.value.problems}
    assert {"schedule['\\n']", "schedule['\\u202e']", "schedule['']"} <= paths
    assert "schedule['" + "k" * 30 + "..." + "k" * 30 + " (80 characters)']" in paths


# -- (c) the command line ------------------------------------------------------------------


def validate(path: Path) -> tuple[int, str, str]:
    from harness.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["validate", str(path)])
    return code, out.getvalue(), err.getvalue()


@pytest.mark.slow
def test_validate_exits_0_or_2_without_a_traceback(tmp_path_factory: pytest.TempPathFactory
                                                   ) -> None:
    folder = tmp_path_factory.mktemp("cli")
    inputs = st.one_of(mutated().map(str.encode), st.binary(max_size=200),
                       DATA.map(dump).map(str.encode),
                       HOSTILE_TEMPLATES.map(lambda t: SMALL.replace(
                           "{{ mention }} do you deliver on Sundays?",
                           t.replace("\\", "\\\\").replace('"', '\\"')).encode()))

    @fuzz(150)
    @given(inputs)
    def check(content: bytes) -> None:
        TRIED["command line"] += 1
        path = folder / "fuzz.yaml"
        path.write_bytes(content)
        code, out, err = validate(path)
        assert code in (0, 2)
        assert "Traceback" not in err and "Traceback" not in out
        if code == 0:
            assert out.startswith(f"{path}: ok (")
            # an ok file may carry warnings (a design it cannot balance, low power): each
            # one line naming the file, never a problem
            assert all(line.startswith(f"{path}: warning: ") for line in err.splitlines())
            return
        *problems, summary = err.splitlines()
        assert summary == f"{path}: {len(problems)} problem{'s' if len(problems) != 1 else ''}"
        for line in problems:
            assert line.startswith(f"{path}:") and PROBLEM_LINE.match(line), repr(line)
        assert list(folder.iterdir()) == [path]

    check()
    report("command line")


# -- (d) run folders -----------------------------------------------------------------------

TINY = textwrap.dedent("""\
    name: NAME
    personas:
      - {id: ana, name: Ana, accounts: {x: "@ana"}}
    brands:
      - id: acme
        name: Acme
        industry: Tools
        handles: {x: ["@acme"]}
        simulate: {reply: {at: 1.0, name: 1.0}, latency: {median: 5m}}
    categories:
      - {id: faq, label: FAQ, templates: ["{{ mention }} are you open?"]}
    channels:
      - {id: x, adapter: simulated, platform: x}
    schedule:
      start: 2024-03-04
      weeks: 1
      weekdays: [mon, tue]
      observation_window: 1d
    """)


def everything_under(folder: Path) -> set[Path]:
    return {path.relative_to(folder) for path in folder.rglob("*")}


@pytest.mark.slow
def test_scenario_names_never_leave_the_results_folder() -> None:
    results = Path("results").resolve()

    @fuzz(200)
    @given(st.one_of(st.text(max_size=70), st.sampled_from(
        ["..", ".", "../escape", "/etc/cron.d/x", "a/b", "a\\b", "~root", "C:\\x", "x/..",
         "results/../../x", "%2e%2e", "ok-name", "a" * 64, "a" * 65, "UPPER", "-x", "_x"])))
    def check(name: str) -> None:
        text = TINY.replace("name: NAME", "name: " + scalar(name))
        scenario = loads_or_refuses(text, "scenario names")
        if scenario is None:
            return
        assert re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", scenario.name)
        assert (Path("results") / scenario.name).resolve().parent == results

    check()
    report("scenario names")


@contextlib.contextmanager
def inside(folder: Path) -> Iterator[None]:
    import os

    before = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def run_quietly(*args: str) -> int:
    from harness.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["run", *args, "--simulate", "-q"])
    assert "Traceback" not in err.getvalue()
    return code


@pytest.mark.parametrize("name", ["../escape", "..", "/tmp/abs", "a/b", "a\\b", "x\n"])
def test_a_name_that_would_leave_results_is_refused_and_nothing_is_written(
        name: str, tmp_path: Path) -> None:
    source = tmp_path / "in" / "tiny.yaml"
    source.parent.mkdir()
    source.write_text(TINY.replace("name: NAME", "name: " + scalar(name)), encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir()
    before = everything_under(tmp_path)
    with inside(work):
        assert run_quietly(str(source)) == 2
    assert everything_under(tmp_path) == before


def test_the_default_folder_is_results_name(tmp_path: Path) -> None:
    source = tmp_path / "tiny.yaml"
    source.write_text(TINY.replace("NAME", "tiny-race"), encoding="utf-8")
    with inside(tmp_path):
        assert run_quietly(str(source)) == 0
    written = everything_under(tmp_path) - {Path("tiny.yaml")}
    assert written and all(path.parts[:2] == ("results", "tiny-race") or path == Path("results")
                           for path in written)


@pytest.mark.parametrize("out", ["chosen/../elsewhere", "ABSOLUTE", "./a/./b/../c"])
def test_out_is_followed_as_given_and_nothing_is_written_outside_it(out: str,
                                                                    tmp_path: Path) -> None:
    """``--out`` is the user's choice: the run goes exactly where the path leads, ``..`` and
    all (like ``mkdir -p``, directories the path passes through are created), and nothing
    is written anywhere else."""
    source = tmp_path / "tiny.yaml"
    source.write_text(TINY.replace("NAME", "tiny-race"), encoding="utf-8")
    work = tmp_path / "work"
    (work / "chosen").mkdir(parents=True)
    target = str(tmp_path / "abs" / "run") if out == "ABSOLUTE" else out
    before = everything_under(tmp_path)
    with inside(work):
        assert run_quietly(str(source), "--out", target) == 0
    destination = (work / target).resolve()
    assert (destination / "run.sqlite").is_file()
    parts = Path(target).parts
    passed = {(work / Path(*parts[:end])).resolve() for end in range(1, len(parts) + 1)}
    for path in everything_under(tmp_path) - before:
        full = (tmp_path / path).resolve()
        assert destination in full.parents or (full in passed and full.is_dir()), path
