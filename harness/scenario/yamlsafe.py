"""Load YAML safely and remember where every value came from.

Safety goes beyond ``yaml.safe_load``: only the standard scalar tags are constructed, files and
documents have a size limit, nesting depth is bounded, and aliases cannot expand a small file
into a huge document ("billion laughs"). Plain scalars that YAML 1.1 would read as base-60
numbers (``17:30``) stay strings, because in a scenario they are always times of day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.errors import Problem, ScenarioError

MAX_FILE_BYTES = 2_000_000
MAX_DEPTH = 40
MAX_NODES = 200_000

Path_ = tuple[str | int, ...]

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


@dataclass
class Located:
    """A parsed document with the (line, column) of each key and value, by path."""

    file: str
    data: Any
    value_marks: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[Path_, tuple[int, int]] = field(default_factory=dict)

    def mark(self, path: Path_, *, key: bool = False) -> tuple[int, int]:
        """Where ``path`` is, or its nearest located ancestor (1-based line and column)."""
        marks = self.key_marks if key else self.value_marks
        probe = tuple(path)
        while probe:
            if probe in marks:
                return marks[probe]
            if not key and probe in self.key_marks:
                return self.key_marks[probe]
            probe = probe[:-1]
        return marks.get((), (1, 1))

    def problem(self, path: Path_, message: str, *, key: bool = False) -> Problem:
        """A :class:`Problem` pinned to ``path`` in this file."""
        line, column = self.mark(path, key=key)
        return Problem(self.file, line, column, format_path(path), message)


def format_path(path: Path_) -> str:
    """``('brands', 3, 'timezone')`` -> ``brands[3].timezone``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


class _Loader(yaml.SafeLoader):
    """A SafeLoader whose scalars we construct ourselves (see :func:`_walk`)."""


def load_text(text: str, file: str) -> Located:
    """Parse one YAML document; raise :class:`ScenarioError` on any problem."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise ScenarioError(
            [Problem(file, 1, 1, "", f"file is larger than {MAX_FILE_BYTES:,} bytes")]
        )
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        detail = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        raise ScenarioError(
            [Problem(file, line, column, "", f"YAML syntax error: {detail}")]) from None
    except yaml.YAMLError as exc:
        raise ScenarioError([Problem(file, 1, 1, "", f"YAML error: {exc}")]) from None
    finally:
        loader.dispose()
    located = Located(file, None)
    if node is None:
        raise ScenarioError([Problem(file, 1, 1, "", "the file is empty")])
    problems: list[Problem] = []
    walker = _Walker(loader, located, problems)
    located.data = walker.walk(node, (), 0)
    if problems:
        raise ScenarioError(problems)
    return located


def load_file(path: Path) -> Located:
    """Read and parse ``path``; unreadable files become a :class:`ScenarioError`."""
    name = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ScenarioError(
                [Problem(name, 1, 1, "", f"file is larger than {MAX_FILE_BYTES:,} bytes")]
            )
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError([Problem(name, 1, 1, "", f"not UTF-8 text: {exc.reason}")]) from None
    except OSError as exc:
        raise ScenarioError([Problem(name, 1, 1, "", f"cannot read: {exc.strerror}")]) from None
    return load_text(text, name)


class _Walker:
    def __init__(self, loader: _Loader, located: Located, problems: list[Problem]) -> None:
        self.loader = loader
        self.located = located
        self.problems = problems
        self.nodes = 0
        self.too_big = False

    def _problem(self, node: yaml.Node, path: Path_, message: str) -> None:
        mark = node.start_mark
        self.problems.append(
            Problem(self.located.file, mark.line + 1, mark.column + 1, format_path(path), message)
        )

    def walk(self, node: yaml.Node, path: Path_, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            if not self.too_big:
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
            return self._scalar(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.walk(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.MappingNode)
        try:
            self.loader.flatten_mapping(node)  # resolves `<<` merge keys
        except yaml.MarkedYAMLError as exc:
            self._problem(node, path, f"bad merge key: {exc.problem}")
            return None
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _SAFE_TAGS:
                self._problem(key_node, path, "mapping keys must be plain text")
                continue
            key = self._scalar(key_node, path)
            if isinstance(key, (bool, int, float)) or key is None:
                key = key_node.value  # `on:`, `1:` and `null:` are names here, not values
            key = str(key)
            child = (*path, key)
            if key in result:
                self._problem(key_node, child, f"duplicate key {key!r}")
                continue
            self.located.key_marks[child] = (key_node.start_mark.line + 1,
                                             key_node.start_mark.column + 1)
            result[key] = self.walk(value_node, child, depth + 1)
        return result

    def _scalar(self, node: yaml.ScalarNode, path: Path_) -> Any:
        if node.style is None and ":" in node.value and node.tag in (
            "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
        ):
            return node.value  # YAML 1.1 base-60: `17:30` is a time of day here, not 1050
        try:
            return self.loader.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError) as exc:
            self._problem(node, path, f"bad value {node.value!r}: {exc}")
            return None
