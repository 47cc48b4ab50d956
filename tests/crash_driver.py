"""Run a scenario the way `shopper run --simulate` does, and SIGKILL this very process at a
chosen point: the N-th time it gets there.

Usage: python tests/crash_driver.py SCENARIO OUT POINT N
(or :func:`drive` in a child forked by ``tests/crash_forker.py``, after :func:`preload`)

POINT:
- ``post``: a first message just accepted by the platform, before the runner hears of it
- ``follow_up``: the same for a follow-up
- ``poll``: replies just read from the platform, before they are recorded
- ``commit``: in the middle of a store transaction (rows written, not committed)

N = 0 runs to the end without a kill. Exit status 0 when the run finished.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.channels.base import OutgoingMessage, PollResult, SentPost
from harness.channels.simulated import SimulatedChannel
from harness.scenario.model import Scenario
from harness.session.runs import simulate
from harness.session.scenarios import load_scenario
from harness.store import sqlite

_scenarios: dict[str, Scenario] = {}


def preload(scenario_file: str) -> int:
    """Read and check ``scenario_file`` once (called in the fork server: every child forked
    after starts with it loaded, as a `shopper run` is once it has read its scenario)."""
    _scenarios[scenario_file] = load_scenario(scenario_file)
    return 0


def scenario(scenario_file: str) -> Scenario:
    """The scenario in ``scenario_file``: preloaded, or read now."""
    return _scenarios.get(scenario_file) or load_scenario(scenario_file)


def shopper_run(scenario_file: str, out: str) -> int:
    """What `shopper run SCENARIO --simulate -q --out OUT` does once it has read and checked
    its scenario (the same call, with the same arguments), and its exit status."""
    result = simulate(scenario(scenario_file), Path(out),
                      source=Path(scenario_file).read_text(encoding="utf-8"),
                      source_name=scenario_file)
    return 0 if result.finished else 1

class _Target:
    point = ""
    at = 0
    seen = 0


def aim(point: str, at: int) -> None:
    """Kill this process the ``at``-th time it gets to ``point`` (0: never)."""
    _Target.point, _Target.at, _Target.seen = point, int(at), 0


def arrive(point: str) -> None:
    """Count a visit to ``point``; SIGKILL this process on the chosen visit."""
    if point == _Target.point and _Target.at:
        _Target.seen += 1
        if _Target.seen == _Target.at:
            os.kill(os.getpid(), signal.SIGKILL)


class Killable(SimulatedChannel):
    def send(self, message: OutgoingMessage) -> SentPost:
        post = super().send(message)
        arrive("post" if message.step == 0 else "follow_up")
        return post

    def poll(self, cursor: str | None) -> PollResult:
        result = super().poll(cursor)
        if result.replies:
            arrive("poll")
        return result


@contextmanager
def transaction(self: sqlite.Store) -> Iterator[sqlite3.Connection]:
    """Store.transaction, with a stop between writing the rows and committing them."""
    self.db.execute("BEGIN IMMEDIATE")
    try:
        yield self.db
    except BaseException:
        self.db.execute("ROLLBACK")
        raise
    arrive("commit")
    self.db.execute("COMMIT")


def stop_in_transactions() -> None:
    """Make every store transaction pass by the ``commit`` point (this process only)."""
    sqlite.Store.transaction = transaction  # type: ignore[method-assign]


def drive(scenario_file: str, out: str, point: str, at: int) -> int:
    """Run (or resume) ``scenario_file`` in ``out``, killed at the ``at``-th ``point``."""
    aim(point, at)
    stop_in_transactions()
    result = simulate(scenario(scenario_file), Path(out), adapter=Killable)
    return 0 if result.finished else 1


if __name__ == "__main__":
    sys.exit(drive(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
