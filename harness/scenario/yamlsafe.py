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
MAX_TEXT = 10_000_000
"""Characters of text a document may expand to: without aliases it is at most the file's size;
aliases of a long text may repeat it, but not beyond this."""

Path_ = tuple[str | int, ...]

_MERGE_TAG = "tag:yaml.org,2002:merge"
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
    """``('brands', 3, 'timezone')`` -> ``brands[3].timezone``.

    A key that is empty, very long or holds characters that do not print as themselves (line
    breaks, control or bidirectional formatting characters) is written as a quoted index,
    ``accounts['\\n']``, so a problem stays on one readable line and shows what the key
    really is."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif not part or not part.isprintable() or len(part) > 60:
            text += f"[{_shorten(part)}]"
        else:
            text += f".{part}" if text else str(part)
    return text


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
    walker = _Walker(loader, located, problems)
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


class _Walker:
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
        refused = _merge_refusal(node)
        if refused:  # like any bomb: reported once, the rest is not looked at
            self.too_big = True
            self._problem(node, path, refused)
            return None
        try:
            merged = _merged_pairs(node, self.merged)
        except _BadMerge as exc:
            self._problem(exc.node, path, f"bad merge key: {exc.message}")
            return None
        # Keys written in this mapping override merged ones; of merged ones, the first merge
        # listed wins. Only a key written twice here is a duplicate.
        pairs: dict[str, tuple[yaml.Node, yaml.Node, bool]] = {}
        for own, (key_node, value_node) in [(False, pair) for pair in merged] + [
                (True, pair) for pair in node.value if pair[0].tag != _MERGE_TAG]:
            key = self._key(key_node, path)
            if key is None:
                continue
            if key in pairs and (pairs[key][2] if own else True):
                if own:
                    self._problem(key_node, (*path, key), f"duplicate key {_shorten(key)}")
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
            return None, f"bad value {_shorten(node.value)}: {_shorten(str(exc), 200, quote=False)}"
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:  # an escape like "\ud800": not a character
                return None, f"{value[exc.start]!r} is a lone surrogate, not a character"
        return value, None


def _shorten(text: str, limit: int = 60, *, quote: bool = True) -> str:
    """``text`` (quoted) for a message, cut in the middle if it is long: a problem is one
    readable line, however long the value it is about."""
    if len(text) > limit:
        text = f"{text[: limit // 2]}...{text[-limit // 2:]} ({len(text):,} characters)"
    return repr(text) if quote else text


class _BadMerge(Exception):
    def __init__(self, node: yaml.Node, message: str) -> None:
        super().__init__(message)
        self.node, self.message = node, message


def _merged_pairs(node: yaml.MappingNode,
                  done: dict[int, list[tuple[yaml.Node, yaml.Node]]]) -> list[
                      tuple[yaml.Node, yaml.Node]]:
    """The pairs ``node``'s merge keys (``<<``) bring in, in order of precedence: of two
    merged mappings the one listed first wins, and a merged mapping's own merges are resolved
    first. ``node`` itself is left as it was.

    Our own rather than PyYAML's ``flatten_mapping``, which changes the nodes it resolves and
    whose results differ between releases (6.0.4 drops repeated keys and reverses which merge
    wins): what a scenario means must not depend on which PyYAML is installed. Sizes and depths
    are bounded by :func:`_merge_refusal` before this runs."""
    merged: list[tuple[yaml.Node, yaml.Node]] = []
    for key_node, value_node in node.value:
        if key_node.tag != _MERGE_TAG:
            continue
        sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
        for source in sources:
            if not isinstance(source, yaml.MappingNode):
                expected = ("a mapping for merging" if source is not value_node
                            else "a mapping or list of mappings for merging")
                raise _BadMerge(source, f"expected {expected}, but found {source.id}")
            if id(source) not in done:
                done[id(source)] = []  # a mapping merged into itself adds nothing more
                done[id(source)] = [pair for pair in source.value
                                    if pair[0].tag != _MERGE_TAG] + _merged_pairs(source, done)
            merged.extend(done[id(source)])
    return merged


def _merge_refusal(node: yaml.MappingNode) -> str | None:
    """Why ``node``'s merge keys (``<<: *a``) must not be resolved, if they must not: merged
    mappings that merge others can expand exponentially (nine copies of nine copies of ...),
    and PyYAML resolves a chain of merges recursively."""
    sizes: dict[int, tuple[int, int]] = {}  # id -> (pairs once merged, depth of merges)
    stack: list[tuple[yaml.MappingNode, bool]] = [(node, False)]
    while stack:
        current, ready = stack.pop()
        merged = [sub for key, value in current.value if key.tag == _MERGE_TAG
                  for sub in (value.value if isinstance(value, yaml.SequenceNode) else [value])
                  if isinstance(sub, yaml.MappingNode)]
        if not ready:
            if id(current) in sizes:
                continue
            sizes[id(current)] = (0, 0)  # a mapping merged into itself adds nothing more
            stack.append((current, True))
            stack.extend((sub, False) for sub in merged if id(sub) not in sizes)
            continue
        own = sum(1 for key, _ in current.value if key.tag != _MERGE_TAG)
        pairs = own + sum(sizes[id(sub)][0] for sub in merged)
        depth = max((sizes[id(sub)][1] + 1 for sub in merged), default=0)
        sizes[id(current)] = (min(pairs, MAX_NODES + 1), min(depth, MAX_DEPTH + 1))
    pairs, depth = sizes[id(node)]
    if depth > MAX_DEPTH:
        return f"merge keys (<<) nested deeper than {MAX_DEPTH} levels"
    if pairs > MAX_NODES:
        return (f"merge keys (<<) expand to more than {MAX_NODES:,} values (too many "
                "aliases or too large)")
    return None
