"""Run a scenario in a run folder: open (or create) its store, build its channels, drive the
runner until every probe is closed or a stop is asked for, and say how it ended.

This is what `shopper run` and `shopper race` do once their arguments are parsed, and what a
test, a benchmark or another front end (a web console) calls instead of the CLI. Nothing here
parses arguments; what a person should read goes through ``say`` (standard error unless told
otherwise).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from harness import __version__
from harness.channels.base import ChannelAdapter, ChannelContext
from harness.channels.modes import Operator, gate
from harness.channels.registry import get_adapter
from harness.clock import Clock, SystemClock, VirtualClock
from harness.errors import RunFolderError, UsageError
from harness.monitor.watch import watch
from harness.plan.expand import build_plan
from harness.runner.events import RunnerEvents
from harness.runner.horizon import PLANNED_THROUGH, Horizon, initial_plan
from harness.runner.limits import DEFAULT_CAPS, Limits, stop_requested
from harness.runner.loop import Runner
from harness.runner.roster import Roster
from harness.scenario.model import (
    Scenario,
    scenario_hash,
    scenario_json,
    settings_only_change,
)
from harness.store.folder import RunFolder
from harness.store.sqlite import Store

Say = Callable[[str], None]


def to_stderr(text: str) -> None:
    """The default ``say``: one message for the person running the command."""
    print(text, file=sys.stderr)


@dataclass(frozen=True)
class RunResult:
    """How a run (or, with ``once``, one pass of it) ended."""

    folder: Path
    finished: bool
    already_finished: bool
    sent: int
    planned: int
    answered: int
    once: bool = False
    stopped: tuple[str, ...] = ()
    """Channels that stopped for good (what retrying cannot cure)."""
    signal: int | None = None
    """The signal (SIGTERM, SIGINT) that stopped it at a safe point, if one did."""


def exit_status(result: RunResult) -> int:
    """0 for a run that finished having sent what it could; 1 for one that stopped, or that
    finished without being able to send a single planned message (every send failed). A pass
    (``once``) that did not finish the run is 0, unless a channel stopped. Stopped by a
    signal: 128 + its number (130 for SIGINT, 143 for SIGTERM), as shells report it."""
    if result.signal is not None:
        return 128 + result.signal
    if result.once and not result.finished:
        return 1 if result.stopped else 0
    return 0 if result.finished and (result.sent or not result.planned) else 1


def simulate(scenario: Scenario, folder: Path, *, source: str = "", source_name: str = "",
             adapter: type[ChannelAdapter] | None = None,
             on_runner: Callable[[Runner], None] | None = None,
             say: Say = to_stderr) -> RunResult:
    """Run ``scenario`` in ``folder`` on simulated channels and a virtual clock.

    ``adapter`` replaces the simulated adapter class (tests use subclasses that fail on
    purpose); ``on_runner`` sees the runner before it starts (to add listeners).
    """
    return execute(scenario, folder, live=False, source=source, source_name=source_name,
                   adapter=adapter or get_adapter("simulated"), on_runner=on_runner, say=say)


def execute(scenario: Scenario, folder: Path, *, live: bool, clock: Clock | None = None,
            environ: Mapping[str, str] | None = None, operator: Operator | None = None,
            adapter: type[ChannelAdapter] | None = None, source: str = "",
            source_name: str = "", on_runner: Callable[[Runner], None] | None = None,
            caps: tuple[int | None, int | None] = DEFAULT_CAPS, once: bool = False,
            now: datetime | None = None, say: Say = to_stderr) -> RunResult:
    """Run (or resume) ``scenario`` in ``folder`` until every probe is closed or a stop is
    asked for; with ``once``, one pass (see :meth:`Runner.run`), creating the run first if
    need be. A simulated pass needs ``now``, the moment its virtual clock shows (never before
    the run's last pass).

    Simulated runs (``live=False``) use a virtual clock from the plan's first probe. Live runs
    use the system clock (or ``clock``: tests run live adapters against fake platforms on a
    virtual one), a durable store, the environment for secrets, and each channel's send mode,
    with ``operator`` as the person who confirms or makes posts; they keep to ``caps``
    (messages per brand per day, messages in all; ``None``: no cap) and stop sending while the
    folder's kill switch (a ``STOP`` file) is on.
    """
    _check_end(scenario, live=live, once=once, now=now)
    if live and clock is None:
        clock = SystemClock()
    with RunFolder(folder) as run_folder:
        store = open_run(run_folder, scenario, source, source_name, durable=live, say=say,
                         now=clock.now() if clock is not None else now)
        try:
            if "finished_at" in store.meta():
                return _result(store, folder, finished=True, already=True)
            if clock is None:
                last = store.last_activity()
                if now is not None and last is not None and now < last:
                    raise UsageError(f"--now {now.isoformat()} is before this run's last pass "
                                     f"({last.isoformat()}): a virtual clock never goes back")
                start = now or last or store.first_scheduled_at()
                assert start is not None  # a plan always has probes
                clock = VirtualClock(start)
            channels = build_channels(scenario, clock, folder, adapter=adapter,
                                      environ=environ, operator=operator if live else None)
            rails = _rails(scenario, folder, caps) if live else {}
            try:
                ended = _drive(store, scenario, channels, clock, on_runner, rails, say, once)
            finally:
                for channel in channels.values():
                    channel.close()
            return _result(store, folder, finished=ended.finished, already=False, once=once,
                           stopped=ended.stopped, signal=ended.signal)
        finally:
            store.close()


def _check_end(scenario: Scenario, *, live: bool, once: bool, now: datetime | None) -> None:
    """A simulated run of a repeating schedule needs an end; a simulated pass, a moment."""
    schedule = scenario.schedule
    if once and not live and now is None:
        raise UsageError("a simulated pass (--once) needs the moment its virtual clock shows: "
                         "--now TIME")
    if schedule.repeat and schedule.until is None and not live and not once:
        raise UsageError("the schedule repeats without end (schedule.repeat, no "
                         "schedule.until): a simulated run needs one; give schedule.until in "
                         "the scenario or --until DATE (or rehearse it a pass at a time with "
                         "--once --now TIME)")


def open_run(folder: RunFolder, scenario: Scenario, source: str, source_name: str, *,
             durable: bool, say: Say = to_stderr, now: datetime | None = None) -> Store:
    """Open the folder's store if it holds this scenario, or create it with the plan (a
    repeating schedule's: what is due up to ``now`` and a lookahead, see
    :mod:`harness.runner.horizon`; ``None``: from its first probe)."""
    as_json = scenario_json(scenario)
    fingerprint = scenario_hash(scenario)
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
            say(f"{folder.path}: settings of channel {', '.join(changed)} changed since the "
                "run began; the new ones are used")
            for key, value in (("scenario_hash", fingerprint), ("scenario_json", as_json),
                               ("scenario_yaml", source)):
                if value:
                    store.set_meta(key, value)
            meta = store.meta()
        if (meta.get("scenario_hash") == fingerprint and as_json != meta.get("scenario_json")
                and _monitoring_changed(meta.get("scenario_json", ""), as_json)):
            say(f"{folder.path}: objectives, maintenance or alerts changed since the run "
                "began; the new ones are used")
            store.set_meta("scenario_json", as_json)
            if source:
                store.set_meta("scenario_yaml", source)
            meta = store.meta()
        if meta.get("scenario_hash") != fingerprint:
            store.close()
            raise RunFolderError(
                f"{folder.path} holds a run of scenario {meta.get('name', '?')!r} "
                f"(from {meta.get('scenario_file', '?')}, seed {meta.get('seed', '?')}) that "
                "differs from this one; choose another --out, or delete the folder to start over")
        return store
    extra: dict[str, str] = {}
    if scenario.schedule.repeat:
        probes, through = initial_plan(scenario, now)
        extra[PLANNED_THROUGH] = through.isoformat()
    else:
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
        **extra,
    }
    staging = folder.path / (folder.store_path.name + ".new")
    for leftover in folder.path.glob(staging.name + "*"):
        leftover.unlink()
    store = Store.create(staging, meta=meta, probes=probes, durable=durable)
    store.close()  # checkpoints the WAL into the file, so the file alone is the store
    staging.replace(folder.store_path)  # appears whole or not at all
    return store.reopen(folder.store_path, durable=durable)


def _monitoring_changed(stored_json: str, new_json: str) -> bool:
    """Whether two scenario forms with one fingerprint differ in what does not shape a run
    (objectives, maintenance, alerts), not merely in how an older harness wrote them."""
    import json

    from harness.scenario.objectives import UNSHAPING

    try:
        old, new = json.loads(stored_json), json.loads(new_json)
    except ValueError:
        return False
    return any((old.get(section) or None) != (new.get(section) or None) for section in UNSHAPING)


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


class _Ended(NamedTuple):
    finished: bool
    stopped: tuple[str, ...]
    signal: int | None


def _drive(store: Store, scenario: Scenario, channels: dict[str, ChannelAdapter], clock: Clock,
           on_runner: Callable[[Runner], None] | None, rails: dict[str, Any],
           say: Say, once: bool = False) -> _Ended:
    events = RunnerEvents()
    horizon = Horizon(scenario, store) if scenario.schedule.repeat else None
    runner = Runner(store, channels, clock, Roster.from_scenario(scenario),
                    window=scenario.schedule.observation_window,
                    poll_every={c.id: c.poll_every for c in scenario.channels}, events=events,
                    horizon=horizon, **rails)
    if on_runner is not None:
        on_runner(runner)

    def degraded(channel: str, since: datetime, error: str) -> None:
        say(f"\nshopper: channel {channel} is failing again and again (since "
            f"{since.isoformat()}; last: {error}); the harness keeps retrying")

    events.degraded.add_listener(degraded)

    def stopped(channel: str, error: str) -> None:
        say(f"\nshopper: channel {channel} stopped: {error}")

    events.stopped.add_listener(stopped)
    alerts_done = watch(runner, store, scenario, say)  # objectives judged, alerts sent
    with _StopOnSignals(runner) as signals:
        finished = runner.run(once=once)
    alerts_done()
    if finished:
        store.set_meta("finished_at", clock.now().isoformat())
    elif runner.stopped:
        names = ", ".join(sorted(runner.stopped))
        say(f"Channel {names} stopped: retrying cannot cure what it met (see above). What it "
            "had left to send or read waits in the run folder: fix the settings, check them "
            "with `shopper channels SCENARIO --check`, then rerun the same command.")
    elif runner.sending_stopped and once:
        say("The kill switch is on (STOP in the run folder): this pass sent nothing and read "
            "the replies; `shopper stop DIR --undo` to send again.")
    elif runner.sending_stopped:
        say("Sending stopped by the kill switch (STOP in the run folder): every probe sent "
            "is closed; the rest wait. `shopper stop DIR --undo`, then rerun, to go on.")
    return _Ended(finished, tuple(sorted(runner.stopped)), signals.received)


class _StopOnSignals:
    """While the runner runs, SIGTERM and SIGINT (Ctrl-C) ask it to stop at the next safe
    point: after the send under way, or at once while it waits. A second SIGINT interrupts
    whatever it is doing (a send that hangs), as Ctrl-C always did; the store stays
    resumable either way (see the runner's crash safety). A process may only set signal
    handlers on its main thread; elsewhere, the caller stops the runner."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.previous: dict[int, Any] = {}
        self.received: int | None = None

    def __enter__(self) -> _StopOnSignals:
        if threading.current_thread() is threading.main_thread():
            for number in self.SIGNALS:
                self.previous[number] = signal.signal(number, self._stop)
        return self

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGINT and self.received == signal.SIGINT:
            raise KeyboardInterrupt  # Ctrl-C again: do not wait for the safe point
        self.received = self.received or signum
        self.runner.request_stop()

    def __exit__(self, *exc: object) -> None:
        for number, previous in self.previous.items():
            signal.signal(number, previous)


def _result(store: Store, folder: Path, *, finished: bool, already: bool, once: bool = False,
            stopped: tuple[str, ...] = (), signal: int | None = None) -> RunResult:
    counts = store.counts()
    return RunResult(folder, finished, already, counts["sent"], counts["planned"],
                     counts["answered"], once, stopped, signal)
