"""Balanced assignments: mention mode per brand and week, category per slot, persona per probe.

- Mention modes. ``replay`` gives every brand the same mode in a week (the 2013 calendar, whose
  week effect is mixed into the @ effect on purpose). ``counterbalanced`` rotates the modes so
  that brands start on different modes (ABAB / BABA for two modes), with the two brands of each
  matchup on opposite sequences where possible.
- Categories form a Latin square: each brand cycles through every category, shifted by brand
  and by week, so each day sees the categories spread over brands and no brand asks the same
  category on the same weekday every week.
- Personas are dealt in turn along each brand's slots sorted by category, so each brand gets
  each persona, and each persona each category, as equally as the numbers allow.

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
    ordered: list[str] = []
    for matchup in resolved_matchups(scenario):
        ordered.extend(b for b in matchup if b not in ordered)
    ordered.extend(b.id for b in scenario.brands if b.id not in ordered)
    offsets: dict[str, int] = {}
    # Deal offsets in blocks of `modes` brands (a matchup pair shares a block when it can),
    # shuffling the order within each block so which brand starts with which mode is seeded.
    for start in range(0, len(ordered), modes):
        block = ordered[start:start + modes]
        order = list(range(modes))
        rng.shuffle(order)
        for brand_id, offset in zip(block, order, strict=False):
            offsets[brand_id] = offset
    return offsets


def mention_for(modes: Sequence[str], offset: int, week: int) -> str:
    """The mention mode of a brand in a week."""
    return modes[(week + offset) % len(modes)]


def category_index(slot: int, brand_rank: int, week: int, categories: int) -> int:
    """Latin-square category for a brand's ``slot``-th message (counted over the whole run)."""
    return (slot + brand_rank + week) % categories


def deal_personas(slots: Sequence[tuple[int, int]], personas: Sequence[str],
                  start: int) -> list[str]:
    """Personas for a brand's slots on one channel.

    ``slots`` are ``(category rank, time order)`` pairs; personas are dealt in turn along the
    slots sorted by category then time, starting at ``start``, so both the persona totals and
    the persona x category counts differ by at most one.
    """
    order = sorted(range(len(slots)), key=lambda i: slots[i])
    result = [""] * len(slots)
    for position, index in enumerate(order):
        result[index] = personas[(start + position) % len(personas)]
    return result
