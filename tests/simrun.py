"""Run scenarios in-process on a virtual clock, with any adapter class (for runner tests)."""

from __future__ import annotations

import json
from pathlib import Path
from zoneinfo import ZoneInfo

from harness.analysis.outcomes import from_store
from harness.channels.base import ChannelAdapter
from harness.channels.sim.platform import Post
from harness.channels.simulated import SimulatedChannel
from harness.runner.loop import Runner
from harness.scenario.model import Scenario
from harness.session.runs import simulate
from harness.store.sqlite import Store


def run_in_process(scenario: Scenario, folder: Path, *,
                   adapter: type[ChannelAdapter] = SimulatedChannel,
                   stop_after_ticks: int | None = None) -> bool:
    """Run (or resume) ``scenario`` in ``folder``; True when the run finished."""

    def stop_later(runner: Runner) -> None:
        ticks = [0]

        def count(**_: object) -> None:
            ticks[0] += 1
            if stop_after_ticks is not None and ticks[0] >= stop_after_ticks:
                runner.stop_requested = True

        runner.events.tick.add_listener(count)

    return simulate(scenario, folder, adapter=adapter, on_runner=stop_later).finished


def export_rows(folder: Path, zone: str = "UTC") -> list[dict[str, object]]:
    """The export of a run folder, as dicts."""
    store = Store.open(folder / "run.sqlite")
    try:
        return [o.row(ZoneInfo(zone)) for o in from_store(store)]
    finally:
        store.close()


def journal_posts(folder: Path) -> list[tuple[str, int]]:
    """(probe id, step) of every post the simulated platforms accepted."""
    posts = []
    for journal in sorted(folder.glob("simulated-*.jsonl")):
        for line in journal.read_text(encoding="utf-8").splitlines():
            post = Post(*json.loads(line))
            posts.append((post.probe_id, post.step))
    return posts
