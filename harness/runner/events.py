"""Event hooks: the runner announces what happens; listeners (progress output, logs) react.

The runner does not know who listens, and a listener cannot change what the runner does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Listener = Callable[..., None]


class EventHook:
    """A list of listeners called in order with the same keyword arguments."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(**kwargs)`` every time the event fires."""
        self._listeners.append(listener)

    def fire(self, **kwargs: Any) -> None:
        """Call every listener."""
        for listener in self._listeners:
            listener(**kwargs)


class RunnerEvents:
    """The events a runner fires.

    - ``sent(probe_id, step, sent_at)``
    - ``send_failed(probe_id, step, error, retry_at)``
    - ``reply(reply)`` with a :class:`~harness.store.records.ReplyRecord`
    - ``closed(probe_ids, at)``
    - ``tick(now)`` after each pass of the loop
    - ``degraded(channel, since, error)`` when a channel has failed ``DEGRADED_AFTER`` times in
      a row
    - ``stopped(channel, error)`` when a channel stops for good in this run (credentials
      rejected, TLS refused: what retrying cannot cure)
    """

    def __init__(self) -> None:
        self.sent = EventHook()
        self.send_failed = EventHook()
        self.reply = EventHook()
        self.closed = EventHook()
        self.tick = EventHook()
        self.degraded = EventHook()
        self.stopped = EventHook()


@dataclass
class RunStats:
    """Counters for progress output."""

    planned: int = 0
    sent: int = 0
    failed: int = 0
    uncertain: int = 0
    replies: int = 0
    """Every reply stored, whoever sent it."""
    brand_replies: int = 0
    """Replies from the brand (not automatic), follow-up answers included."""
    answered: int = 0
    """Probes with a brand reply within their observation window (the export's `responded`)."""
    closed: int = 0
