"""Run a scenario in-process on a virtual clock, with any adapter class (for runner tests)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from harness.analysis.outcomes import from_store
from harness.channels.base import ChannelAdapter, ChannelContext
from harness.channels.simulated import SimulatedChannel
from harness.cli.running import open_run
from harness.clock import VirtualClock
from harness.runner.events import RunnerEvents
from harness.runner.loop import Runner
from harness.runner.roster import Roster
from harness.scenario.model import Scenario
from harness.store.folder import RunFolder
from harness.store.sqlite import Store

AdapterFactory = Callable[..., ChannelAdapter]


def run_in_process(scenario: Scenario, folder: Path, *,
                   adapter: AdapterFactory = SimulatedChannel,
                   stop_after_ticks: int | None = None,
                   events: RunnerEvents | None = None) -> bool:
    """Run (or resume) ``scenario`` in ``folder``; True when the run finished."""
    with RunFolder(folder) as run_folder:
        store = open_run(run_folder, scenario, "", "", durable=False)
        try:
            meta = store.meta()
            start = (datetime.fromisoformat(meta["clock"]) if "clock" in meta
                     else store.probes()[0].scheduled_at)
            clock = VirtualClock(start)
            context = ChannelContext(clock, folder, scenario.seed, scenario.personas,
                                     scenario.brands, scenario.timezone)
            channels = {c.id: adapter(c, context) for c in scenario.channels}
            events = events or RunnerEvents()
            runner = Runner(store, channels, clock, Roster.from_scenario(scenario),
                            window=scenario.schedule.observation_window,
                            poll_every={c.id: c.poll_every for c in scenario.channels},
                            events=events)
            if stop_after_ticks is not None:
                ticks = [0]

                def count(**_: object) -> None:
                    ticks[0] += 1
                    if ticks[0] >= stop_after_ticks:
                        runner.stop_requested = True

                events.tick.add_listener(count)
            try:
                return runner.run()
            finally:
                for channel in channels.values():
                    channel.close()
        finally:
            store.close()


def export_rows(folder: Path, zone: str = "UTC") -> list[dict[str, object]]:
    """The export of a run folder, as dicts."""
    store = Store.open(folder / "run.sqlite")
    try:
        return [o.row(ZoneInfo(zone)) for o in from_store(store)]
    finally:
        store.close()


def journal_posts(folder: Path) -> list[tuple[str, int]]:
    """(probe id, step) of every post the simulated platforms accepted."""
    import json

    posts = []
    for journal in sorted(folder.glob("simulated-*.jsonl")):
        for line in journal.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            posts.append((record["probe_id"], record["step"]))
    return posts
