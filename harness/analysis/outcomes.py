"""One outcome per probe: what was sent, what came back, how fast.

Latency is the brand's first reply's platform timestamp minus the probe's platform timestamp,
never the time we happened to poll. A reply counts as the brand's response when it comes from
one of the brand's official handles and is not an automatic acknowledgement; one that comes
after the observation window is kept, flagged ``late``, and does not count.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, tzinfo

from harness.plan.probe import Probe
from harness.store.records import ReplyRecord, SendRecord
from harness.store.sqlite import Store

EXPORT_FIELDS = (
    "probe_id", "persona", "brand", "industry", "channel", "category", "mention", "week", "day",
    "scheduled_at", "sent_at", "status", "first_reply_at", "first_reply_kind", "latency_s",
    "responded", "late", "brand_replies", "auto_acks", "other_replies", "direct_message",
    "email", "follow_ups_sent", "level", "level_coded", "text", "simulated",
)


@dataclass(frozen=True)
class Outcome:
    """A probe and what became of it (the ``shopper export`` row)."""

    probe: Probe
    sent_at: datetime | None
    status: str
    first_reply_at: datetime | None
    first_reply_kind: str | None
    latency_s: int | None
    responded: bool
    late: bool
    brand_replies: int
    auto_acks: int
    other_replies: int
    direct_message: bool
    email: bool
    follow_ups_sent: int

    def level(self, quick_s: float = 3600, slow_s: float = 86400) -> int:
        """Engagement level 0-5: 0 no reply in the window; 1 later than ``slow_s``; 2 later
        than ``quick_s``; 3 within it; 4 a reply and then a direct message; 5 a reply and
        then an email. Level 6 is only ever coded by a person (``level_coded``)."""
        if not self.responded or self.latency_s is None:
            return 0
        if self.email:
            return 5
        if self.direct_message:
            return 4
        if self.latency_s > slow_s:
            return 1
        return 2 if self.latency_s > quick_s else 3

    def row(self, zone: tzinfo, quick_s: float = 3600, slow_s: float = 86400, *,
            simulated: bool = False) -> dict[str, object]:
        """The export record (:data:`EXPORT_FIELDS`), times with their offset in ``zone``;
        ``simulated``: the run was a simulation (every row says so)."""
        record: dict[str, object] = {**self.probe.record(zone), **asdict(self)}
        record["simulated"] = simulated
        del record["probe"]
        record["level"] = self.level(quick_s, slow_s)
        record["level_coded"] = None  # for a person coding the results (level 6 and checks)
        for key in ("sent_at", "first_reply_at"):
            value = getattr(self, key)
            record[key] = value.astimezone(zone).isoformat() if value else None
        return {key: record[key] for key in EXPORT_FIELDS}


def outcomes(probes: list[Probe], sends: list[SendRecord], replies: list[ReplyRecord],
             closed: dict[str, datetime], window: timedelta,
             email_channels: frozenset[str] = frozenset()) -> list[Outcome]:
    """One :class:`Outcome` per probe, in plan order. On ``email_channels`` an email is the
    brand's ordinary answer, not a move to another channel."""
    latest: dict[tuple[str, int], SendRecord] = {}
    for send in sends:
        latest[(send.probe_id, send.step)] = send
    follow_ups = Counter(pid for (pid, step), send in latest.items()
                         if step > 0 and send.state == "sent")
    by_probe: dict[str, list[ReplyRecord]] = defaultdict(list)
    for reply in replies:
        if reply.probe_id is not None:
            by_probe[reply.probe_id].append(reply)
    result = []
    for probe in probes:
        first = latest.get((probe.probe_id, 0))
        sent_at = first.sent_at if first and first.state == "sent" else None
        status = _status(first, probe.probe_id in closed)
        mine = sorted(by_probe.get(probe.probe_id, []), key=lambda r: r.created_at)
        brand = [r for r in mine if r.from_brand and not r.automated]
        first_reply = brand[0] if brand else None
        latency = None
        responded = late = False
        if first_reply is not None and sent_at is not None:
            latency = int((first_reply.created_at - sent_at).total_seconds())
            responded = first_reply.created_at <= sent_at + window
            late = not responded
        result.append(Outcome(
            probe=probe, sent_at=sent_at, status=status,
            first_reply_at=first_reply.created_at if first_reply else None,
            first_reply_kind=first_reply.kind if first_reply else None,
            latency_s=latency, responded=responded, late=late, brand_replies=len(brand),
            auto_acks=sum(1 for r in mine if r.from_brand and r.automated),
            other_replies=sum(1 for r in mine if not r.from_brand),
            direct_message=any(r.kind == "direct_message" for r in brand),
            email=probe.channel not in email_channels and any(r.kind == "email" for r in brand),
            follow_ups_sent=follow_ups[probe.probe_id],
        ))
    return result


def _status(first: SendRecord | None, closed: bool) -> str:
    if first is None:
        return "planned"
    if first.state == "sent":
        return "closed" if closed else "open"
    if first.state == "intended":
        return "sending"
    if first.state in ("failed", "not_sent"):
        return "retrying" if first.retry_at is not None else "failed"
    return first.state  # uncertain


def from_store(store: Store, replies: list[ReplyRecord] | None = None) -> list[Outcome]:
    """Outcomes of every probe in a run's store (``replies``: the store's, if already read)."""
    meta = store.meta()
    window = timedelta(seconds=int(meta["observation_window_s"]))
    replies = store.replies() if replies is None else replies
    return outcomes(store.probes(), store.sends(), replies, store.closed(), window,
                    email_channels(meta))


def is_simulated(meta: dict[str, str]) -> bool:
    """Whether a run's store holds a simulated run (stores before 0.2 were all simulated)."""
    return meta.get("run_mode", "simulated") == "simulated"


def email_channels(meta: dict[str, str]) -> frozenset[str]:
    """The run's channels on the email platform, from the scenario stored with it."""
    import json

    channels = json.loads(meta.get("scenario_json", "{}")).get("channels", [])
    return frozenset(c["id"] for c in channels if c.get("platform") == "email")
