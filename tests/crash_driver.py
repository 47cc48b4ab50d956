"""Run a scenario the way `shopper run --simulate` does, and SIGKILL this very process at a
chosen point: the N-th time it gets there.

Usage: python tests/crash_driver.py SCENARIO OUT POINT N

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
from harness.cli.running import simulate
from harness.scenario.load import load_scenario
from harness.store import sqlite

POINT, AT = sys.argv[3], int(sys.argv[4])
seen = {"n": 0}


def arrive(point: str) -> None:
    if point == POINT and AT:
        seen["n"] += 1
        if seen["n"] == AT:
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


sqlite.Store.transaction = transaction  # type: ignore[method-assign,assignment]

if __name__ == "__main__":
    scenario = load_scenario(sys.argv[1])
    result = simulate(scenario, Path(sys.argv[2]), adapter=Killable)
    sys.exit(0 if result.finished else 1)
