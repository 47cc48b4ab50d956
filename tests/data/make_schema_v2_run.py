"""Write a run store as the schema-2 harness wrote it, with a send of each kind of failure.

This made ``schema_v2_run.sql`` (the store, as SQL) and ``schema_v2_run.export.json`` (its
export, as that harness gave it); ``tests/test_store_schema.py`` migrates the one and checks it
against the other. It was run once, with the harness at commit 0fae79b (schema 2) first on the
path::

    PYTHONPATH=<checkout of 0fae79b> python tests/data/make_schema_v2_run.py OUT_DIR
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from harness.analysis.outcomes import from_store
from harness.channels.base import OutgoingMessage, SentPost
from harness.channels.simulated import SimulatedChannel
from harness.errors import (
    AccessDenied,
    AuthenticationFailed,
    AwaitingPerson,
    Declined,
    OutcomeUnknown,
    RateLimited,
    TransientError,
)
from harness.session.runs import simulate
from harness.session.scenarios import load_scenario_text
from harness.store.sqlite import Store
from tests.conftest import SMALL

KINDS: list[Callable[[datetime], Exception]] = [
    lambda now: TransientError("502 Bad Gateway"),
    lambda now: RateLimited("429 Too Many Requests", now + timedelta(minutes=15)),
    lambda now: AccessDenied("403 you cannot mention this account"),
    lambda now: RuntimeError("adapter bug"),
    lambda now: AwaitingPerson("the persona has not posted it yet", now + timedelta(minutes=10)),
    lambda now: Declined("the operator said no"),
    lambda now: OutcomeUnknown("connection dropped after the request was sent"),
    lambda now: AuthenticationFailed("401 Unauthorized"),  # stops the channel: rerun below
]
SEEN: set[str] = set()


class Failing(SimulatedChannel):
    """Fails the first attempt of the first probes, each in its own way."""

    def send(self, message: OutgoingMessage) -> SentPost:
        if message.step == 0 and message.probe_id not in SEEN:
            SEEN.add(message.probe_id)
            if len(SEEN) <= len(KINDS):
                raise KINDS[len(SEEN) - 1](self.context.clock.now())
        return super().send(message)


def main(out: Path) -> None:
    folder = out / "run"
    scenario = load_scenario_text(SMALL, "small.yaml")
    stopped = simulate(scenario, folder, adapter=Failing, source=SMALL, source_name="small.yaml")
    assert not stopped.finished  # the rejected credentials stopped the channel
    assert simulate(scenario, folder, adapter=Failing, source=SMALL,
                    source_name="small.yaml").finished
    store = Store.open(folder / "run.sqlite")
    try:
        assert store.meta()["schema_version"] == "2"
        rows = [o.row(ZoneInfo("UTC")) for o in from_store(store)]
    finally:
        store.close()
    db = sqlite3.connect(folder / "run.sqlite")
    dump = "\n".join(db.iterdump()) + "\n"
    db.close()
    (out / "schema_v2_run.sql").write_text(dump, encoding="utf-8")
    exported = json.dumps(rows, indent=1, sort_keys=True, default=str) + "\n"
    (out / "schema_v2_run.export.json").write_text(exported, encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
