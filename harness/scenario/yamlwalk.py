"""Turning a composed YAML node tree into plain data, noting where each value came from.

The :class:`Walker` constructs only the standard scalar tags, reads plain keys as names
(``on:`` and ``1:`` are text), keeps YAML 1.1 base-60 numbers (``17:30``) as strings, resolves
merge keys, reports duplicate keys, lone surrogates and bad values as problems at their place,
and stops, with one problem, a document whose aliases expand it beyond the limits.
"""

from __future__ import annotations

from typing import Any

import yaml

from harness.errors import Problem
from harness.scenario.located import Located, Path_, format_path, shorten
from harness.scenario.yamllimits import MAX_DEPTH, MAX_NODES, MAX_TEXT
from harness.scenario.yamlmerge import MERGE_TAG, BadMerge, merge_refusal, merged_pairs

_VALUE_TAG = "tag:yaml.org,2002:value"
_SAFE_TAGS = {
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:timestamp",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
}


class Walker:
    def __init__(self, loader: yaml.constructor.SafeConstructor, located: Located,
                 problems: list[Problem]) -> None:
        self.loader = loader
        self.located = located
        self.problems = problems
        self.nodes = 0
        self.too_big = False
        self.text = 0  # characters of text walked, aliases counted each time
        # Each scalar node is constructed once, however many aliases repeat it: the value,
        # or the problem it has.
        self.scalars: dict[int, tuple[Any, str | None]] = {}
        # The pairs each merged mapping brings in, resolved once however often it is merged.
        self.merged: dict[int, list[tuple[yaml.Node, yaml.Node]]] = {}

    def _problem(self, node: yaml.Node, path: Path_, message: str) -> None:
        mark = node.start_mark
        self.problems.append(
            Problem(self.located.file, mark.line + 1, mark.column + 1, format_path(path), message)
        )

    def walk(self, node: yaml.Node, path: Path_, depth: int) -> Any:
        if self.too_big:  # reported once: the rest is not looked at
            return None
        self.nodes += 1
        if self.nodes > MAX_NODES:
            self.too_big = True
            self._problem(node, path, f"document expands to more than {MAX_NODES:,} values "
                          "(too many aliases or too large)")
            return None
        if depth > MAX_DEPTH:
            self._problem(node, path, f"nested deeper than {MAX_DEPTH} levels")
            return None
        self.located.value_marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if node.tag not in _SAFE_TAGS:
            self._problem(node, path, f"YAML tag {node.tag!r} is not allowed (only plain data)")
            return None
        if isinstance(node, yaml.ScalarNode):
            self.text += len(node.value)
            if self.text > MAX_TEXT:
                self.too_big = True
                self._problem(node, path, f"document expands to more than {MAX_TEXT:,} "
                              "characters of text (too many aliases of long text)")
                return None
            return self._scalar(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.walk(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.MappingNode)
        refused = merge_refusal(node)
        if refused:  # like any bomb: reported once, the rest is not looked at
            self.too_big = True
            self._problem(node, path, refused)
            return None
        try:
            merged = merged_pairs(node, self.merged)
        except BadMerge as exc:
            self._problem(exc.node, path, f"bad merge key: {exc.message}")
            return None
        # Keys written in this mapping override merged ones; of merged ones, the first merge
        # listed wins. Only a key written twice here is a duplicate.
        pairs: dict[str, tuple[yaml.Node, yaml.Node, bool]] = {}
        for own, (key_node, value_node) in [(False, pair) for pair in merged] + [
                (True, pair) for pair in node.value if pair[0].tag != MERGE_TAG]:
            key = self._key(key_node, path)
            if key is None:
                continue
            if key in pairs and (pairs[key][2] if own else True):
                if own:
                    self._problem(key_node, (*path, key), f"duplicate key {shorten(key)}")
                continue
            pairs[key] = (key_node, value_node, own)
        result: dict[Any, Any] = {}
        for key, (key_node, value_node, _) in pairs.items():
            child = (*path, key)
            self.located.key_marks[child] = (key_node.start_mark.line + 1,
                                             key_node.start_mark.column + 1)
            result[key] = self.walk(value_node, child, depth + 1)
        return result

    def _key(self, key_node: yaml.Node, path: Path_) -> str | None:
        if isinstance(key_node, yaml.ScalarNode) and key_node.tag == _VALUE_TAG:
            return str(key_node.value)  # `=:` is a key named "=", as YAML 1.1 loaders read it
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _SAFE_TAGS:
            self._problem(key_node, path, "mapping keys must be plain text")
            return None
        self.text += len(key_node.value)
        key = self._scalar(key_node, path)
        if isinstance(key, (bool, int, float)) or key is None:
            key = key_node.value  # `on:`, `1:` and `null:` are names here, not values
        return str(key)

    def _scalar(self, node: yaml.ScalarNode, path: Path_) -> Any:
        known = self.scalars.get(id(node))
        if known is None:
            known = self.scalars[id(node)] = self._construct(node)
        value, problem = known
        if problem is not None:
            self._problem(node, path, problem)
        return value

    def _construct(self, node: yaml.ScalarNode) -> tuple[Any, str | None]:
        """The value of a scalar node, or the problem it has."""
        if node.style is None and ":" in node.value and node.tag in (
            "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
        ):
            return node.value, None  # YAML 1.1 base-60: `17:30` is a time of day, not 1050
        try:
            value = self.loader.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError) as exc:
            return None, f"bad value {shorten(node.value)}: {shorten(str(exc), 200, quote=False)}"
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:  # an escape like "\ud800": not a character
                return None, f"{value[exc.start]!r} is a lone surrogate, not a character"
        return value, None
