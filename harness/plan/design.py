"""Balanced assignments: mention mode per brand and week, category and channel per slot, and
persona per probe.

- Mention modes. ``replay`` gives every brand the same mode in a week, following the listed
  modes week by week (the 2013 calendar, whose week effect is mixed into the @ effect on
  purpose). ``counterbalanced`` rotates the modes so brands start on different ones (ABAB and
  BABA for two modes), the brands of a matchup on different sequences, and the sequences used
  equally often overall.
- Categories form a Latin square: each brand cycles through every category, and when a week
  holds a whole number of cycles the cycle is shifted by one each week, so no brand asks the
  same category on the same weekday every week. The brands of a matchup start the cycle
  ``stride`` apart (:func:`category_offsets`), so partners ask different categories on every
  day when there are enough of them.
- Channels rotate within each category, so every category reaches every channel.
- Personas: see :mod:`harness.plan.personas`.

A replay with one message a day keeps the deal of earlier versions (:func:`legacy_deal`): it
reproduces the 2013 plan exactly. All choices are seeded: the same scenario and seed give the
same plan.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from harness.scenario.model import Scenario, resolved_matchups


def mention_offsets(scenario: Scenario, rng: random.Random) -> dict[str, int]:
    """Per brand, how far its mode sequence is rotated (0 for every brand in a replay)."""
    if scenario.design.type == "replay":
        return {brand.id: 0 for brand in scenario.brands}
    modes = len(set(scenario.design.mentions))
    groups = [list(matchup) for matchup in resolved_matchups(scenario)]
    grouped = {b for matchup in groups for b in matchup}
    groups += [[b.id] for b in scenario.brands if b.id not in grouped]
    offsets: dict[str, int] = {}
    dealt = rng.randrange(modes)
    for members in groups:  # consecutive offsets within a matchup; a running count overall
        rng.shuffle(members)
        for brand_id in members:
            offsets[brand_id] = dealt % modes
            dealt += 1
    return offsets


def mention_modes(scenario: Scenario) -> list[str]:
    """The sequence of modes weeks cycle through (a replay keeps repeats: at, at, name...)."""
    listed: list[str] = list(scenario.design.mentions)
    return listed if scenario.design.type == "replay" else list(dict.fromkeys(listed))


def mention_for(modes: Sequence[str], offset: int, week: int) -> str:
    """The mention mode of a brand in a week."""
    return modes[(week + offset) % len(modes)]


def legacy_deal(scenario: Scenario) -> bool:
    """Whether the plan deals categories and personas as earlier versions did: a replay with
    one message a day (categories by brand rank, personas in turn by category; see
    :func:`deal_personas`). Never for a repeating schedule, whose plan has rules of its own
    (:mod:`harness.plan.continuous`)."""
    schedule = scenario.schedule
    return (scenario.design.type == "replay" and schedule.messages_per_brand_per_day == 1
            and not schedule.repeat)


def category_stride(categories: int, partners: int, per_day: int) -> int:
    """How far apart in the category cycle the brands of a matchup of ``partners`` start: a
    day's worth of messages (``per_day``) when every partner's day fits in the cycle apart
    from the others', else as far as fits, at least one."""
    return max(1, min(per_day, categories // partners))


def category_offsets(scenario: Scenario, rng: random.Random, categories: int) -> dict[str, int]:
    """Per brand, where its category cycle starts.

    Matchups in a seeded order, the brands of each in a seeded order, then the brands in no
    matchup: consecutive brands start :func:`category_stride` apart, on one running count from
    a seeded point. So the partners of a matchup with no more brands than categories ask
    different categories with every message number of every day.
    """
    per_day = scenario.schedule.messages_per_brand_per_day
    groups = [list(matchup) for matchup in resolved_matchups(scenario)]
    rng.shuffle(groups)
    grouped = {b for matchup in groups for b in matchup}
    groups += [[b.id] for b in scenario.brands if b.id not in grouped]
    offsets: dict[str, int] = {}
    dealt = rng.randrange(categories)
    for members in groups:
        rng.shuffle(members)
        stride = category_stride(categories, len(members), per_day)
        for brand_id in members:
            offsets[brand_id] = dealt % categories
            dealt += stride
    return offsets


def category_index(slot: int, offset: int, week: int, categories: int,
                   slots_per_week: int) -> int:
    """Latin-square category of a brand's ``slot``-th message (counted over the whole run),
    its cycle starting at ``offset`` (the brand's rank in a legacy deal)."""
    shift = week if slots_per_week % categories == 0 else 0
    return (slot + offset + shift) % categories


def deal_personas(slots: Sequence[tuple[int, ...]], personas: Sequence[str],
                  start: int) -> list[str]:
    """Personas for slots, dealt in turn along the slots sorted by their keys (the legacy
    deal, :func:`legacy_deal`).

    ``slots`` are sort keys such as ``(category rank, time order)``; dealing starts at
    persona ``start``. Consecutive runs of equal leading keys get personas as evenly as
    possible, and so does the whole.
    """
    order = sorted(range(len(slots)), key=lambda i: slots[i])
    result = [""] * len(slots)
    for position, index in enumerate(order):
        result[index] = personas[(start + position) % len(personas)]
    return result
