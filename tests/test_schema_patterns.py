"""The published JSON Schema accepts exactly what `shopper validate` accepts, read with the
ECMA-262 regular expressions editors use (the `regress` engine, with and without the `u` flag)
as well as with Python's: a hashtag, a duration, a time of day, an id or a name is valid to
both or to neither."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import regress

from harness.errors import ScenarioError
from harness.scenario.schema import scenario_schema
from harness.session.scenarios import load_scenario_text

from .conftest import SMALL

# Strings that Python's and ECMA-262's \w, \d, \s and $ read differently, and ordinary ones.
TRICKY = ["#Acme", "#café", "#星巴克", "#Acme_2", "#", "Acme", "#ac me", "#acme\n", "#a\u00a0b",
          "#a\u200bb", "#١٢٣", "#a-b", "#a.b", "#🙂",
          "15m", "2h30m", "7d", " 5m ", "١٥m", "15m\n", "1.5h", "5 minutes", "5\u00a0m", "0s",
          "ana",
          "09:00", "9:30", "24:00", "23:59", "٠٩:٠٠", "09:00\n", "25:00", "9:5",
          "acme", "acme-1", "Acme.Care", "a" * 64, "a" * 65, "-acme", "acmé", "acme\n",
          "great-race", "Great", "x_y"]


def _patterns(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                yield value
            else:
                yield from _patterns(value)
    elif isinstance(node, list):
        for item in node:
            yield from _patterns(item)


PATTERNS = sorted(set(_patterns(scenario_schema())))


def test_the_schema_has_the_patterns_we_check() -> None:
    assert len(PATTERNS) >= 5  # hashtag, duration, time of day, id, name


@pytest.mark.parametrize("pattern", PATTERNS)
def test_every_schema_pattern_reads_the_same_in_ecma_262_and_python(pattern: str) -> None:
    python, unicode_mode, plain = re.compile(pattern), regress.Regex(pattern, "u"), \
        regress.Regex(pattern)
    for text in TRICKY:
        expected = python.search(text) is not None
        assert (unicode_mode.find(text) is not None) == expected, (pattern, text)
        assert (plain.find(text) is not None) == expected, (pattern, text)


def _valid(old: str, new: str) -> bool:
    text = SMALL.replace(old, new, 1)
    assert old in SMALL
    try:
        load_scenario_text(text, "s.yaml")
    except ScenarioError:
        return False
    return True


FIELDS = {  # where each kind of value goes in the small scenario, and its schema definition
    "hashtag": ('    handles: {x: ["@FastCo"]}\n',
                '    handles: {x: ["@FastCo"]}\n    hashtag: {value}\n', ("Brand", "hashtag")),
    "duration": ("observation_window: 3d", "observation_window: {value}",
                 ("Schedule", "observation_window")),
    "time": ('send_window: {start: "09:00", end: "17:00"}',
             'send_window: {start: {value}, end: "24:00"}', ("SendWindow", "start")),
    "id": ("- {id: ana, name: Ana", "- {id: {value}, name: Ana", ("Persona", "id")),
}


def _schema_accepts(definition: tuple[str, str], value: str) -> bool:
    node = scenario_schema()["$defs"][definition[0]]["properties"][definition[1]]
    found = list(_patterns(node))
    assert len(found) == 1, node
    return regress.Regex(found[0], "u").find(value) is not None


@pytest.mark.parametrize("field", sorted(FIELDS))
def test_validate_and_the_schema_accept_the_same_values(field: str) -> None:
    old, template, definition = FIELDS[field]
    for value in TRICKY:
        if value == "0s" or (field == "time" and value == "24:00"):
            continue  # well formed, but out of range (not longer than zero, not before end)
        written = '"' + value.encode("unicode_escape").decode("ascii").replace('"', '\\"') + '"'
        by_validate = _valid(old, template.replace("{value}", written))
        assert by_validate == _schema_accepts(definition, value), (field, value)
