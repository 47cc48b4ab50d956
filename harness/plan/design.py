"""Balanced assignments: mention mode per brand and week, category and channel per slot, and
persona per probe.

- Mention modes. ``replay`` gives every brand the same mode in a week, following the listed
  modes week by week (the 2013 calendar, whose week effect is mixed into the @ effect on
  purpose). ``counterbalanced`` rotates the modes so brands start on different ones (ABAB and
  BABA for two modes), the brands of a matchup on different sequences, and the sequences used
  equally often overall.
- Categories form a Latin square: each brand cycles through every category, and when a week
  holds a whole number of cycles the cycle is shifted by one each week, so no brand asks the
  same category on the same weekday every week.
- Channels rotate within each category, so every category reaches every channel.
- Personas are dealt in turn along each brand's slots sorted by channel, category and time, so
  each brand gets each persona as equally as the numbers allow (to within one when all its
  channels have the same personas), and each persona each category.

All choices are seeded: the same scenario and seed give the same plan.
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


def category_index(slot: int, brand_rank: int, week: int, categories: int,
                   slots_per_week: int) -> int:
    """Latin-square category of a brand's ``slot``-th message (counted over the whole run)."""
    shift = week if slots_per_week % categories == 0 else 0
    return (slot + brand_rank + shift) % categories


def deal_personas(slots: Sequence[tuple[int, ...]], personas: Sequence[str],
                  start: int) -> list[str]:
    """Personas for slots, dealt in turn along the slots sorted by their keys.

    ``slots`` are sort keys such as ``(category rank, time order)``; dealing starts at
    persona ``start``. Consecutive runs of equal leading keys get personas as evenly as
    possible, and so does the whole.
    """
    order = sorted(range(len(slots)), key=lambda i: slots[i])
    result = [""] * len(slots)
    for position, index in enumerate(order):
        result[index] = personas[(start + position) % len(personas)]
    return result
