"""Text output: aligned tables, CSV and JSON writers, and progress lines."""

from __future__ import annotations

import sys
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, tzinfo
from typing import Any, TextIO


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def printable(value: object) -> str:
    """A value as one line of inert text: control characters shown as escapes."""
    text = "" if value is None else str(value)
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def inert_lines(text: str) -> str:
    """Lines of text safe to show on a terminal: line breaks kept, every other control
    character (an escape sequence from scenario or reply text) shown as an escape."""
    return "\n".join(printable(line) for line in text.split("\n"))


def table(headers: Sequence[str], rows: Iterable[Sequence[object]],
          align: str | None = None) -> str:
    """An aligned plain-text table. ``align`` has one 'l' or 'r' per column."""
    cells = [[printable(c) for c in row] for row in rows]
    widths = [max([_width(h)] + [_width(r[i]) for r in cells]) for i, h in enumerate(headers)]
    align = align or "l" * len(headers)

    def line(values: Sequence[str]) -> str:
        parts = []
        for value, width, side in zip(values, widths, align, strict=True):
            pad = " " * (width - _width(value))
            parts.append(pad + value if side == "r" else value + pad)
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(list(headers)), rule, *(line(r) for r in cells)])


def counted(count: int, one: str, many: str) -> str:
    """``1 brand``, ``2 brands``."""
    return f"{count} {one if count == 1 else many}"


class Progress:
    """One progress line on stderr: rewritten in place on a terminal, else every few seconds
    of wall time and at each new virtual day."""

    def __init__(self, zone: tzinfo, planned: int | Callable[[], int],
                 stream: TextIO = sys.stderr) -> None:
        self.zone = zone
        self._planned = planned
        self.stream = stream
        self.interactive = stream.isatty()
        self._last_print = 0.0
        self._last_day: object = None
        self._last_line = ""

    @property
    def planned(self) -> int:
        """The probes planned so far (a repeating schedule's plan grows as the run goes)."""
        return self._planned() if callable(self._planned) else self._planned

    def tick(self, now: datetime, stats: Any) -> None:
        """Called by the runner after each pass."""
        local = now.astimezone(self.zone)
        planned = self.planned
        line = (f"{local:%a %Y-%m-%d %H:%M %Z}  sent {stats.sent}/{planned}  "
                f"answered {stats.answered}  closed {stats.closed}/{planned}")
        moment = time.monotonic()
        if self.interactive:
            if moment - self._last_print >= 0.1:
                self.stream.write("\r" + line.ljust(len(self._last_line)))
                self.stream.flush()
                self._last_print, self._last_line = moment, line
        elif local.date() != self._last_day and moment - self._last_print >= 2.0:
            self.stream.write(line + "\n")
            self._last_print, self._last_day = moment, local.date()
        self._pending = line

    def done(self) -> None:
        """Show the final state."""
        final = getattr(self, "_pending", "")
        if self.interactive:
            self.stream.write("\r" + final.ljust(len(self._last_line)) + "\n")
        elif final:
            self.stream.write(final + "\n")
        self.stream.flush()
