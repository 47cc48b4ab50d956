"""Balance tables: how the plan spreads categories, personas and mention modes over brands,
personas over mention modes within each brand, and categories over matchup partners."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import TypedDict

from harness.plan.probe import Probe

Table = dict[str, dict[str, int]]
"""``{row: {column: count}}``, rows and columns sorted."""


class BalanceTables(TypedDict):
    """Every table of :func:`balance_tables` (the ``balance`` of ``shopper plan --format
    json``)."""

    category: Table
    persona: Table
    mention: Table
    persona_mention: dict[str, Table]
    """``{brand: {persona: {mode: count}}}``: persona against mention mode within each brand."""
    partner_days: Table
    """``{"a / b": {"days": n, "same_category": n}}`` for every two brands of a matchup: the
    days both are sent messages, and those on which two of their messages with the same number
    (the first of the day, the second...) ask the same category."""
    partner_category: Table
    """``{"a / b": {category: n}}``: per category, the days on which both brands ask it (with
    any of the day's messages)."""


def balance_tables(probes: Sequence[Probe],
                   matchups: Sequence[Sequence[str]] = ()) -> BalanceTables:
    """The balance tables of a plan; ``matchups`` are lists of brand ids."""
    simple: dict[str, Table] = {"category": {}, "persona": {}, "mention": {}}
    crossed: dict[str, Table] = {}
    for probe in probes:
        for name, table in simple.items():
            row = table.setdefault(probe.brand, {})
            value = getattr(probe, name)
            row[value] = row.get(value, 0) + 1
        cells = crossed.setdefault(probe.brand, {}).setdefault(probe.persona, {})
        cells[probe.mention] = cells.get(probe.mention, 0) + 1
    modes = sorted({p.mention for p in probes})
    partner_days, partner_category = _partner_tables(probes, matchups)
    return BalanceTables(
        category=_sorted(simple["category"]), persona=_sorted(simple["persona"]),
        mention=_sorted(simple["mention"]),
        persona_mention={brand: {persona: {m: rows[persona].get(m, 0) for m in modes}
                                 for persona in sorted(rows)}
                         for brand, rows in crossed.items()},
        partner_days=partner_days, partner_category=partner_category)


def _partner_tables(probes: Sequence[Probe],
                    matchups: Sequence[Sequence[str]]) -> tuple[Table, Table]:
    """The ``partner_days`` and ``partner_category`` tables of :func:`balance_tables`."""
    members = {b for matchup in matchups for b in matchup}
    days: dict[str, dict[int, list[str]]] = {}  # brand -> day -> categories by message number
    for probe in probes:
        if probe.brand in members:
            number = int(probe.probe_id.rsplit("-", 1)[1]) - 1
            asked = days.setdefault(probe.brand, {}).setdefault(probe.day, [])
            asked.extend([""] * (number + 1 - len(asked)))
            asked[number] = probe.category
    categories = sorted({p.category for p in probes})
    together: Table = {}
    shared: Table = {}
    for matchup in matchups:
        for first, second in combinations(matchup, 2):
            mine, theirs = days.get(first, {}), days.get(second, {})
            counts = {"days": 0, "same_category": 0}
            both = dict.fromkeys(categories, 0)
            for day in mine.keys() & theirs.keys():
                counts["days"] += 1
                pairs = zip(mine[day], theirs[day], strict=False)
                counts["same_category"] += any(a == b != "" for a, b in pairs)
                for category in set(mine[day]) & set(theirs[day]) - {""}:
                    both[category] += 1
            together[f"{first} / {second}"] = counts
            shared[f"{first} / {second}"] = both
    return together, shared


def _sorted(table: Table) -> Table:
    return {row: dict(sorted(cells.items())) for row, cells in table.items()}
