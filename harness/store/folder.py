"""A run folder: the store, the simulated platforms' journals, and a lock.

Only one runner may work in a folder at a time. The lock is an OS file lock, so it is released
when the process holding it dies, however it dies.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from harness.errors import RunFolderError
from harness.store.sqlite import STORE_FILE, Store

LOCK_FILE = "run.lock"


class RunFolder:
    """A folder holding one run."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock_fd: int | None = None

    @property
    def store_path(self) -> Path:
        """Where the SQLite store is."""
        return self.path / STORE_FILE

    def exists(self) -> bool:
        """Whether the folder already holds a run."""
        return self.store_path.exists()

    def open_store(self) -> Store:
        """The folder's store, for reading; a clear error if there is no run here."""
        if not self.exists():
            raise RunFolderError(f"{self.path}: no run here (expected {self.store_path.name})")
        return Store.open(self.store_path)

    def lock(self) -> RunFolder:
        """Take the folder's lock, or raise :class:`RunFolderError` naming the holder."""
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise RunFolderError(
                f"{self.path} is in use by a running `shopper run` (pid {holder}); "
                "wait for it to finish or stop it first") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._lock_fd = fd
        return self

    def unlock(self) -> None:
        """Release the lock."""
        if self._lock_fd is not None:
            os.ftruncate(self._lock_fd, 0)
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> RunFolder:
        return self.lock()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.unlock()
