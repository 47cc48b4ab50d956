"""Files written whole or not at all: a reader (or the next run, after a crash) never sees half
of one. The content goes to a staging file beside the target, which is then renamed over it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


def replace_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """Make ``path`` what ``write`` puts in the staging file it is given; on any failure the
    staging file is removed and ``path`` is left as it was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.partial")
    try:
        write(staging)
        staging.replace(path)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8, line ends as given) to ``path`` whole or not at all."""
    replace_atomically(path, lambda staging: staging.write_text(text, encoding="utf-8",
                                                                newline=""))
