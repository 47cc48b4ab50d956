"""Commands that read: `validate`, `plan`, `schema`, `status`, `export`."""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO
from zoneinfo import ZoneInfo

from harness.atomic import write_atomically
from harness.cli.output import counted, inert_lines, printable, table
from harness.cli.paths import writable_file
from harness.errors import ScenarioError, UsageError
from harness.plan.calendar import PREVIEW_WEEKS
from harness.report.files import write_csv, write_json
from harness.runner.horizon import PLANNED_THROUGH
from harness.runner.limits import STOP_FILE
from harness.scenario.model import Scenario
from harness.store.folder import RunFolder
from harness.store.sqlite import Store

if TYPE_CHECKING:
    from harness.plan.balance import BalanceTables


def validate(args: argparse.Namespace) -> int:
    """Check each scenario; print every problem; exit 2 if any file has one. A valid file's
    plan warnings (where it cannot be balanced) follow its `ok` line, on standard output."""
    from harness.plan.caveats import plan_warnings
    from harness.plan.size import plan_size
    from harness.session.scenarios import load_scenario

    failed = 0
    for name in args.scenarios:
        try:
            scenario = load_scenario(name, max_probes=args.max_probes, start=args.start,
                                     until=args.until)
        except ScenarioError as exc:
            failed += 1
            print(str(exc), file=sys.stderr)
            count = len(exc.problems)
            print(f"{name}: {count} problem{'s' if count != 1 else ''}", file=sys.stderr)
            continue
        probes = plan_size(scenario).probes  # counted, not expanded: validate stays small
        if scenario.schedule.repeat:
            from harness.cli.repeating import first_weeks, repeats

            weeks = _weeks_shown(scenario, args.weeks)
            probes_text = (f"{plan_size(scenario, weeks).probes} probes in "
                           f"{first_weeks(weeks)}, {repeats(scenario.schedule.until)}"
                           + (f" ({probes} probes in all)" if scenario.schedule.until else ""))
        else:
            probes_text = f"{probes} probes"
        print(f"{name}: ok ({scenario.name}: {probes_text}, "
              f"{counted(len(scenario.brands), 'brand', 'brands')}, "
              f"{counted(len(scenario.personas), 'persona', 'personas')}, "
              f"{counted(len(scenario.categories), 'category', 'categories')})")
        # warnings on stderr, each naming its file: the design's caveats, then its power
        for warning in plan_warnings(scenario):
            print(f"{name}: warning: {printable(warning)}", file=sys.stderr)
        _power_warnings(scenario, f"{name}: warning: ")
    return 2 if failed else 0


def plan(args: argparse.Namespace) -> int:
    """Print the plan as a table with balance tables and warnings, or as CSV/JSON data."""
    from harness.plan.balance import balance_tables
    from harness.plan.caveats import plan_warnings
    from harness.plan.expand import build_plan
    from harness.plan.probe import PLAN_FIELDS
    from harness.scenario.model import resolved_matchups
    from harness.session.scenarios import load_scenario

    scenario = load_scenario(args.scenario, max_probes=args.max_probes, seed=args.seed,
                             start=args.start, until=args.until)
    schedule = scenario.schedule
    shown = None
    if schedule.repeat:
        from harness.cli.repeating import first_weeks, repeats
        from harness.plan.continuous import plan_weeks

        weeks = _weeks_shown(scenario, args.weeks)
        shown = f"{first_weeks(weeks)}; the schedule {repeats(schedule.until)}"
        probes = plan_weeks(scenario, weeks)
    else:
        probes = build_plan(scenario)
        if args.weeks:
            probes = [p for p in probes if p.week <= args.weeks]
    warnings = plan_warnings(scenario)
    zone = ZoneInfo(scenario.timezone)
    records = [p.record(zone) for p in probes]
    out = sys.stdout
    if args.format == "json":
        repeat = {"repeat": {"until": schedule.until.isoformat() if schedule.until else None,
                             "weeks_shown": _weeks_shown(scenario, args.weeks)}} if shown else {}
        write_json({"scenario": scenario.name, "seed": scenario.seed, **repeat,
                    "probes": records,
                    "balance": balance_tables(probes, resolved_matchups(scenario)),
                    "warnings": warnings}, out)
    elif args.format == "csv":
        write_csv(records, PLAN_FIELDS, out)
        for warning in warnings:  # not in the data: on standard error
            print(f"warning: {warning}", file=sys.stderr)
        if shown:
            print(f"note: only {shown}", file=sys.stderr)
    else:
        rows = [(r["probe_id"], r["scheduled_at"], r["persona"], r["brand"], r["channel"],
                 r["category"], r["mention"], _short(str(r["text"]))) for r in records]
        out.write(table(("probe", "scheduled_at", "persona", "brand", "channel", "category",
                         "mention", "text"), rows) + "\n\n")
        out.write(_balance_text(balance_tables(probes, resolved_matchups(scenario))))
        if warnings:
            out.writelines(f"warning: {warning}\n" for warning in warnings)
            out.write("\n")
        out.write(f"{len(probes)} probes" + (f" in {shown}" if shown else "") + "\n")
    _power_warnings(scenario)
    return 0


