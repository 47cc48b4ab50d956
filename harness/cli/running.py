"""`shopper run` and `shopper race`: parse, ask, call the application layer, print."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

from harness.cli.output import Progress
from harness.errors import UsageError
from harness.runner.loop import Runner
from harness.scenario.model import Scenario
from harness.session.runs import RunResult, execute, exit_status, simulate
from harness.session.scenarios import load_scenario


def run(args: argparse.Namespace) -> int:
    """`shopper run SCENARIO (--simulate | --live) [--out DIR] [--seed N] [--once]`."""
    if args.now is not None and not (args.once and args.simulate):
        raise UsageError("--now sets the virtual clock of a simulated pass: it goes with "
                         "--once --simulate (a live run goes by the real time)")
    if args.live:
        return exit_status(_live(args))
    if not args.simulate:
        raise UsageError("say how to run: --simulate (virtual clock, simulated brands) or "
                         "--live (real platforms)")
    return exit_status(_simulate(args))


def race(args: argparse.Namespace) -> int:
    """`shopper race SCENARIO`: simulate, then show the results (with ``--replicates N``:
    over N seeds)."""
    if args.replicates:
        from harness.cli.replicates import race_replicates

        return race_replicates(args)
    result = _simulate(args)
    from harness.cli.results import print_race, say_warnings
    from harness.session.reports import write_report

    print_race(result.folder)
    files = write_report(result.folder, result.folder / "report")
    print(f"Report: {files.html}  Poster: {files.poster}")
    say_warnings([*files.warnings, *files.power_notes])
    return exit_status(result)


def _live(args: argparse.Namespace) -> RunResult:
    """`shopper run SCENARIO --live`: show what will happen, ask, then run on the system
    clock until every probe is closed."""
    import os

    from harness.cli.channels import preflight
    from harness.cli.operator import TerminalOperator
    from harness.plan.expand import build_plan

    scenario, folder, source = _prepare(args)
    text, ready = preflight(scenario, build_plan(scenario), folder, os.environ,
                            (args.max_per_brand_per_day, args.max_messages))
    print(text)
    if scenario.schedule.repeat:
        from harness.cli.repeating import repeats
        from harness.plan.calendar import planned_weeks

        weeks = planned_weeks(scenario.schedule)
        print(f"  the schedule {repeats(scenario.schedule.until)}: the figures above are of "
              + (f"its first {weeks} weeks" if scenario.schedule.until is None else
                 f"all its {weeks} weeks"))
    if not ready:
        raise UsageError("some channels are not ready (see above); nothing was sent")
    interactive = sys.stdin.isatty()
    confirm = [c.id for c in scenario.channels if c.mode == "confirm"]
    if confirm and not interactive:
        raise UsageError(f"channel {', '.join(confirm)} is in confirm mode, which needs a "
                         "terminal to approve each post; nothing was sent")
    if not args.yes:
        if not interactive:
            raise UsageError("a live run asks before it starts; there is no terminal to ask "
                             "on, so pass --yes to start unattended. Nothing was sent")
        print("Start this live run? [y/N] ", end="", flush=True)
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            print("Not started; nothing was sent.")
            return RunResult(folder, False, False, 0, 0, 0)
    with _progress(args, scenario) as watch:
        result = execute(scenario, folder, live=True, operator=TerminalOperator(),
                         source=source, source_name=str(args.scenario), on_runner=watch,
                         caps=(args.max_per_brand_per_day, args.max_messages),
                         once=getattr(args, "once", False))
    _say_how_it_ended(folder, result)
    return result


def _simulate(args: argparse.Namespace) -> RunResult:
    scenario, folder, source = _prepare(args)
    once, now = getattr(args, "once", False), getattr(args, "now", None)
    with _progress(args, scenario) as watch:
        if once:
            from harness.cli.repeating import in_zone

            result = execute(scenario, folder, live=False, source=source,
                             source_name=str(args.scenario), on_runner=watch, once=True,
                             now=in_zone(now, ZoneInfo(scenario.timezone)) if now else None)
        else:
            result = simulate(scenario, folder, source=source, source_name=str(args.scenario),
                              on_runner=watch)
    _say_how_it_ended(folder, result)
    return result


def _prepare(args: argparse.Namespace) -> tuple[Scenario, Path, str]:
    """The scenario (with ``--seed``, ``--start``, ``--until``), the run folder and the
    scenario file's text."""
    scenario = load_scenario(args.scenario, max_probes=args.max_probes, seed=args.seed,
                             start=getattr(args, "start", None),
                             until=getattr(args, "until", None))
    folder = _run_folder(args, scenario.name)
    return scenario, folder, Path(args.scenario).read_text(encoding="utf-8")


class _progress:
    """The progress line on standard error while a run runs, unless ``--quiet``."""

    def __init__(self, args: argparse.Namespace, scenario: Scenario) -> None:
        self.quiet = args.quiet
        self.zone = ZoneInfo(scenario.timezone)
        self.shown: Progress | None = None

    def __enter__(self) -> Callable[[Runner], None]:
        return self._watch

    def _watch(self, runner: Runner) -> None:
        if not self.quiet:
            self.shown = Progress(self.zone, lambda: len(runner.probes))
            runner.events.tick.add_listener(self.shown.tick)

    def __exit__(self, *exc: object) -> None:
        if self.shown is not None:
            self.shown.done()


def _run_folder(args: argparse.Namespace, name: str) -> Path:
    """The run folder ``--out`` names (default ``results/<name>/``), checked before anything
    is written; `race` also writes its report inside it."""
    from harness.cli.paths import writable_folder

    if args.out:
        return writable_folder(Path(args.out), "--out")
    return writable_folder(Path("results") / name, "run folder")


def _say_how_it_ended(folder: Path, result: RunResult) -> None:
    import signal

    if result.signal == signal.SIGINT:  # as an interrupted command always said
        print("shopper: interrupted; rerun the same command to resume", file=sys.stderr)
    elif result.signal is not None:
        print(f"shopper: stopped by {signal.Signals(result.signal).name} at a safe point; "
              f"{folder} resumes where it stopped: rerun the same command", file=sys.stderr)
    elif result.once and not result.finished:
        print(f"{folder}: pass done: {result.sent}/{result.planned} probes sent so far, "
              f"{result.answered} answered; the next pass (the same command) goes on",
              file=sys.stderr)
    elif result.already_finished:
        print(f"{folder}: this run already finished ({result.sent} probes sent, "
              f"{result.answered} answered); nothing to do", file=sys.stderr)
    elif result.finished and result.planned and not result.sent:
        print(f"{folder}: finished, but no message could be sent (0/{result.planned}): see "
              f"`shopper status {folder}` for why", file=sys.stderr)
    elif result.finished:
        print(f"{folder}: finished: {result.sent}/{result.planned} probes sent, "
              f"{result.answered} answered (a brand reply within the window)",
              file=sys.stderr)
    else:
        print(f"{folder}: stopped; rerun the same command to resume", file=sys.stderr)


