"""Race results: the leaderboard in the terminal, the report, and single charts."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from harness.analysis.leaderboard import group, leaderboard
from harness.analysis.outcomes import from_store, is_simulated
from harness.analysis.verdicts import competition_ranks
from harness.atomic import replace_atomically
from harness.cli.output import printable, table
from harness.cli.paths import writable_file, writable_folder
from harness.durations import format_duration
from harness.errors import UsageError
from harness.session.reports import write_report
from harness.store.folder import RunFolder


def print_race(folder: Path) -> None:
    """Print the leaderboard and the @ vs name comparison of a run."""
    store = RunFolder(folder).open_store()
    try:
        meta = store.meta()
        results = from_store(store)
    finally:
        store.close()
    sent = [o for o in results if o.sent_at is not None]
    responded = sum(o.responded for o in sent)
    if is_simulated(meta):
        print(f"\nSIMULATED (seed {meta.get('seed', '?')}): brand behaviour models on a virtual "
              "clock, not replies from the real brands.")
    print(f"\n{printable(meta.get('title') or meta['name'])}")
    print(f"{responded} of {len(sent)} messages answered by the brand within the observation "
          f"window.\n")
    names = {b["id"]: b["name"] for b in json.loads(meta["scenario_json"])["brands"]}
    rows: list[tuple[object, ...]] = []
    board = leaderboard(results)
    ranks = competition_ranks([e.key for e in board], [e.rate.value or 0.0 for e in board])
    for ranked, entry in zip(ranks, board, strict=True):
        median = (f"{format_duration(entry.median_latency_s)} (n={entry.rate.k})"
                  if entry.median_latency_s is not None else "-")
        low, high = entry.rate.interval or (0.0, 0.0)
        rows.append((f"{ranked.rank}{'=' * ranked.tied}", names.get(entry.key, entry.key),
                     f"{entry.rate.k}/{entry.rate.n}", f"{entry.rate.value or 0:.0%}",
                     f"{low:.0%}-{high:.0%}", median))
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


def report(args: argparse.Namespace) -> int:
    """`shopper report DIR [--out OUTDIR]`."""
    folder = Path(args.folder)
    out = writable_folder(Path(args.out) if args.out else folder / "report", "--out")
    files = write_report(folder, out)
    print(f"report: {files.html}\nposter: {files.poster}\ncharts: {out / 'charts'}\n"
          f"data:   {files.summary}, {files.probes}")
    say_warnings([*files.warnings, *files.power_notes])
    return 0


def say_warnings(warnings: list[str]) -> None:
    """What the pictures could not show, once each, on stderr."""
    for warning in warnings:
        print(f"shopper: warning: {warning}", file=sys.stderr)


def chart(args: argparse.Namespace) -> int:
    """`shopper chart DIR --metric M --by G --out FILE.png|.svg`."""
    from harness.report import charts
    from harness.scenario.model import Scenario

    target = writable_file(Path(args.out), "--out")
    image_format = target.suffix.lower()[1:]
    if image_format not in ("png", "svg"):
        raise UsageError(f"{target}: the chart file must end in .png or .svg")
    store = RunFolder(Path(args.folder)).open_store()
    try:
        meta = store.meta()
        scenario = Scenario.model_validate_json(meta["scenario_json"])
        results = from_store(store)
    finally:
        store.close()
    labels = charts.labels_for(scenario)
    from harness.analysis.engagement import thresholds_of
    from harness.report.fonts import advice, missing_glyphs

    with missing_glyphs() as missing:
        drawn = charts.chart(args.metric, args.by, results,
                             scenario.schedule.observation_window.total_seconds(), labels,
                             thresholds_of(scenario.report))
        if args.by == "mention" and scenario.design.type == "replay":
            drawn = charts.footnote(drawn, charts.REPLAY_MENTION_NOTE)
        if is_simulated(meta):
            drawn = charts.stamp_simulated(drawn, scenario.seed)
        _save_chart(drawn, target, image_format)
    print(f"{target}: {printable(drawn.title)}")
    say_warnings(advice(missing))
    return 0


def _save_chart(drawn: Any, target: Path, image_format: str) -> None:
    """Write ``drawn`` to ``target`` whole (staged, then renamed) and close it."""
    from harness.report import charts

    try:
        replace_atomically(target, lambda staging: drawn.figure.savefig(
            staging, format=image_format))
    except OSError as exc:
        raise UsageError(f"--out {target}: cannot write: {exc.strerror or exc}") from None
    finally:
        charts.close(drawn)
