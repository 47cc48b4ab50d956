"""Balance tables: how the plan spreads categories, personas and mention modes over brands."""

from __future__ import annotations

from collections.abc import Sequence

from harness.plan.probe import Probe


def balance_tables(probes: Sequence[Probe]) -> dict[str, dict[str, dict[str, int]]]:
    """``{"category": {brand: {category: count}}, "persona": ..., "mention": ...}``."""
    tables: dict[str, dict[str, dict[str, int]]] = {"category": {}, "persona": {}, "mention": {}}
    for probe in probes:
        for name, table in tables.items():
            row = table.setdefault(probe.brand, {})
            value = getattr(probe, name)
            row[value] = row.get(value, 0) + 1
    for table in tables.values():
        for brand, row in table.items():
            table[brand] = dict(sorted(row.items()))
    return tables
