"""Race results in the terminal (until the full report lands)."""

from __future__ import annotations

import json
from pathlib import Path

from harness.analysis.leaderboard import group, leaderboard
from harness.analysis.outcomes import from_store
from harness.cli.output import table
from harness.durations import format_duration
from harness.store.folder import RunFolder
from harness.store.sqlite import Store


def print_race(folder: Path) -> None:
    """Print the leaderboard and the @ vs name comparison of a run."""
    store = Store.open(RunFolder(folder).store_path)
    try:
        meta = store.meta()
        results = from_store(store)
    finally:
        store.close()
    sent = [o for o in results if o.sent_at is not None]
    responded = sum(o.responded for o in sent)
    print(f"\n{meta.get('title') or meta['name']}")
    print(f"{responded} of {len(sent)} messages answered by the brand within the observation "
          f"window.\n")
    names = {b["id"]: b["name"] for b in json.loads(meta["scenario_json"])["brands"]}
    rows: list[tuple[object, ...]] = []
    for rank, entry in enumerate(leaderboard(results), start=1):
        median = (f"{format_duration(entry.median_latency_s)} (n={entry.rate.k})"
                  if entry.median_latency_s is not None else "-")
        low, high = entry.rate.interval or (0.0, 0.0)
        rows.append((rank, names.get(entry.key, entry.key), f"{entry.rate.k}/{entry.rate.n}",
                     f"{entry.rate.value or 0:.0%}", f"{low:.0%}-{high:.0%}", median))
    print(table(("#", "brand", "answered", "rate", "95% CI", "median time among replies"),
                rows, "rlrrrl"))
    print()
    rows = []
    for entry in sorted(group(results, lambda o: o.probe.mention), key=lambda g: g.key):
        low, high = entry.rate.interval or (0.0, 0.0)
        rows.append((entry.key, f"{entry.rate.k}/{entry.rate.n}", f"{entry.rate.value or 0:.0%}",
                     f"{low:.0%}-{high:.0%}"))
    print(table(("mention", "answered", "rate", "95% CI"), rows, "lrrr"))
    print(f"\nRun folder: {folder}  (shopper export {folder} for one row per probe)")
