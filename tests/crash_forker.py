"""A fork server for the crash tests: imports the harness once, then forks a fresh child for
every run the tests kill.

Started as ``python tests/crash_forker.py MODULE...`` (the modules to import before any fork),
it says ``{"ready": PID}`` on stdout once it has imported them, then answers one JSON
document a line for each one it reads on stdin:

- ``{"spawn": "package.module:function", "args": [...], "stderr": PATH}``: fork a child that
  calls ``function(*args)`` and exits with the int it returns (stdin and stdout on /dev/null,
  stderr appended to PATH); answers ``{"pid": N}``. The child is not reaped until asked, so
  its pid cannot be reused meanwhile: the test can open a pidfd on it, watch it and SIGKILL it.
- ``{"wait": N}``: reap child N (waiting for it to end); answers ``{"status": S}``, S as
  :attr:`subprocess.Popen.returncode` says it (``-9`` for a SIGKILL).
- ``{"call": "package.module:function", "args": [...]}``: call it here, in the server, so that
  every child forked after inherits what it did (a scenario read and checked once); answers
  ``{"status": S}``, the int it returned (70 and ``"error"``, a traceback, if it raised).

Why: a `shopper run` spends most of its life importing (0.7 s of a 1 s simulated race) and
the rest writing; a kill during the imports tests nothing. A forked child starts where the
imports end, so every random kill moment falls in the part of the run that does something.
The child runs the very function ``python -m harness`` runs (``harness.cli:main``), or a crash
driver's.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _measured() -> Any:
    """Under `coverage run` (CI counts child processes too): measure this forked child as a
    process of its own, as coverage's ``patch = fork`` does. None when nothing measures."""
    try:
        from coverage import Coverage
        from coverage.control import _after_fork_in_child

        if Coverage.current() is None:
            return None
        _after_fork_in_child()
        return Coverage.current()
    except Exception:  # no coverage, or one that works otherwise: go unmeasured
        return None


def _child(target: str, args: list[Any], stderr: str) -> None:
    """In the forked child: run ``target(*args)`` and exit with its status (never returns)."""
    status = 70
    coverage = _measured()
    try:
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(null, 1)
        os.dup2(os.open(stderr, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), 2)
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 - fd 0 lives as long as we do
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
        module, _, name = target.partition(":")
        result = getattr(importlib.import_module(module), name)(*args)
        status = int(result or 0)
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # nothing more to say on a broken stream
                stream.flush()
        if coverage is not None:  # os._exit skips the atexit hook that would save it
            with contextlib.suppress(Exception):
                coverage.stop()
                coverage.save()
        os._exit(status)


def serve() -> None:
    """Say it is ready, then answer requests from stdin until it closes."""
    sys.stdout.write(json.dumps({"ready": os.getpid()}) + "\n")
    sys.stdout.flush()
    for line in sys.stdin:
        request = json.loads(line)
        if "spawn" in request:
            sys.stdout.flush()
            pid = os.fork()
            if pid == 0:
                _child(request["spawn"], list(request.get("args", [])),
                       request.get("stderr", os.devnull))
            answer: dict[str, object] = {"pid": pid}
        elif "call" in request:
            module, _, name = str(request["call"]).partition(":")
            try:
                result = getattr(importlib.import_module(module), name)(*request.get("args", []))
                answer = {"status": int(result or 0)}
            except Exception:
                answer = {"status": 70, "error": traceback.format_exc()}
        else:
            _, status = os.waitpid(int(request["wait"]), 0)
            answer = {"status": os.waitstatus_to_exitcode(status)}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    for name in sys.argv[1:]:
        importlib.import_module(name)
    serve()
