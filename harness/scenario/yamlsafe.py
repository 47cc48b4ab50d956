"""Load YAML safely and remember where every value came from.

Safety goes beyond ``yaml.safe_load``: only the standard scalar tags are constructed, files and
documents have a size limit, nesting depth is bounded, and aliases cannot expand a small file
into a huge document ("billion laughs"). Plain scalars that YAML 1.1 would read as base-60
numbers (``17:30``) stay strings, because in a scenario they are always times of day.

This module reads and parses, stopping early at the limits of
:mod:`harness.scenario.yamllimits`; :mod:`harness.scenario.yamlwalk` turns what was parsed
into data, and the result is a :class:`~harness.scenario.located.Located` document.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from harness.errors import Problem, ScenarioError
from harness.scenario.located import Located
from harness.scenario.yamllimits import MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES
from harness.scenario.yamlwalk import Walker

__all__ = ["FAST", "MAX_DEPTH", "MAX_FILE_BYTES", "MAX_NODES", "Located", "load_file",
           "load_text"]


class _Refused(Exception):
    """Raised while parsing, as soon as a document is too large or too deep to go on."""

    def __init__(self, mark: yaml.Mark, message: str) -> None:
        super().__init__(message)
        self.mark = mark
        self.message = message


try:
    from yaml._yaml import CParser as _CParser

    FAST = True
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    FAST = False


class _Limits:
    """Composer limits shared by both loaders: at most ``MAX_NODES`` values, and collections
    nested deeper than ``MAX_DEPTH`` are skipped, leaving a placeholder the walker reports
    (the composer is recursive: deep nesting would otherwise exhaust Python's recursion
    limit)."""

    depth = 0
    values = 0

    def _count(self: Any) -> None:
        self.values += 1
        if self.values > MAX_NODES:
            raise _Refused(self.peek_event().start_mark,
                           f"document has more than {MAX_NODES:,} values (too large)")

    def compose_node(self: Any, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if parent is None or index is not None:  # mapping keys (index None) are not values
            self._count()
        if self.depth > MAX_DEPTH and self.check_event(yaml.SequenceStartEvent,
                                                       yaml.MappingStartEvent):
            return self._deeper_than_allowed()  # type: ignore[no-any-return]
        self.depth += 1
        try:
            return super().compose_node(parent, index)  # type: ignore[misc, no-any-return]
        finally:
            self.depth -= 1

    def _deeper_than_allowed(self: Any) -> yaml.Node:
        """Consume one collection without composing it; return a null placeholder."""
        first = self.peek_event()
        placeholder = yaml.ScalarNode("tag:yaml.org,2002:null", "", first.start_mark,
                                      first.end_mark)
        level = 0
        while True:
            event = self.get_event()
            if isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                level -= 1
                if level == 0:
                    return placeholder
                continue
            if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                level += 1
            if not isinstance(event, yaml.AliasEvent) and event.anchor is not None:
                self.anchors[event.anchor] = placeholder  # aliases into it stay defined
            if event is not first:
                self._count()


class _Loader(_Limits, yaml.SafeLoader):
    """A SafeLoader with the composer limits, whose scalars the walker constructs.

    Parsing also stops at more than ``MAX_DEPTH`` nested flow collections (``[[[...``: the
    scanner's work per token grows with that nesting).
    """

    def fetch_flow_collection_start(self, token_class: Any) -> None:
        if self.flow_level >= MAX_DEPTH:
            raise _Refused(self.get_mark(), f"nested deeper than {MAX_DEPTH} levels")
        super().fetch_flow_collection_start(token_class)


if FAST:
    class _FastLoader(_Limits, yaml.composer.Composer, _CParser,
                      yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
        """The same composer over libyaml's C scanner and parser: several times faster on
        large files. Where it finds any problem, the pure-Python loader reports instead (see
        ``harness.scenario.load``), so positions and messages never depend on it; and it
        refuses deep nesting at once rather than skip it (C scanning of deep flow
        collections slows down with their depth)."""

        def __init__(self, stream: str) -> None:
            _CParser.__init__(self, stream)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)
            yaml.composer.Composer.__init__(self)

        def _deeper_than_allowed(self) -> yaml.Node:
            event: Any = self.peek_event()
            raise _Refused(event.start_mark, f"nested deeper than {MAX_DEPTH} levels")


def load_text(text: str, file: str, *, fast: bool = False) -> Located:
    """Parse one YAML document; raise :class:`ScenarioError` on any problem.

    ``fast`` uses libyaml for scanning and parsing; its errors are not the ones to show
    (see :class:`_FastLoader`)."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise ScenarioError(
            [Problem(file, 1, 1, "", f"file is larger than {MAX_FILE_BYTES:,} bytes")]
        )
    try:
        loader = _FastLoader(text) if fast and FAST else _Loader(text)
        loader.depth = loader.values = 0
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - text.rfind("\n", 0, exc.position)
        raise ScenarioError([Problem(
            file, line, column, "", f"character U+{exc.character:04X} is not allowed in YAML "
            "text (write it as an escape in a double-quoted string)")]) from None
    try:
        node = loader.get_single_node()
    except _Refused as exc:
        raise ScenarioError([Problem(file, exc.mark.line + 1, exc.mark.column + 1, "",
                                     exc.message)]) from None
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
    walker = Walker(loader, located, problems)
    located.data = walker.walk(node, (), 0)
    if problems:
        raise ScenarioError(problems)
    return located


def load_file(path: Path, *, fast: bool = False) -> Located:
    """Read and parse ``path``; unreadable files become a :class:`ScenarioError`."""
    name = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ScenarioError(
                [Problem(name, 1, 1, "", f"file is larger than {MAX_FILE_BYTES:,} bytes")]
            )
        data = path.read_bytes()
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        start = data.rfind(b"\n", 0, exc.start) + 1
        line = data.count(b"\n", 0, start) + 1
        column = len(data[start:exc.start].decode("utf-8", "replace")) + 1
        raise ScenarioError(
            [Problem(name, line, column, "", f"not UTF-8 text: {exc.reason}")]) from None
    except OSError as exc:
        raise ScenarioError([Problem(name, 1, 1, "", f"cannot read: {exc.strerror}")]) from None
    return load_text(text, name)
