"""A simulated run whose brand answers well, then not at all for a week, then well again: the
scenario, the adapter that silences the bad week, and a way to stop the run part-way."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from harness.channels.base import PollResult
from harness.channels.simulated import SimulatedChannel
from harness.runner.loop import Runner
from harness.scenario.model import Scenario
from harness.session.runs import RunResult, simulate
from harness.session.scenarios import load_scenario_text

URL_VARIABLE = "SHOPPER_TEST_ALERT_URL"
BAD_WEEK = (datetime(2024, 3, 18, tzinfo=UTC), datetime(2024, 3, 25, tzinfo=UTC))
"""Replies the brand makes in this week never arrive."""

WATCH = textwrap.dedent("""\
    name: watch-acme
    seed: 3
    timezone: UTC
    personas:
      - {id: ana, name: Ana, accounts: {x: "@ana"}}
    channels:
      - {id: x, adapter: simulated, platform: x, poll_every: 5m}
    categories:
      - {id: question, label: Question, templates: ["{{ mention }} do you deliver on Sundays?"]}
    schedule:
      start: 2024-03-04
      weeks: 6
      weekdays: [mon, tue, wed, thu, fri, sat, sun]
      send_window: {start: "09:00", end: "17:00"}
      messages_per_brand_per_day: 2
      observation_window: 1d
    design: {type: replay, mentions: [at]}
    brands:
      - id: acme
        name: Acme <b>&</b>
        industry: Retail
        handles: {x: ["@Acme"]}
        simulate: {reply: {at: 1.0}, latency: {median: 10m, spread: 0.1}, weekends: answer}
    objectives:
      - name: answered within 1h
        indicator: {kind: replied_within, within: 1h}
        target: 80%
        window: 3d
        min_probes: 3
    """)
ALERTS = textwrap.dedent(f"""\
    alerts:
      urls: [{{env: {URL_VARIABLE}}}]
      retries: 2
    """)


class BadWeek(SimulatedChannel):
    """The simulated platform, but the brand's replies in :data:`BAD_WEEK` are lost."""

    def poll(self, cursor: str | None) -> PollResult:
        result = super().poll(cursor)
        kept = [r for r in result.replies if not BAD_WEEK[0] <= r.created_at < BAD_WEEK[1]]
        return result._replace(replies=kept)


def watch_scenario(extra: str = ALERTS) -> Scenario:
    """The watched brand's scenario, with ``extra`` sections (alerts by default)."""
    return load_scenario_text(WATCH + extra, "watch.yaml")


def run_watch(folder: Path, scenario: Scenario | None = None, *,
              stop_at: datetime | None = None,
              said: Callable[[str], None] | None = None) -> RunResult:
    """Run (or resume) the watched brand's race in ``folder``, stopping once its clock
    reaches ``stop_at``."""

    def stop_later(runner: Runner) -> None:
        def check(now: datetime, **_: object) -> None:
            if stop_at is not None and now >= stop_at:
                runner.stop_requested = True

        runner.events.tick.add_listener(check)

    return simulate(scenario or watch_scenario(), folder, adapter=BadWeek, on_runner=stop_later,
                    say=said or (lambda _: None))
