"""Plain records the store reads and writes, and the words their fields may hold."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, NamedTuple, get_args

from harness.platforms import ReplyKind

SendState = Literal["intended", "sent", "failed", "not_sent", "uncertain"]
"""Where a send attempt is: written as ``intended`` before the platform is called, then
``sent``; ``failed`` (it reached the platform's door and was refused, or broke); ``not_sent``
(it never left: a cap, a person yet to post, a decline); ``uncertain`` (it may have posted,
nobody can say: never resent)."""
SEND_STATES: tuple[SendState, ...] = get_args(SendState)

Reason = Literal[
    "rate_limited",          # the platform asked us to slow down
    "transient",             # a failure worth retrying (network, 5xx)
    "adapter_bug",           # the adapter raised something unexpected
    "authentication_failed", # credentials rejected: stops the channel
    "not_configured",        # settings or TLS wrong: stops the channel
    "access_denied",         # refused for this message: final for it
    "awaiting_person",       # assisted or manual: the persona has not posted it yet
    "declined",              # the operator said no (confirm mode)
    "outcome_unknown",       # the adapter cannot tell whether it posted
    "interrupted",           # a crash came between the intent and the answer
    "capped",                # a live run's cap would be passed
    "channel_stopped",       # not attempted: its channel stopped earlier in the batch
    "channel_rate_limited",  # not attempted: its channel is rate limited
    "stopping",              # not attempted: the run was asked to stop (a signal)
    "operator",              # settled by hand with `shopper resolve`
]
"""Why an attempt ended as it did (``None`` for a plain send). The runner decides by this
field alone; ``error`` is the text a person reads."""
REASONS: tuple[Reason, ...] = get_args(Reason)

CHANNEL_FAILURES: frozenset[Reason] = frozenset({
    "rate_limited", "transient", "adapter_bug", "authentication_failed", "access_denied",
    "not_configured"})
"""Reasons that count against a channel's health (the platform or the adapter failed)."""
STOPS_CHANNEL: frozenset[Reason] = frozenset({"authentication_failed", "not_configured"})
"""Reasons that are the same on every try until a person fixes the channel."""
USES_AN_ATTEMPT: frozenset[Reason] = frozenset({"transient", "adapter_bug"})
"""Reasons that use up one of a message's allowed attempts."""


class SendRecord(NamedTuple):
    """One send attempt."""

    probe_id: str
    step: int
    attempt: int
    state: SendState
    intended_at: datetime
    sent_at: datetime | None
    platform_id: str | None
    in_reply_to: str | None
    text: str
    error: str | None = None
    retry_at: datetime | None = None
    reason: Reason | None = None


class ReplyRecord(NamedTuple):
    """One stored reply, matched to a probe where possible."""

    channel: str
    platform_id: str
    probe_id: str | None
    step: int | None
    matched_by: str
    author: str
    from_brand: bool
    kind: ReplyKind
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
