"""Send modes: who makes each post on a live channel.

- ``auto``: the harness posts (accounts whose owners agreed, test servers).
- ``confirm``: the harness prepares each post at its time; a person approves it first.
- ``assisted``: a person posts it from their own account; the harness reminds them, then finds
  the post on the persona's timeline and tracks its replies like any other.

Modes wrap an adapter, so adapters and the runner stay the same in every mode. The person is
reached through an :class:`Operator` (the terminal in ``shopper run --live``; tests bring their
own).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from harness.channels.base import ChannelAdapter, OutgoingMessage, PollResult, SentPost
from harness.durations import format_duration
from harness.errors import AwaitingPerson, Declined

ASSISTED_GRACE = timedelta(hours=24)
"""How long after its time a person may still make an assisted post before it counts as not
sent."""


class Operator(Protocol):
    """The person at the controls of a live run."""

    def approve(self, channel: str, message: OutgoingMessage) -> bool:
        """Whether to post ``message`` now (confirm mode)."""
        ...

    def remind(self, channel: str, message: OutgoingMessage) -> None:
        """Ask the person to post ``message`` themselves now (assisted mode)."""
        ...


class _Gate(ChannelAdapter):
    """An adapter that decides who posts; everything else goes to the adapter it wraps."""

    name = "gate"
    platform = "other"

    def __init__(self, inner: ChannelAdapter, operator: Operator) -> None:
        super().__init__(inner.config, inner.context)
        self.inner = inner
        self.operator = operator

    def poll(self, cursor: str | None) -> PollResult:
        return self.inner.poll(cursor)

    def find_post(self, message: OutgoingMessage) -> SentPost | None:
        return self.inner.find_post(message)

    def planned_id(self, message: OutgoingMessage) -> str | None:
        return self.inner.planned_id(message)

    @property
    def plans_ids(self) -> bool:
        return self.inner.plans_ids

    @property
    def can_find_posts(self) -> bool:
        return self.inner.can_find_posts

    def not_configured(self) -> str | None:
        return self.inner.not_configured()

    def check_access(self) -> str:
        return self.inner.check_access()

    def close(self) -> None:
        self.inner.close()


class Confirmed(_Gate):
    """``confirm`` mode: nothing is posted without the operator's yes."""

    def send(self, message: OutgoingMessage) -> SentPost:
        if not self.operator.approve(self.config.id, message):
            raise Declined("declined by the operator")
        return self.inner.send(message)


class Assisted(_Gate):
    """``assisted`` mode: a person posts; the harness looks for the post until ``grace`` after
    it first asked, every ``recheck``."""

    def __init__(self, inner: ChannelAdapter, operator: Operator, *, recheck: timedelta,
                 grace: timedelta = ASSISTED_GRACE) -> None:
        super().__init__(inner, operator)
        self.recheck = recheck
        self.grace = grace
        self._asked: dict[tuple[str, int], datetime] = {}
        self._just_looked: tuple[str, int] | None = None

    def find_post(self, message: OutgoingMessage) -> SentPost | None:
        found = self.inner.find_post(message)
        self._just_looked = None if found else (message.probe_id, message.step)
        return found

    def send(self, message: OutgoingMessage) -> SentPost:
        key = (message.probe_id, message.step)
        if self._just_looked == key:  # a retry looked a moment ago: not there yet
            self._just_looked, found = None, None
        else:
            found = self.find_post(message)
        if found is not None:
            self._asked.pop((message.probe_id, message.step), None)
            return found
        now = self.context.clock.now()
        if key not in self._asked:
            self._asked[key] = now
            self.operator.remind(self.config.id, message)
        if now - self._asked[key] >= self.grace:
            raise Declined(f"not posted by the persona within {format_duration(self.grace)} "
                           "of the reminder")
        raise AwaitingPerson("waiting for the persona to post it", now + self.recheck)


def gate(adapter: ChannelAdapter, operator: Operator) -> ChannelAdapter:
    """``adapter`` in its channel's send mode."""
    mode = adapter.config.mode or adapter.default_mode
    if mode == "confirm":
        return Confirmed(adapter, operator)
    if mode == "assisted":
        return Assisted(adapter, operator, recheck=adapter.config.poll_every)
    return adapter
