"""The probe: one planned message, and how it is written out."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import NamedTuple


class FollowUpStep(NamedTuple):
    """A follow-up message, sent ``delay_s`` seconds after the brand answers the step before."""

    delay_s: int
    text: str


class Probe(NamedTuple):
    """One planned message: persona x brand x channel x category x mention mode x send time."""

    probe_id: str
    seq: int
    persona: str
    brand: str
    industry: str
    channel: str
    category: str
    mention: str
    week: int
    day: int
    scheduled_at: datetime
    text: str
    follow_ups: tuple[FollowUpStep, ...] = ()

    def record(self, zone: tzinfo) -> dict[str, object]:
        """The public record of the plan (``shopper plan --format csv|json``)."""
        return {
            "probe_id": self.probe_id,
            "persona": self.persona,
            "brand": self.brand,
            "industry": self.industry,
            "channel": self.channel,
            "category": self.category,
            "mention": self.mention,
            "week": self.week,
            "day": self.day,
            "scheduled_at": self.scheduled_at.astimezone(zone).isoformat(),
            "text": self.text,
        }


PLAN_FIELDS = ("probe_id", "persona", "brand", "industry", "channel", "category", "mention",
               "week", "day", "scheduled_at", "text")
