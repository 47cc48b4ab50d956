"""A simulated brand's reply model, as pure functions of its ``simulate:`` profile: the chance
it answers a message, its reply delay, and the moment a reply comes given its business hours.

This is the one definition: the simulated channel (``channels/sim/behaviour.py``) draws each
probe's reaction from it with hashed draws, and the power analysis (``analysis/power*``)
draws whole replicates of a design from it with numpy. Both live above this layer. Both take
the profile in force when the message was sent (:mod:`harness.scenario.phases`).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from harness.hours import Hours
from harness.scenario.model import Brand, Latency, SimulateProfile

ALL_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def reply_chance(profile: SimulateProfile, mention: str, category: str, step: int = 0) -> float:
    """The chance of a public (human) reply to a message: per mention mode times the
    category's multiplier for a probe's first message, ``follow_up_reply`` for a follow-up;
    at most 1."""
    if step == 0:
        chance = profile.reply.get(mention, 0.0)  # type: ignore[call-overload]
        chance *= profile.category.get(category, 1.0)
    else:
        chance = profile.follow_up_reply
    return float(min(chance, 1.0))


def delay(latency: Latency, normal_quantile: float) -> timedelta:
    """The reply delay at standard-normal quantile ``normal_quantile``: log-normal with the
    profile's median and spread, never below its minimum."""
    drawn = latency.median * math.exp(latency.spread * normal_quantile)
    return max(drawn, latency.minimum)


class ReplyClock:
    """When a brand's reply goes out, given its business hours and off-hours policy (its
    profile's, or ``profile``'s: a phase of it, see :mod:`harness.scenario.phases`)."""

    def __init__(self, brand: Brand, zone: str, profile: SimulateProfile | None = None) -> None:
        self.profile = brand.simulate if profile is None else profile
        hours = brand.business_hours
        days = list(ALL_DAYS) if self.profile.weekends == "answer" else list(hours.days)
        self.hours = Hours.of(days, hours.open, hours.close, zone)
        self.working_days = Hours.of(hours.days, hours.open, hours.close, zone)

    def ignores(self, sent: datetime) -> bool:
        """Whether a message sent at ``sent`` gets no reaction at all (a non-business day
        under ``weekends: ignore``)."""
        return self.profile.weekends == "ignore" and not self.working_days.is_business_day(sent)

    def replied_at(self, sent: datetime, work: timedelta) -> datetime:
        """When a reply taking ``work`` to write, to a message sent at ``sent``, goes out
        (before rounding to platform seconds)."""
        if self.profile.off_hours == "queue":
            return self.hours.add(sent, work)
        if self.profile.weekends == "queue" and not self.working_days.is_business_day(sent):
            return self.working_days.next_open(sent) + work
        return sent + work

    def spans(self, sent: datetime, until: datetime) -> list[tuple[float, float]]:
        """The stretches of ``[sent, until]`` in which a reply's work is done, as ``(start,
        length)`` in seconds after ``sent``: :meth:`replied_at` of work ``w`` is the moment
        ``w`` seconds into their concatenation (the vectorised form of the same clock)."""
        total = (until - sent).total_seconds()
        if self.profile.off_hours == "queue":
            spans: list[tuple[float, float]] = []
            current = self.hours.next_open(sent)
            while current < until and len(spans) < 10_000:
                end = min(self.hours.open_until(current), until)
                spans.append(((current - sent).total_seconds(), (end - current).total_seconds()))
                current = self.hours.next_open(end) if end < until else until
            return spans
        if self.profile.weekends == "queue" and not self.working_days.is_business_day(sent):
            start = (self.working_days.next_open(sent) - sent).total_seconds()
            return [(start, total - start)] if start < total else []
        return [(0.0, total)]