def _weeks_shown(scenario: Scenario, asked: int | None) -> int:
    """How many weeks of a repeating schedule `plan` and `validate` show: ``--weeks`` or
    :data:`PREVIEW_WEEKS`, no more than it has."""
    from harness.plan.calendar import planned_weeks

    weeks = asked or PREVIEW_WEEKS
    return min(weeks, planned_weeks(scenario.schedule)) if scenario.schedule.until else weeks


def _power_warnings(scenario: Scenario, prefix: str = "shopper: warning: ") -> None:
    """On stderr: the matchups whose rate verdict has power under 0.8 under the brands'
    simulate: profiles (see `shopper power`)."""
    from harness.analysis.power import low_power_warnings

    for line in low_power_warnings(scenario):
        print(f"{prefix}{printable(line)}", file=sys.stderr)


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _balance_text(tables: BalanceTables) -> str:
    """The balance tables as text, each followed by a blank line."""
    parts = [_simple_text(f"Probes per brand and {name}", counts) for name, counts in
             (("category", tables["category"]), ("persona", tables["persona"]),
              ("mention", tables["mention"]))]
    crossed = tables["persona_mention"]
    modes = sorted({m for rows in crossed.values() for row in rows.values() for m in row})
    rows = [(brand, persona, *(row.get(m, 0) for m in modes))
            for brand, personas in crossed.items() for persona, row in personas.items()]
    parts.append("Probes per brand, persona and mention\n"
                 + table(("brand", "persona", *modes), rows, "ll" + "r" * len(modes)))
    together, shared = tables["partner_days"], tables["partner_category"]
    if together:
        categories = sorted({c for row in shared.values() for c in row})
        rows = [(pair, counts["days"], counts["same_category"],
                 *(shared[pair].get(c, 0) for c in categories))
                for pair, counts in together.items()]
        parts.append("Matchup partners, in days (days: both are sent messages; same: two of "
                     "their messages with the same number ask the same category; per category: "
                     "both ask it)\n"
                     + table(("partners", "days", "same", *categories), rows,
                             "l" + "r" * (len(categories) + 2)))
    return "".join(part + "\n\n" for part in parts)


def _simple_text(title: str, counts: dict[str, dict[str, int]]) -> str:
    columns = sorted({c for row in counts.values() for c in row})
    rows = [(brand, *(row.get(c, 0) for c in columns)) for brand, row in counts.items()]
    return f"{title}\n" + table(("brand", *columns), rows, "l" + "r" * len(columns))


