"""Service-level objectives judged at a moment: per objective and brand, ``pass``, ``fail``
or ``insufficient``, always with k/n, the 95% Wilson interval and the rule that decided.

A probe counts once it is *decided* at the moment of judgement: good as soon as its reply
meets the indicator; bad once the time allowed has run out without one (the indicator's
``within`` for ``replied_within``, else the observation window). Probes still waiting are
``pending`` and count for nothing. Probes are placed in the objective's window by the time
they were sent; those sent during a maintenance period are left out (and counted as such).
The data are taken as they stood at the moment: sends made and replies created by then
(platform timestamps), so judging last Tuesday gives what was known last Tuesday.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo

from harness.analysis.outcomes import Outcome, email_channels, outcomes
from harness.analysis.rates import wilson
from harness.hours import Hours
from harness.plan.probe import Probe
from harness.scenario.model import Scenario
from harness.scenario.objectives import Maintenance, Objective, Window
from harness.store.records import ReplyRecord, SendRecord
from harness.store.sqlite import Store

Status = Literal["pass", "fail", "insufficient"]


@dataclass(frozen=True)
class Verdict:
    """One objective for one brand at one moment, with its evidence."""

    objective: str
    brand: str
    status: Status
    good: int
    decided: int
    pending: int
    muted: int
    target: float
    interval: tuple[float, float] | None
    straddles: bool
    window_start: datetime | None
    at: datetime
    indicator: str
    rule: str
    reason: str
    warning: str | None
    bad_probes: tuple[str, ...]

    @property
    def share(self) -> float | None:
        """good / decided, or None when nothing is decided."""
        return self.good / self.decided if self.decided else None

    @property
    def passed(self) -> bool:
        """Only ``pass`` passes: ``insufficient`` does not."""
        return self.status == "pass"


@dataclass(frozen=True)
class Evidence:
    """What a run's store holds, for judging it at any moment (read once, judged often)."""

    probes: list[Probe]
    sends: list[SendRecord]
    replies: list[ReplyRecord]
    window: timedelta
    email_channels: frozenset[str]

    @classmethod
    def from_store(cls, store: Store) -> Evidence:
        """Everything judging needs from a run's store."""
        meta = store.meta()
        return cls(store.probes(), store.sends(), store.replies(),
                   timedelta(seconds=int(meta["observation_window_s"])), email_channels(meta))

    def last_moment(self) -> datetime | None:
        """The latest send or reply recorded: where a simulated run's own clock stopped."""
        moments = [s.sent_at or s.intended_at for s in self.sends]
        moments += [r.created_at for r in self.replies]
        return max(moments, default=None)

    def as_of(self, at: datetime) -> list[Outcome]:
        """The outcomes as they stood at ``at``: what was sent and replied by then."""
        sends = [s for s in self.sends if (s.sent_at or s.intended_at) <= at]
        replies = [r for r in self.replies if r.created_at <= at]
        return outcomes(self.probes, sends, replies, {}, self.window, self.email_channels)


def judge(scenario: Scenario, evidence: Evidence, at: datetime) -> list[Verdict]:
    """Every objective of ``scenario`` for each brand it covers, at ``at``."""
    if not scenario.objectives:
        return []
    now = evidence.as_of(at)
    zone = ZoneInfo(scenario.timezone)
    hours = {b.id: Hours.of(b.business_hours.days, b.business_hours.open,
                            b.business_hours.close, b.timezone or scenario.timezone)
             for b in scenario.brands}
    quick = scenario.report.quick_reply.total_seconds()
    slow = scenario.report.slow_reply.total_seconds()
    verdicts = []
    for objective in scenario.objectives:
        start = window_start(objective.window, at, zone)
        for brand in (b.id for b in scenario.brands):
            if objective.brands != "all" and brand not in objective.brands:
                continue
            chosen = [o for o in now if o.probe.brand == brand and _selected(objective, o)
                      and o.sent_at is not None and (start is None or o.sent_at >= start)]
            verdicts.append(_verdict(objective, brand, chosen, at, start, scenario.maintenance,
                                     zone, hours[brand], evidence.window, quick, slow))
    return verdicts


def window_start(window: Window, at: datetime, zone: tzinfo) -> datetime | None:
    """Where ``window`` begins when it ends at ``at`` (None: the whole run)."""
    local = at.astimezone(zone)
    if window.kind == "rolling" and window.length is not None:  # elapsed time, across DST too
        return (at.astimezone(UTC) - window.length).astimezone(zone)
    if window.kind == "week":
        day = local.date() - timedelta(days=local.weekday())
    elif window.kind == "month":
        day = local.date().replace(day=1)
    else:
        return None
    return datetime.combine(day, time(0), zone)


def in_maintenance(moment: datetime, periods: Sequence[Maintenance], zone: tzinfo) -> bool:
    """Whether ``moment`` falls in one of the maintenance periods (naive times: ``zone``)."""
    return any(_aware(p.start, zone) <= moment < _aware(p.end, zone) for p in periods)


