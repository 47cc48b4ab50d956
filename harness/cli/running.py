"""`shopper run` and `shopper race`: set up a run folder, channels and clock, then run."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

from harness import __version__
from harness.channels.base import ChannelAdapter, ChannelContext
from harness.channels.modes import Operator, gate
from harness.channels.registry import get_adapter
from harness.clock import Clock, SystemClock, VirtualClock
from harness.errors import RunFolderError, UsageError
from harness.runner.events import RunnerEvents
from harness.runner.limits import (
    DEFAULT_PER_BRAND_PER_DAY,
    DEFAULT_TOTAL,
    Limits,
    stop_requested,
)
from harness.runner.loop import Runner
from harness.runner.roster import Roster
from harness.scenario.load import load_scenario
from harness.scenario.model import (
    Scenario,
    scenario_hash,
    scenario_json,
    settings_only_change,
)
from harness.store.folder import RunFolder
from harness.store.sqlite import Store


@dataclass(frozen=True)
class RunResult:
    """How a `shopper run` ended."""

    folder: Path
    finished: bool
    already_finished: bool
    sent: int
    planned: int
    answered: int


def run(args: argparse.Namespace) -> int:
    """`shopper run SCENARIO (--simulate | --live) [--out DIR] [--seed N]`."""
    if args.live:
        return exit_status(_live(args))
    if not args.simulate:
        raise UsageError("say how to run: --simulate (virtual clock, simulated brands) or "
                         "--live (real platforms)")
    return exit_status(_simulate(args))


def exit_status(result: RunResult) -> int:
    """0 for a run that finished having sent what it could; 1 for one that stopped, or that
    finished without being able to send a single planned message (every send failed)."""
    return 0 if result.finished and (result.sent or not result.planned) else 1


def race(args: argparse.Namespace) -> int:
    """`shopper race SCENARIO`: simulate, then show the results."""
    result = _simulate(args)
    from harness.cli.results import print_race, say_warnings, write_report

    print_race(result.folder)
    files = write_report(result.folder, result.folder / "report")
    print(f"Report: {files.html}  Poster: {files.poster}")
    say_warnings(files.warnings)
    return exit_status(result)


def _live(args: argparse.Namespace) -> RunResult:
    """`shopper run SCENARIO --live`: show what will happen, ask, then run on the system
    clock until every probe is closed."""
    from harness.cli.channels import preflight
    from harness.cli.operator import TerminalOperator
    from harness.plan.expand import build_plan

    scenario = load_scenario(args.scenario, max_probes=args.max_probes)
    if args.seed is not None:
        scenario = scenario.model_copy(update={"seed": args.seed})
    folder = _run_folder(args, scenario.name)
    text, ready = preflight(scenario, build_plan(scenario), folder, os.environ,
                            (args.max_per_brand_per_day, args.max_messages))
    print(text)
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
    source = Path(args.scenario).read_text(encoding="utf-8")
    result = execute(scenario, folder, live=True, operator=TerminalOperator(), source=source,
                     source_name=str(args.scenario), quiet=args.quiet,
                     caps=(args.max_per_brand_per_day, args.max_messages))
    _say_how_it_ended(folder, result)
    return result


def _simulate(args: argparse.Namespace) -> RunResult:
    scenario = load_scenario(args.scenario, max_probes=args.max_probes)
    if args.seed is not None:
        scenario = scenario.model_copy(update={"seed": args.seed})
    folder = _run_folder(args, scenario.name)
    source = Path(args.scenario).read_text(encoding="utf-8")
    result = simulate(scenario, folder, source=source, source_name=str(args.scenario),
                      quiet=args.quiet)
    _say_how_it_ended(folder, result)
    return result


def _run_folder(args: argparse.Namespace, name: str) -> Path:
    """The run folder ``--out`` names (default ``results/<name>/``), checked before anything
    is written; `race` also writes its report inside it."""
    from harness.cli.paths import writable_folder

    if args.out:
        return writable_folder(Path(args.out), "--out")
    return writable_folder(Path("results") / name, "run folder")


def _say_how_it_ended(folder: Path, result: RunResult) -> None:
    if result.already_finished:
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


def simulate(scenario: Scenario, folder: Path, *, source: str = "", source_name: str = "",
             quiet: bool = True, adapter: type[ChannelAdapter] | None = None,
             on_runner: Callable[[Runner], None] | None = None) -> RunResult:
    """Run ``scenario`` in ``folder`` on simulated channels and a virtual clock.

    ``adapter`` replaces the simulated adapter class (tests use subclasses that fail on
    purpose); ``on_runner`` sees the runner before it starts (to add listeners).
    """
    return execute(scenario, folder, live=False, source=source, source_name=source_name,
                   quiet=quiet, adapter=adapter or get_adapter("simulated"),
                   on_runner=on_runner)


def execute(scenario: Scenario, folder: Path, *, live: bool, clock: Clock | None = None,
            environ: Mapping[str, str] | None = None, operator: Operator | None = None,
            adapter: type[ChannelAdapter] | None = None, source: str = "",
            source_name: str = "", quiet: bool = True,
            on_runner: Callable[[Runner], None] | None = None,
            caps: tuple[int | None, int | None] = (DEFAULT_PER_BRAND_PER_DAY, DEFAULT_TOTAL),
            ) -> RunResult:
    """Run (or resume) ``scenario`` in ``folder`` until every probe is closed or a stop is
    asked for.

    Simulated runs (``live=False``) use a virtual clock from the plan's first probe. Live runs
    use the system clock (or ``clock``: tests run live adapters against fake platforms on a
    virtual one), a durable store, the environment for secrets, and each channel's send mode,
    with ``operator`` as the person who confirms or makes posts; they keep to ``caps``
    (messages per brand per day, messages in all; ``None``: no cap) and stop sending while the
    folder's kill switch (a ``STOP`` file) is on.
    """
    with RunFolder(folder) as run_folder:
        store = open_run(run_folder, scenario, source, source_name, durable=live)
        try:
            if "finished_at" in store.meta():
                return _result(store, folder, finished=True, already=True)
            if clock is None:
                start = store.last_activity() or store.first_scheduled_at()
                assert start is not None  # a plan always has probes
                clock = SystemClock() if live else VirtualClock(start)
            channels = build_channels(scenario, clock, folder, adapter=adapter,
                                      environ=environ, operator=operator if live else None)
            rails = _rails(scenario, folder, caps) if live else {}
            try:
                finished = _drive(store, scenario, channels, clock, quiet, on_runner, rails)
            finally:
                for channel in channels.values():
                    channel.close()
            return _result(store, folder, finished=finished, already=False)
        finally:
            store.close()


def open_run(folder: RunFolder, scenario: Scenario, source: str, source_name: str, *,
             durable: bool) -> Store:
    """Open the folder's store if it holds this scenario, or create it with the plan."""
    as_json = scenario_json(scenario)
    fingerprint = scenario_hash(scenario, as_json)
    mode = "live" if durable else "simulated"
    if folder.exists():
        store = Store.open(folder.store_path, durable=durable)
        meta = store.meta()
        if meta.get("run_mode", "simulated") != mode:  # stores before 0.2 were simulated
            store.close()
            raise RunFolderError(
                f"{folder.path} holds a {meta.get('run_mode', 'simulated')} run; a {mode} run "
                "cannot continue it (its sends did not happen there); choose another --out")
        if meta.get("scenario_hash") != fingerprint and _same_file_older_harness(meta, source):
            # The same scenario file, fingerprinted by an older harness (whose model serialised
            # differently): the run is this scenario's; adopt the new fingerprint.
            store.set_meta("scenario_hash", fingerprint)
            store.set_meta("scenario_json", as_json)
            meta = store.meta()
        changed = (settings_only_change(meta.get("scenario_json", ""), as_json)
                   if meta.get("scenario_hash") != fingerprint else [])
        if changed:  # a fix to credentials or TLS settings: the run goes on with the new ones
            print(f"{folder.path}: settings of channel {', '.join(changed)} changed since the "
                  "run began; the new ones are used", file=sys.stderr)
            for key, value in (("scenario_hash", fingerprint), ("scenario_json", as_json),
                               ("scenario_yaml", source)):
                if value:
                    store.set_meta(key, value)
            meta = store.meta()
        if meta.get("scenario_hash") != fingerprint:
            store.close()
            raise RunFolderError(
                f"{folder.path} holds a run of scenario {meta.get('name', '?')!r} "
                f"(from {meta.get('scenario_file', '?')}, seed {meta.get('seed', '?')}) that "
                "differs from this one; choose another --out, or delete the folder to start over")
        return store
    from harness.plan.expand import build_plan

    probes = build_plan(scenario)
    meta = {
        "name": scenario.name,
        "title": scenario.title,
        "timezone": scenario.timezone,
        "seed": str(scenario.seed),
        "scenario_hash": fingerprint,
        "scenario_file": source_name,
        "scenario_yaml": source,
        "scenario_json": as_json,
        "observation_window_s": str(int(scenario.schedule.observation_window.total_seconds())),
        "created_at": datetime.now(UTC).isoformat(),
        "harness_version": __version__,
        "run_mode": mode,
    }
    staging = folder.path / (folder.store_path.name + ".new")
    for leftover in folder.path.glob(staging.name + "*"):
        leftover.unlink()
    store = Store.create(staging, meta=meta, probes=probes, durable=durable)
    store.close()  # checkpoints the WAL into the file, so the file alone is the store
    staging.replace(folder.store_path)  # appears whole or not at all
    return store.reopen(folder.store_path, durable=durable)


