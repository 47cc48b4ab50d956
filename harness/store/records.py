"""Plain records the store reads and writes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class SendRecord:
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


@dataclass(frozen=True)
class ReplyRecord:
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
