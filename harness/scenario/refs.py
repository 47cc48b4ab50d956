"""How a check says what is wrong, and the commonest thing it says: a name that the
scenario does not define (with the nearest one it does, if any)."""

from __future__ import annotations

import difflib
from typing import Protocol

from harness.scenario.located import Path_


class Report(Protocol):
    """Where a check says what is wrong: the place in the data and the message."""

    def __call__(self, path: Path_, message: str, *, key: bool = False) -> None: ...


def known(report: Report, path: Path_, value: str, ids: set[str], what: str, *,
          key: bool = False) -> bool:
    """Whether ``value`` is one of ``ids``; if not, report "undefined {what}" at ``path``."""
    if value in ids:
        return True
    hint = difflib.get_close_matches(value, sorted(ids), n=1, cutoff=0.6)
    extra = f" (did you mean {hint[0]!r}?)" if hint else ""
    report(path, f"undefined {what} {value!r}{extra}", key=key)
    return False
