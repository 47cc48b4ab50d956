"""Plain records the store reads and writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple


class SendRecord(NamedTuple):
    """One send attempt."""

    probe_id: str
    step: int
    attempt: int
    state: str
    intended_at: datetime
    sent_at: datetime | None
    platform_id: str | None
    in_reply_to: str | None
    text: str
    error: str | None = None
    retry_at: datetime | None = None


class ReplyRecord(NamedTuple):
    """One stored reply, matched to a probe where possible."""

    channel: str
    platform_id: str
    probe_id: str | None
    step: int | None
    matched_by: str
    author: str
    from_brand: bool
    kind: str
    automated: bool
    text: str
    created_at: datetime
    received_at: datetime
    in_reply_to: str | None
    raw: str


class ChannelHealth(NamedTuple):
    """How a channel is doing: its current run of consecutive failures."""

    channel: str
    failures: int
    since: datetime | None
    last_error: str | None
    total_failures: int
    updated_at: datetime

    @property
    def degraded(self) -> bool:
        """Failing again and again (see ``DEGRADED_AFTER``)."""
        return self.failures >= DEGRADED_AFTER


DEGRADED_AFTER = 3
"""Consecutive failures (polls or sends) after which a channel is reported as degraded."""


@dataclass
class WriteBatch:
    """Writes to commit together in one transaction (see ``Store.write``)."""

    outcomes: list[SendRecord] = field(default_factory=list)
    polls: list[tuple[str, list[ReplyRecord], str | None, datetime]] = field(
        default_factory=list)
    closes: list[tuple[str, datetime]] = field(default_factory=list)
    intents: list[SendRecord] = field(default_factory=list)
    health: dict[str, ChannelHealth] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.outcomes or self.polls or self.closes or self.intents or self.health)

    def clear(self) -> None:
        """Empty the batch (after it was committed)."""
        self.outcomes, self.polls, self.closes, self.intents = [], [], [], []
        self.health = {}
