"""Match an incoming reply to the probe it answers.

In order of trust: the platform says which post it replies to (``in_reply_to``), or which
conversation it belongs to; failing both (a direct message, an email without references), the
most recent probe sent by that persona to that brand on that channel before the reply.
"""

from __future__ import annotations

import bisect
import json
import math
from dataclasses import dataclass, field
from datetime import datetime

from harness.channels.base import IncomingReply
from harness.runner.roster import Roster
from harness.store.records import ReplyRecord

_RAW_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str, allow_nan=False)


MAX_STORED_TEXT = 64 * 1024
"""Characters of a reply's text, and of its raw payload, that are stored: a brand (or anyone
writing to a persona) cannot fill the disk with one message."""


MAX_STORED_AUTHOR = 1_000
"""Characters of a reply's author (a handle or an address) that are stored."""


def stored_text(text: str, limit: int = MAX_STORED_TEXT) -> str:
    """``text`` as stored: whole, or cut at ``limit`` characters with the cut marked and the
    original length given."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n[cut by shopper: {len(text):,} characters in all]"


def raw_json(raw: object, limit: int = MAX_STORED_TEXT) -> str:
    """A platform's raw answer as strict JSON for the store: a NaN or an infinity in it (JSON
    parsers in Python accept them) is kept as its text; a payload over ``limit`` characters
    is kept as its start, inside a JSON object that says it was cut and how long it was."""
    try:
        text = _RAW_ENCODER.encode(raw)
    except ValueError:
        text = _RAW_ENCODER.encode(_finite(raw))
    if len(text) <= limit:
        return text
    return _RAW_ENCODER.encode({"cut_by_shopper": True, "length": len(text),
                                "start": text[:limit]})


def _finite(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


@dataclass(frozen=True)
class Match:
    """Which probe and step a reply answers, how we know, and whether the brand sent it."""

    probe_id: str | None
    step: int | None
    matched_by: str
    from_brand: bool


@dataclass
class MatchIndex:
    """What is needed to match replies: our posts by platform id, and sends per pair."""

    posts: dict[str, tuple[str, int]] = field(default_factory=dict)
    """platform id -> (probe id, step), for our posts and for replies already matched."""
    recent: dict[tuple[str, str, str], list[tuple[datetime, str, int]]] = field(
        default_factory=dict)
    """(channel, persona, brand) -> sorted (sent_at, probe id, step)."""
    probe_brand: dict[str, str] = field(default_factory=dict)

    def add_post(self, platform_id: str, probe_id: str, step: int, sent_at: datetime,
                 channel: str, persona: str, brand: str) -> None:
        """Remember one of our posts."""
        self.posts[platform_id] = (probe_id, step)
        self.probe_brand[probe_id] = brand
        bisect.insort(self.recent.setdefault((channel, persona, brand), []),
                      (sent_at, probe_id, step))

    def match(self, channel: str, reply: IncomingReply, roster: Roster) -> Match:
        """Find the probe ``reply`` answers."""
        author_brand = roster.brand_of(channel, reply.author)
        found: tuple[str, int] | None = None
        how = "none"
        for reference, name in ((reply.in_reply_to, "in_reply_to"),
                                (reply.conversation_id, "conversation")):
            if reference and reference in self.posts:
                found, how = self.posts[reference], name
                break
        # Recency is for what names no message it answers (a DM, a fresh mention): a reply
        # that answers a message we do not know is never guessed onto another probe.
        if found is None and author_brand is not None and not reply.in_reply_to:
            persona = roster.persona_of(channel, reply.to_account)
            sends = self.recent.get((channel, persona or "", author_brand), [])
            position = bisect.bisect_right(sends, (reply.created_at, "\uffff", 1 << 30))
            if position:
                _, probe_id, step = sends[position - 1]
                found, how = (probe_id, step), "recent_probe"
        if found is None:
            return Match(None, None, "none", author_brand is not None)
        probe_id, step = found
        self.posts.setdefault(reply.platform_id, found)
        return Match(probe_id, step, how, author_brand == self.probe_brand.get(probe_id))

    def record(self, channel: str, reply: IncomingReply, roster: Roster,
               received_at: datetime) -> ReplyRecord:
        """The stored form of ``reply``, matched to its probe."""
        match = self.match(channel, reply, roster)
        return ReplyRecord(
            channel=channel, platform_id=reply.platform_id, probe_id=match.probe_id,
            step=match.step, matched_by=match.matched_by,
            author=stored_text(reply.author, MAX_STORED_AUTHOR),
            from_brand=match.from_brand, kind=reply.kind, automated=reply.automated,
            text=stored_text(reply.text), created_at=reply.created_at,
            received_at=received_at,
            in_reply_to=reply.in_reply_to, raw=raw_json(dict(reply.raw)))