def _same_file_older_harness(meta: dict[str, str], source: str) -> bool:
    """Whether a run folder's store holds exactly this scenario file's text, written by
    another version of the harness."""
    return (bool(source) and meta.get("scenario_yaml") == source
            and meta.get("harness_version") != __version__)


def build_channels(scenario: Scenario, clock: Clock, folder: Path, *,
                   adapter: type[ChannelAdapter] | None = None,
                   environ: Mapping[str, str] | None = None,
                   operator: Operator | None = None) -> dict[str, ChannelAdapter]:
    """One adapter per scenario channel: its own, or ``adapter`` for every channel. With an
    ``operator`` (live runs), each is wrapped in its channel's send mode."""
    context = ChannelContext(clock=clock, state_dir=folder, seed=scenario.seed,
                             personas=scenario.personas, brands=scenario.brands,
                             timezone=scenario.timezone,
                             environ=os.environ if environ is None else environ)
    channels = {}
    for channel in scenario.channels:
        built = (adapter or get_adapter(channel.adapter))(channel, context)
        channels[channel.id] = built if operator is None else gate(built, operator)
    return channels


def _rails(scenario: Scenario, folder: Path,
           caps: tuple[int | None, int | None]) -> dict[str, Any]:
    """A live run's caps and kill switch, as Runner arguments."""
    zones = {b.id: ZoneInfo(b.timezone or scenario.timezone) for b in scenario.brands}
    return {"limits": Limits(caps[0], caps[1], zones),
            "kill_switch": lambda: stop_requested(folder)}


