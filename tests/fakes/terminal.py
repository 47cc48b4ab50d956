"""A person at a terminal, for tests: runs a command on a pseudo-terminal (stdin, stdout and
stderr all the pty's slave end, so ``isatty()`` is true as in a real shell), waits for what it
prints and types answers. Standard library only (``pty``, ``select``, ``os``).

Every byte the command wrote is kept in :attr:`Terminal.transcript` (the terminal turns "\\n"
into "\\r\\n" and echoes what is typed), so a test can count prompts afterwards.
"""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import harness

HARNESS_ROOT = Path(harness.__file__).resolve().parent.parent
"""Where the ``harness`` package this test process imported lives: subprocesses run the same
code (also in a copy of the project with a deliberately broken harness)."""


def harness_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for ``python -m harness`` in a subprocess: this process's, the same
    ``harness`` package first on the path, and ``extra``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(HARNESS_ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env.update(extra or {})
    return env


@contextmanager
def sigint_reaches_children() -> Iterator[None]:
    """While starting a child: make sure it does not inherit an ignored SIGINT (a test runner
    started in the background by a shell without job control ignores it, and an ignored
    signal stays ignored across exec, so the child would never see Ctrl-C). A handled one is
    reset to the default at exec, as in any shell. Done in this process, not with
    ``preexec_fn``, which may deadlock while fake servers run threads here."""
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        if previous is signal.SIG_IGN:
            signal.signal(signal.SIGINT, previous)


class Terminal:
    """A command running on a pseudo-terminal."""

    def __init__(self, args: Sequence[str], *, env: Mapping[str, str], cwd: Path) -> None:
        master, slave = pty.openpty()
        self.master = master
        self.process = subprocess.Popen(
            [sys.executable, *args], stdin=slave, stdout=slave, stderr=slave, env=dict(env),
            cwd=cwd, start_new_session=True, close_fds=True)
        os.close(slave)  # the child holds it now: reading gives EIO once the child is gone
        self.transcript = b""
        self._seen = 0  # how far expect() has consumed the transcript
        self._closed = False

    def _read(self, timeout: float) -> bool:
        """Read what is there within ``timeout``; False once the child closed the terminal."""
        if self._closed:
            return False
        ready, _, _ = select.select([self.master], [], [], max(timeout, 0))
        if not ready:
            return True
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # EIO: every slave descriptor is closed
            chunk = b""
        if not chunk:
            self._closed = True
            return False
        self.transcript += chunk
        return True

    def expect(self, pattern: bytes, timeout: float = 20.0) -> re.Match[bytes]:
        """Wait until the command prints something matching ``pattern`` (after what earlier
        calls consumed); fail, showing the transcript, if it does not within ``timeout``."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while True:
            found = regex.search(self.transcript, self._seen)
            if found is not None:
                self._seen = found.end()
                return found
            if self._closed:
                raise AssertionError(f"the command ended without printing {pattern!r}:\n"
                                     + self.text)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {pattern!r} within {timeout} s:\n" + self.text)
            self._read(min(remaining, 0.5))

    def type(self, line: str) -> None:
        """Type ``line`` and Enter."""
        os.write(self.master, line.encode() + b"\n")

    def finish(self, timeout: float = 30.0) -> int:
        """Wait for the command to end, reading everything it prints; its exit status. A
        command still running after ``timeout`` is killed and the test fails."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._read(deadline - time.monotonic()):
            pass
        try:
            code = self.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"still running after {timeout} s:\n" + self.text) from None
        while self._read(0.1):  # anything still buffered in the terminal
            pass
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def close(self) -> None:
        self.kill()
        self._closed = True
        os.close(self.master)

    @property
    def text(self) -> str:
        """The transcript as text, line ends as written by a program ("\\n")."""
        return self.transcript.decode("utf-8", "replace").replace("\r\n", "\n")
