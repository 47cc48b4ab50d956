"""How a simulated brand reacts to a message, from its scenario ``simulate:`` profile.

Every random draw is derived from a hash of the run seed, the probe and the step, and all of
them are drawn whatever the outcome, so a brand's reaction to a message
does not depend on what else happened, in what order, or whether the run was resumed.
"""

from __future__ import annotations

import hashlib
import math
import struct
from datetime import datetime, timedelta
from statistics import NormalDist
from typing import NamedTuple

from harness.hours import Hours
from harness.scenario.model import Brand

DM_TEXT = ("Hi {name}, we'd like to help. Could you send us a phone number or email address "
           "so someone from our team can reach you?")
EMAIL_TEXT = ("Dear {name}, following up on your message to us: we have opened a case and a "
              "member of our customer care team will be in touch.")


class Reaction(NamedTuple):
    """One thing the brand will send, and when."""

    created_at: datetime
    kind: str
    text: str
    automated: bool = False


class Stimulus(NamedTuple):
    """What the brand sees: a message, with what the simulation knows of its design."""

    probe_id: str
    step: int
    mention: str
    category: str
    persona_name: str
    created_at: datetime


class BrandBehaviour:
    """A brand's reply policy, from its ``simulate:`` profile and business hours."""

    def __init__(self, brand: Brand, zone: str, seed: int) -> None:
        self.brand = brand
        self.profile = brand.simulate
        self.seed = seed
        hours = brand.business_hours
        days = list(hours.days)
        if self.profile.weekends == "answer":
            days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        self.hours = Hours.of(days, hours.open, hours.close, zone)
        self.working_days = Hours.of(hours.days, hours.open, hours.close, zone)

    def react(self, message: Stimulus) -> list[Reaction]:
        """Everything the brand will send in response to ``message``."""
        profile = self.profile
        (ack_draw, reply_draw, dm_draw, email_draw, delay_draw, dm_delay_draw,
         email_delay_draw, text_draw) = _draws(f"{self.seed}:sim:{message.probe_id}:"
                                               f"{message.step}")
        text = profile.texts[int(text_draw * len(profile.texts))]

        sent = message.created_at
        business_day = self.working_days.is_business_day(sent)
        if not business_day and profile.weekends == "ignore":
            return []
        reactions = []
        if profile.auto_ack and ack_draw < profile.auto_ack.probability:
            reactions.append(Reaction(_whole(sent + profile.auto_ack.after), profile.auto_ack.kind,
                                      profile.auto_ack.text, automated=True))
        if message.step == 0:
            chance = profile.reply.get(message.mention, 0.0)  # type: ignore[call-overload]
            chance *= profile.category.get(message.category, 1.0)
        else:
            chance = profile.follow_up_reply
        if reply_draw >= min(chance, 1.0):
            return reactions
        delay = self._delay(delay_draw)
        if profile.off_hours == "queue":
            replied = self.hours.add(sent, delay)
        elif not business_day and profile.weekends == "queue":
            replied = self.working_days.next_open(sent) + delay
        else:
            replied = sent + delay
        replied = _whole(replied)
        reactions.append(Reaction(replied, "public_reply", text))
        if message.step == 0 and dm_draw < profile.direct_message:
            reactions.append(Reaction(
                _whole(replied + timedelta(minutes=5) * math.exp(_NORMAL.inv_cdf(dm_delay_draw))),
                "direct_message", DM_TEXT.format(name=message.persona_name)))
        if message.step == 0 and email_draw < profile.email:
            reactions.append(Reaction(
                _whole(replied + timedelta(hours=2) * math.exp(_NORMAL.inv_cdf(email_delay_draw))),
                "email", EMAIL_TEXT.format(name=message.persona_name)))
        return reactions

    def _delay(self, draw: float) -> timedelta:
        latency = self.profile.latency
        delay = latency.median * math.exp(latency.spread * _NORMAL.inv_cdf(draw))
        return max(delay, latency.minimum)


_NORMAL = NormalDist()
_EIGHT_WORDS = struct.Struct(">8Q")
_TWO_TO_MINUS_52 = 2.0**-52


def _draws(key: str) -> tuple[float, ...]:
    """Eight independent uniform draws in (0, 1), a pure function of ``key``."""
    words = _EIGHT_WORDS.unpack(hashlib.blake2b(key.encode("utf-8"), digest_size=64).digest())
    # 52 bits each, centred in their interval: strictly between 0 and 1, as inv_cdf needs.
    return tuple(((word >> 12) + 0.5) * _TWO_TO_MINUS_52 for word in words)


def _whole(moment: datetime) -> datetime:
    """Platform timestamps have whole seconds."""
    return moment.replace(microsecond=0) + (timedelta(seconds=1) if moment.microsecond else
                                            timedelta(0))
