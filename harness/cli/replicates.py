"""`shopper race SCENARIO --replicates N`: a simulated scenario over N seeds, shown as ranges
and verdict frequencies, beside its published figures."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from harness.atomic import write_atomically
from harness.cli.output import printable, table
from harness.cli.paths import writable_folder
from harness.errors import UsageError
from harness.report.figure_words import label, label_matchup, shown
from harness.session.replicates import Replicates, replicate
from harness.session.scenarios import load_scenario


def race_replicates(args: argparse.Namespace) -> int:
    """Simulate N seeds; print the ranges; write DIR/replicates.json. Exit 1 when a
    published figure falls outside its range (the replay is not faithful to it)."""
    scenario = load_scenario(args.scenario, max_probes=args.max_probes, start=args.start,
                             until=args.until)
    first = scenario.seed if args.seed is None else args.seed
    folder = writable_folder(Path(args.out) if args.out else Path("results") / scenario.name,
                             "--out" if args.out else "run folder")
    seeds = range(first, first + args.replicates)

    def progress(done: int, total: int) -> None:
        if not args.quiet and (done == total or done % max(1, total // 20) == 0):
            print(f"\rshopper: {done}/{total} seeds", end="\n" if done == total else "",
                  file=sys.stderr, flush=True)

    result = replicate(scenario, seeds, progress)
    names = {b.id: b.name for b in scenario.brands}
    print(f"\nSIMULATED: {printable(scenario.title or scenario.name)} over {len(seeds)} seeds "
          f"({first}-{first + len(seeds) - 1}); brand behaviour models, not the real brands.")
    rows = [(printable(label(name, names)), shown(name, s.median), f"{shown(name, s.low)} - "
             f"{shown(name, s.high)}", s.runs) for name, s in result.spreads.items()]
    print(table(("figure", "median", "95% range", "seeds"), rows, "lrrr"))
    if result.checks:
        source = scenario.report.published.source if scenario.report.published else ""
        print(f"\nPublished figures ({printable(source)}) against the simulated 95% ranges:")
        print(table(("figure", "published", "simulated 95% range", ""),
                    [(printable(label(c.name, names)), shown(c.name, c.published),
                      f"{shown(c.name, c.spread.low)} - {shown(c.name, c.spread.high)}",
                      "inside" if c.inside else "OUTSIDE") for c in result.checks], "lrrl"))
    print("\nMatchup verdicts over the seeds (more replies; faster among replies):")
    for matchup, counts in result.verdicts.items():
        shown_counts = ", ".join(f"{printable(names.get(v, v))} {n}"
                                 for v, n in counts.most_common())
        speed = ", ".join(f"{printable(names.get(v, v))} {n}"
                          for v, n in result.speed_verdicts[matchup].most_common())
        print(f"  {printable(label_matchup(matchup, names))}: {shown_counts}; speed: {speed}")
    target = folder / "replicates.json"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        write_atomically(target, json.dumps(as_json(result), indent=2) + "\n")
    except OSError as exc:
        raise UsageError(f"{target}: cannot write: {exc.strerror or exc}") from None
    print(f"\nWritten: {target}")
    return 0 if all(c.inside for c in result.checks) else 1


def as_json(result: Replicates) -> dict[str, object]:
    """The replicates as data (``replicates.json``)."""
    return {
        "simulated": True,
        "seeds": [result.seeds[0], result.seeds[-1]] if result.seeds else [],
        "figures": {name: {"median": s.median, "low95": s.low, "high95": s.high,
                           "runs": s.runs} for name, s in result.spreads.items()},
        "published": [{"figure": c.name, "published": c.published, "low95": c.spread.low,
                       "high95": c.spread.high, "inside": c.inside} for c in result.checks],
        "rate_verdicts": {m: dict(c) for m, c in result.verdicts.items()},
        "speed_verdicts": {m: dict(c) for m, c in result.speed_verdicts.items()},
    }
