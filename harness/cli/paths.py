"""Where a command will write, checked before it writes anything.

Every command that writes (``run``, ``race``, ``report``, ``export``, ``chart``) asks here
first, so a path that cannot be written is a usage error (exit 2) with one line saying why,
and nothing has been created or half written: not a run folder, not its lock, not a report.
Missing folders on the way are fine (they are made when writing starts); a file where a folder
must be, a folder where a file must be, or a place we may not write are not.
"""

from __future__ import annotations

import os
from pathlib import Path

from harness.errors import UsageError


def writable_folder(path: Path, flag: str) -> Path:
    """``path`` as a folder the command may write into (it may not exist yet)."""
    if path.exists() and not path.is_dir():
        raise UsageError(f"{flag} {path}: exists and is not a folder")
    _check_ancestors(path, flag)
    if path.is_dir() and not os.access(path, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {path}: cannot write in this folder (permission denied)")
    return path


def writable_file(path: Path, flag: str) -> Path:
    """``path`` as a file the command may create or replace."""
    if path.is_dir():
        raise UsageError(f"{flag} {path}: is a folder; name a file")
    if path.name in ("", ".", ".."):
        raise UsageError(f"{flag} {path}: name a file")
    _check_ancestors(path, flag)
    if path.exists() and not os.access(path, os.W_OK):
        raise UsageError(f"{flag} {path}: cannot replace this file (permission denied)")
    return path


def _check_ancestors(path: Path, flag: str) -> None:
    """The nearest existing ancestor of ``path`` must be a folder we can write in."""
    for parent in path.absolute().parents:
        if not parent.exists():
            continue
        if not parent.is_dir():
            raise UsageError(f"{flag} {path}: {parent} is a file, not a folder")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise UsageError(f"{flag} {path}: cannot write in {parent} (permission denied)")
        return
