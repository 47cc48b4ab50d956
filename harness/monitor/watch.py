"""Alerts as a run goes: judge the objectives, decide what to announce, record it, deliver.

A :class:`Monitor` does one *round* at a moment: it judges every objective from the store
(or takes verdicts already judged), runs the state machine (:mod:`harness.monitor.alerting`)
against the states the store holds, writes the new states and the notifications they call for
in one transaction, then delivers every notification not yet delivered, oldest first, and
records how each delivery went. The store is the only memory, so a restart announces nothing
twice, and a notification not delivered is tried again next round until it is.

:func:`watch` attaches a monitor to a runner: a round at most once per hour of the run's clock
(at the first pass at least an hour after the last round), and one when the run ends, however
it ends (finished, stopped, one pass done). Simulated runs do rounds on their virtual clock.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from harness.analysis.objectives import Evidence, Verdict, judge
from harness.analysis.outcomes import is_simulated
from harness.monitor.alerting import decide
from harness.monitor.delivery import Send, apprise_send, deliver, destinations
from harness.monitor.messages import compose
from harness.runner.loop import Runner
from harness.scenario.model import Scenario
from harness.store.alerts import (
    Notification,
    alert_states,
    last_checked,
    notifications,
    record_delivery,
    record_round,
)
from harness.store.sqlite import Store

Say = Callable[[str], None]
EVERY = timedelta(hours=1)
"""The most often a running run judges its objectives for alerts (on the run's clock)."""
REST_S = 60.0
"""A destination that failed (after its retries) is not tried again for this long, in real
seconds: a simulated run does many rounds a second, and must not wait on a webhook that is
down at each of them."""


@dataclass(frozen=True)
class Round:
    """What one round did."""

    at: datetime
    judged: bool
    """False when ``at`` was no later than the last moment judged (nothing decided)."""
    decided: list[Notification]
    """The notifications this round decided, as they stand after its deliveries."""
    tried: list[Notification]
    """Every notification this round tried to deliver (new or older), as it now stands."""

    @property
    def undelivered(self) -> list[Notification]:
        """Those still not delivered."""
        return [n for n in self.tried if not n.delivered]


class Monitor:
    """Judges a run's objectives at moments, and announces what changed (see the module)."""

    def __init__(self, store: Store, scenario: Scenario, *, say: Say,
                 environ: Mapping[str, str] | None = None, send: Send = apprise_send,
                 sleep: Callable[[float], None] | None = None) -> None:
        if scenario.alerts is None:
            raise ValueError("a scenario without alerts has nothing to monitor")
        meta = store.meta()
        self.store, self.scenario, self.alerts = store, scenario, scenario.alerts
        self.say, self.send = say, send
        self.sleep = sleep or _pause
        self.environ = os.environ if environ is None else environ
        self.run = meta.get("name", scenario.name)
        self.simulated = is_simulated(meta)
        self.seed = meta.get("seed", str(scenario.seed))
        self.zone = ZoneInfo(scenario.timezone)
        self.names = {b.id: b.name for b in scenario.brands}
        self._told: set[str] = set()
        self._resting: dict[int, float] = {}  # destination -> not tried again before (monotonic)

    def round(self, at: datetime, verdicts: Sequence[Verdict] | None = None) -> Round:
        """Judge at ``at`` (or take ``verdicts`` judged there), record what it calls for, and
        deliver everything pending."""
        if verdicts is None:
            verdicts = judge(self.scenario, Evidence.from_store(self.store), at)
        states, notices = decide(alert_states(self.store), verdicts, at,
                                 maintenance=self.scenario.maintenance, zone=self.zone,
                                 alerts=self.alerts)
        new = [compose(n, run=self.run, brand_name=self.names.get(n.brand, n.brand),
                       zone=self.zone, simulated=self.simulated, seed=self.seed)
               for n in notices]
        decided = record_round(self.store, states, new) if states else []
        tried = self.deliver_pending(at)
        latest = {n.id: n for n in tried}
        return Round(at, bool(states), [latest.get(n.id, n) for n in decided], tried)

    def deliver_pending(self, at: datetime) -> list[Notification]:
        """Deliver every notification not yet delivered (at destinations not resting after a
        failure); each one tried, as it now stands."""
        pending = notifications(self.store, undelivered=True)
        if not pending:
            return []
        found, unset = destinations(self.alerts, self.environ)
        for name in unset:
            if name not in self._told:
                self._told.add(name)
                self.say(f"shopper: alerts: {name} is not set: no notification goes there")
        clock = time.monotonic()
        resting = {index for index, until in self._resting.items() if until > clock}
        done, failed = deliver(pending, found, unset, at, retries=self.alerts.retries,
                               send=self.send, sleep=self.sleep, resting=resting)
        self._resting.update((index, clock + REST_S) for index in failed)
        for notification in done:
            record_delivery(self.store, notification)
        return done


def _pause(seconds: float) -> None:
    """The wait between retries (tests make it none)."""
    time.sleep(seconds)


def watch(runner: Runner, store: Store, scenario: Scenario, say: Say) -> Callable[[], None]:
    """Attach alerts to ``runner`` (when the scenario has objectives and alerts): a round at
    most once per hour of its clock as it runs; the function returned does the last round,
    for the caller to call when the run ends."""
    if not scenario.objectives or scenario.alerts is None:
        return lambda: None
    monitor = Monitor(store, scenario, say=say)
    last = [last_checked(store)]

    def tick(now: datetime, **_: object) -> None:
        if last[0] is not None and now - last[0] < EVERY:
            return
        runner.flush()  # judge what the runner knows now, not what it last committed
        monitor.round(now)
        last[0] = now

    def finish() -> None:
        runner.flush()
        monitor.round(runner.clock.now())

    runner.events.tick.add_listener(tick)
    return finish