def _aware(moment: datetime, zone: tzinfo) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def _selected(objective: Objective, outcome: Outcome) -> bool:
    probe = outcome.probe
    return all(chosen == "all" or value in chosen for chosen, value in (
        (objective.channels, probe.channel), (objective.categories, probe.category),
        (objective.mentions, probe.mention)))


def _decide(objective: Objective, outcome: Outcome, at: datetime, hours: Hours,
            window: timedelta, quick: float, slow: float) -> bool | None:
    """True (good), False (bad) or None (not decided yet) for one sent probe."""
    assert outcome.sent_at is not None
    indicator = objective.indicator
    first = outcome.first_reply_at
    if indicator.kind == "replied_within" and indicator.within is not None:
        deadline = (hours.add(outcome.sent_at, indicator.within)
                    if indicator.counted_in == "business_hours"
                    else outcome.sent_at + indicator.within)
        good = first is not None and first <= deadline
    else:
        deadline = outcome.sent_at + window
        if indicator.kind == "engagement":
            good = outcome.level(quick, slow) >= (indicator.at_least or 1)
        else:
            good = outcome.responded
    if good:
        return True
    return False if at >= deadline else None


def _verdict(objective: Objective, brand: str, chosen: list[Outcome], at: datetime,
             start: datetime | None, maintenance: Sequence[Maintenance], zone: tzinfo,
             hours: Hours, window: timedelta, quick: float, slow: float) -> Verdict:
    muted = [o for o in chosen if o.sent_at and in_maintenance(o.sent_at, maintenance, zone)]
    counted = [o for o in chosen if o not in muted]
    decisions = [(o, _decide(objective, o, at, hours, window, quick, slow)) for o in counted]
    decided = sorted(((o, d) for o, d in decisions if d is not None),
                     key=lambda pair: (pair[0].sent_at, pair[0].probe.seq))
    good = sum(1 for _, d in decided if d)
    n = len(decided)
    interval = wilson(good, n)
    target = objective.target
    straddles = interval is not None and interval[0] < target <= interval[1]
    status, reason = _status(objective, good, n, interval)
    return Verdict(
        objective=objective.name, brand=brand, status=status, good=good, decided=n,
        pending=len(decisions) - n, muted=len(muted), target=target, interval=interval,
        straddles=straddles, window_start=start, at=at,
        indicator=objective.indicator.describe(), rule=rule_words(objective), reason=reason,
        warning=_warning(objective, [d for _, d in decided]),
        bad_probes=tuple(o.probe.probe_id for o, d in decided if not d),
    )


def rule_words(objective: Objective) -> str:
    """The rule that turns k/n into a verdict, as a sentence fragment."""
    least = f"at least {objective.min_probes} decided probes"
    if objective.rule == "interval":
        return (f"{least}; pass when the 95% interval is wholly at or above "
                f"{objective.target:.0%}, fail when wholly below")
    return f"{least}; pass when the observed share is at least {objective.target:.0%}"


def _status(objective: Objective, good: int, n: int,
            interval: tuple[float, float] | None) -> tuple[Status, str]:
    target = objective.target
    if n < objective.min_probes or interval is None:
        return "insufficient", (f"{n} decided, fewer than the {objective.min_probes} "
                                "needed to judge")
    share = good / n
    if objective.rule == "interval":
        if interval[0] >= target:
            return "pass", f"the 95% interval {_pct(interval)} is at or above {target:.0%}"
        if interval[1] < target:
            return "fail", f"the 95% interval {_pct(interval)} is below {target:.0%}"
        return "insufficient", (f"the 95% interval {_pct(interval)} straddles the target "
                                f"{target:.0%}: more probes are needed to tell")
    if share >= target:
        return "pass", f"{share:.0%} is at or above the target {target:.0%}"
    return "fail", f"{share:.0%} is below the target {target:.0%}"


def _warning(objective: Objective, decided: list[bool]) -> str | None:
    early = objective.early_warning
    if early is None:
        return None
    last = decided[-early.of_last:]
    bad = sum(1 for d in last if not d)
    if len(last) < early.of_last or bad < early.unanswered:
        return None
    return f"{bad} of the last {len(last)} decided probes were not good"


def _pct(interval: tuple[float, float]) -> str:
    return f"{interval[0]:.0%}-{interval[1]:.0%}"


def exit_status(verdicts: Sequence[Verdict]) -> int:
    """0 when every verdict passes, 1 when any fails or is insufficient (the convention of
    pytest and k6 thresholds: a check that could not be made is not a pass)."""
    return 0 if all(v.passed for v in verdicts) else 1


def by_objective(verdicts: Sequence[Verdict]) -> Mapping[str, list[Verdict]]:
    """The verdicts grouped by objective name, in the scenario's order."""
    grouped: dict[str, list[Verdict]] = {}
    for verdict in verdicts:
        grouped.setdefault(verdict.objective, []).append(verdict)
    return grouped
