"""Run the small live race (tests/fakes/race.py) through a real live adapter and its SDK
(tweepy for X, smtplib and imaplib for email...) against a fake platform that lives in another
process (the test's), and SIGKILL this very process at a chosen point: the N-th time it gets
there. Called as :func:`live` in a child forked by ``tests/crash_forker.py``.

The clock: the fake platform's world runs on a virtual clock in the test's process; this child
has no clock of its own. :class:`RemoteClock` asks the test's clock server for the time when
it starts and moves the one clock forward when the runner waits, so the world and the runner
agree on the time however often the child is killed and started again: a fresh child goes on
from where the clock stood when the last one died. The runner treats it as a real clock
(``is_virtual`` false): it commits before every wait, as a live run on the system clock does.

POINT:
- ``intended``: the send committed as intended, the platform not yet called
- ``accepted``: the platform accepted the post (the adapter's send returned), before the runner
  recorded it; ``accepted@PROBE_ID`` counts only that probe's first message
- ``poll``: replies just read from the platform, before they are recorded
- ``commit``: in the middle of a store transaction (rows written, not committed)

N = 0 runs to the end without a kill. Exit status 0 when the run finished.
"""

from __future__ import annotations

import http.client
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.channels.base import ChannelAdapter, OutgoingMessage, PollResult, SentPost
from harness.channels.registry import get_adapter
from harness.session.runs import execute
from harness.session.scenarios import load_scenario
from tests import crash_driver

CLOCK_PATH = "/clock"
"""The clock server's one route: GET tells the time, POST ``{"until": ISO}`` waits for it."""


class RemoteClock:
    """The test's virtual clock, seen from this process.

    Only the runner moves time, and only one runner runs at a time, so the time read at the
    start stays true until this process itself waits: :meth:`now` needs no request."""

    is_virtual = False

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1",
                                                      parts.port or 80, timeout=30)
        self._now = self._ask("GET", None)

    def _ask(self, method: str, body: dict[str, str] | None) -> datetime:
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"content-type": "application/json"} if payload else {}
        self._connection.request(method, CLOCK_PATH, body=payload, headers=headers)
        answer = self._connection.getresponse()
        data = json.loads(answer.read())
        if answer.status != 200:
            raise RuntimeError(f"clock server: {answer.status} {data}")
        return datetime.fromisoformat(str(data["now"]))

    def now(self) -> datetime:
        return self._now

    def sleep_until(self, moment: datetime) -> None:
        if moment > self._now:
            self._now = self._ask("POST", {"until": moment.isoformat()})


class _Approve:
    """The operator of an auto-mode run: never asked, approves if it is."""

    def approve(self, channel: str, message: OutgoingMessage) -> bool:
        return True

    def remind(self, channel: str, message: OutgoingMessage) -> None:
        pass


def killable(adapter: type[ChannelAdapter], only_probe: str) -> type[ChannelAdapter]:
    """``adapter``, passing by the kill points around its sends and polls."""

    class Killable(adapter):  # type: ignore[valid-type,misc]
        def send(self, message: OutgoingMessage) -> SentPost:
            crash_driver.arrive("intended")
            post: SentPost = super().send(message)
            if not only_probe or (message.probe_id == only_probe and message.step == 0):
                crash_driver.arrive("accepted")
            return post

        def poll(self, cursor: str | None) -> PollResult:
            result: PollResult = super().poll(cursor)
            if result.replies:
                crash_driver.arrive("poll")
            return result

    return Killable


def live(scenario_file: str, out: str, adapter: str, clock_url: str,
         environ: dict[str, Any], point: str, at: int) -> int:
    """Run (or resume) the live race in ``out``, killed at the ``at``-th ``point``."""
    point, _, only_probe = point.partition("@")
    crash_driver.aim(point, at)
    crash_driver.stop_in_transactions()
    clock = RemoteClock(clock_url)
    result = execute(load_scenario(scenario_file), Path(out), live=True, clock=clock,
                     environ={str(k): str(v) for k, v in environ.items()},
                     operator=_Approve(), caps=(None, None),
                     adapter=killable(get_adapter(adapter), only_probe))
    return 0 if result.finished else 1
