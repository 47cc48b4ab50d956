"""Where each value of a loaded file came from, and how a place in it is named.

A :class:`Located` document holds the data of one YAML file with the (line, column) of each
key and value by its path (a :data:`Path_` of keys and indexes), so that any check of the data
can pin a :class:`~harness.errors.Problem` to the right place; :func:`format_path` writes a path
as ``brands[3].timezone`` and :func:`shorten` cuts a long text to fit a one-line problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.errors import Problem

Path_ = tuple[str | int, ...]


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
            text += f"[{shorten(part)}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def shorten(text: str, limit: int = 60, *, quote: bool = True) -> str:
    """``text`` (quoted) for a message, cut in the middle if it is long: a problem is one
    readable line, however long the value it is about."""
    if len(text) > limit:
        text = f"{text[: limit // 2]}...{text[-limit // 2:]} ({len(text):,} characters)"
    return repr(text) if quote else text
