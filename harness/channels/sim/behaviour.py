"""How a simulated brand reacts to a message, from its scenario ``simulate:`` profile.

The reply model itself (chance, delay, business-hours clock) is
:mod:`harness.scenario.behaviour_model`, shared with the power analysis; this module adds the
draws, the auto-acknowledgements, the DM and email moves and the texts. Each message meets
the profile in force when it was sent (its phase, :mod:`harness.scenario.phases`).

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

from harness.scenario.behaviour_model import ReplyClock, delay, reply_chance
from harness.scenario.model import Brand
from harness.scenario.phases import PhasedProfile

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
    """A brand's reply policy, from its ``simulate:`` profile and business hours: for each
    message, the profile (phase) in force when it was sent."""

    def __init__(self, brand: Brand, zone: str, seed: int) -> None:
        self.brand = brand
        self.profile = brand.simulate
        self.seed = seed
        self.phased = PhasedProfile(brand.simulate, zone)
        self.clocks = [ReplyClock(brand, zone, p) for p in self.phased.profiles]

    def react(self, message: Stimulus) -> list[Reaction]:
        """Everything the brand will send in response to ``message``."""
        phase = self.phased.index(message.created_at)
        profile, clock = self.phased.profiles[phase], self.clocks[phase]
        (ack_draw, reply_draw, dm_draw, email_draw, delay_draw, dm_delay_draw,
         email_delay_draw, text_draw) = _draws(f"{self.seed}:sim:{message.probe_id}:"
                                               f"{message.step}")
        text = profile.texts[int(text_draw * len(profile.texts))]

        sent = message.created_at
        if clock.ignores(sent):
            return []
        reactions = []
        if profile.auto_ack and ack_draw < profile.auto_ack.probability:
            reactions.append(Reaction(_whole(sent + profile.auto_ack.after), profile.auto_ack.kind,
                                      profile.auto_ack.text, automated=True))
        chance = reply_chance(profile, message.mention, message.category, message.step)
        if reply_draw >= chance:
            return reactions
        replied = clock.replied_at(sent, delay(profile.latency, _NORMAL.inv_cdf(delay_draw)))
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