def schema(args: argparse.Namespace) -> int:
    """Print the scenario JSON Schema."""
    from harness.scenario.schema import scenario_schema

    json.dump(scenario_schema(), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


@contextmanager
def _open_store(folder: str) -> Iterator[Store]:
    store = RunFolder(Path(folder)).open_store()
    try:
        yield store
    finally:
        store.close()


def status(args: argparse.Namespace) -> int:
    """Print how far a run has got."""
    from harness.analysis.outcomes import from_store

    with _open_store(args.folder) as store:
        meta = store.meta()
        results = from_store(store)
        latest = {(s.probe_id, s.step): s for s in store.sends()}  # sends() is in attempt order
        uncertain = [s for s in latest.values() if s.state == "uncertain"]
        interrupted = [s for s in latest.values() if s.state == "intended"]
        last = store.last_activity()
        health = store.channel_health()
        alerts = _alert_lines(store, meta)
    zone = ZoneInfo(meta["timezone"])
    states = Counter(o.status for o in results)
    pending = [o for o in results if o.status in ("planned", "retrying")]
    next_due = min((o.probe.scheduled_at for o in pending), default=None)
    sent = sum(o.sent_at is not None for o in results)
    lines = [
        f"run:        {meta['name']} (seed {meta['seed']}, {meta.get('scenario_file', '')})",
        f"state:      {'finished' if 'finished_at' in meta else 'not finished'}",
        f"planned:    {len(results)}",
        f"sent:       {sent}",
        f"pending:    {len(pending)}",
        f"answered:   {sum(o.responded for o in results)} (a brand reply within the window)",
        f"open:       {states['open']} (awaiting replies)",
        f"closed:     {states['closed']}",
        f"failed:     {states['failed']}",
        f"uncertain:  {len(uncertain)} (sends a crash interrupted that the platform could"
        " not confirm; never resent)",
        f"next due:   {next_due.astimezone(zone).isoformat() if next_due else '-'}",
    ]
    if PLANNED_THROUGH in meta:  # a repeating schedule's plan grows as the run goes on
        through = datetime.fromisoformat(meta[PLANNED_THROUGH]).astimezone(zone)
        lines.append(f"planned to: {through.isoformat()} (the schedule repeats: each pass "
                     "plans a day ahead)")
    lines += [f"  {s.probe_id} step {s.step}: {s.error or s.state}" for s in uncertain[:20]]
    if uncertain:
        lines.append("  settle each with `shopper resolve DIR --probe ID --posted ID_OR_URL "
                     "--at TIME` or `--not-posted`")
    if interrupted:  # no need for the operator yet: the next run asks the platform first
        lines.append(f"interrupted: {len(interrupted)} (a crash cut these sends short; the "
                     "next `shopper run` settles them with the platform by itself, and marks "
                     "uncertain only what it cannot confirm)")
        lines += [f"  {s.probe_id} step {s.step}" for s in interrupted[:20]]
    if last is not None:
        lines.append(f"last act:   {last.astimezone(zone).isoformat()}")
    if (Path(args.folder) / STOP_FILE).exists():
        lines.append(f"KILL SWITCH: on ({Path(args.folder) / STOP_FILE}): nothing is sent; "
                     "`shopper stop DIR --undo` to go on")
    for channel in health.values():
        if channel.degraded:
            since = channel.since.astimezone(zone).isoformat() if channel.since else "?"
            lines.append(f"DEGRADED:   channel {channel.channel}: {channel.failures} failures in "
                         f"a row since {since}; last: {printable(channel.last_error)}")
        elif channel.total_failures:
            lines.append(f"channel:    {channel.channel}: ok now ({channel.total_failures} "
                         "failures so far, retried)")
    lines += alerts
    print("\n".join(lines))
    return 0


def _alert_lines(store: Store, meta: dict[str, str]) -> list[str]:
    from harness.cli.alerts import status_lines

    return status_lines(store, Scenario.model_validate_json(meta["scenario_json"]),
                        ZoneInfo(meta["timezone"]))


def export(args: argparse.Namespace) -> int:
    """Write one record per probe."""
    from harness.analysis.outcomes import from_store, is_simulated
    from harness.scenario.model import Scenario

    target = writable_file(Path(args.output), "-o") if args.output else None

    with _open_store(args.folder) as store:
        meta = store.meta()
        settings = Scenario.model_validate_json(meta["scenario_json"]).report
        zone = ZoneInfo(meta["timezone"])
        simulated = is_simulated(meta)
        records = [o.row(zone, settings.quick_reply.total_seconds(),
                         settings.slow_reply.total_seconds(), simulated=simulated)
                   for o in from_store(store)]
    if target is not None:
        text = io.StringIO(newline="")
        _write_export(records, args.format, text)
        try:
            write_atomically(target, text.getvalue())
        except OSError as exc:
            raise UsageError(f"-o {target}: cannot write: {exc.strerror or exc}") from None
    elif sys.stdout.isatty():  # shown, not saved: nothing in it may drive the terminal
        text = io.StringIO(newline="")
        _write_export(records, args.format, text)
        sys.stdout.write(inert_lines(text.getvalue()))
    else:
        _write_export(records, args.format, sys.stdout)
    return 0


def _write_export(records: list[dict[str, object]], fmt: str, out: TextIO) -> None:
    from harness.analysis.outcomes import EXPORT_FIELDS  # imported late, like every command

    if fmt == "json":
        write_json(records, out)
    else:
        write_csv(records, EXPORT_FIELDS, out)