def _drive(store: Store, scenario: Scenario, channels: dict[str, ChannelAdapter], clock: Clock,
           quiet: bool, on_runner: Callable[[Runner], None] | None,
           rails: dict[str, Any]) -> bool:
    from harness.cli.output import Progress

    events = RunnerEvents()
    runner = Runner(store, channels, clock, Roster.from_scenario(scenario),
                    window=scenario.schedule.observation_window,
                    poll_every={c.id: c.poll_every for c in scenario.channels}, events=events,
                    **rails)
    if on_runner is not None:
        on_runner(runner)
    progress = None
    if not quiet:
        progress = Progress(ZoneInfo(scenario.timezone), len(runner.probes))
        events.tick.add_listener(progress.tick)

    def degraded(channel: str, since: datetime, error: str) -> None:
        print(f"\nshopper: channel {channel} is failing again and again (since "
              f"{since.isoformat()}; last: {error}); the harness keeps retrying",
              file=sys.stderr)

    events.degraded.add_listener(degraded)

    def stopped(channel: str, error: str) -> None:
        print(f"\nshopper: channel {channel} stopped: {error}", file=sys.stderr)

    events.stopped.add_listener(stopped)

    def stop(signum: int, frame: FrameType | None) -> None:
        runner.stop_requested = True

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        finished = runner.run()
    finally:
        signal.signal(signal.SIGTERM, previous)
        if progress:
            progress.done()
    if finished:
        store.set_meta("finished_at", clock.now().isoformat())
    elif runner.stopped:
        names = ", ".join(sorted(runner.stopped))
        print(f"Channel {names} stopped: retrying cannot cure what it met (see above). What it "
              "had left to send or read waits in the run folder: fix the settings, check them "
              "with `shopper channels SCENARIO --check`, then rerun the same command.",
              file=sys.stderr)
    elif runner.sending_stopped:
        print("Sending stopped by the kill switch (STOP in the run folder): every probe sent "
              "is closed; the rest wait. `shopper stop DIR --undo`, then rerun, to go on.",
              file=sys.stderr)
    return finished


def _result(store: Store, folder: Path, *, finished: bool, already: bool) -> RunResult:
    counts = store.counts()
    return RunResult(folder, finished, already, counts["sent"], counts["planned"],
                     counts["answered"])
