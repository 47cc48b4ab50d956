"""A run week by week, for the report's Trends section: per calendar week (ISO 8601 weeks, from
Monday, in the scenario's time zone) and per channel, the messages sent, the share answered
as k/n with its 95% Wilson interval, and the median time to first reply among the replies
(with its n); and each objective as it was judged at the end of each week.

A message counts in the week it was sent; its answer counts whenever it came within the
observation window (a message still open when the data end counts as unanswered so far).
The weeks run from the first message's week to the last one's: a week in between with no
message is kept, with a rate of 0/0 (the report says "no probes", never 0%). Objectives are
judged as at the last moment of each week, capped at the last moment the run recorded, as
`shopper check --at` would have judged them then: a failing week is one a monitor would have
seen failing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from harness.analysis.leaderboard import group
from harness.analysis.objectives import Evidence, Verdict, judge
from harness.analysis.outcomes import Outcome
from harness.analysis.rates import Rate
from harness.scenario.model import Scenario

MIN_WEEKS = 3
"""Weeks of sending a run needs for its report to show trends..."""
MIN_WEEKS_WITH_OBJECTIVES = 2
"""...or fewer, when its scenario states objectives (a failing week is worth seeing)."""
LAST_INSTANT = timedelta(microseconds=1)


@dataclass(frozen=True)
class WeekCell:
    """One channel in one week."""

    channel: str
    answered: Rate
    """Messages answered within the observation window (k) of those sent (n)."""
    median_s: float | None
    """Median time to first reply among the replies (their number is ``answered.k``)."""

    @property
    def sent(self) -> int:
        """Messages sent on the channel that week."""
        return self.answered.n


@dataclass(frozen=True)
class Week:
    """One calendar week: each channel's numbers and the objectives judged at its end."""

    start: date
    """The week's Monday, in the scenario's time zone."""
    cells: tuple[WeekCell, ...]
    """One per channel, in the order of :attr:`Trends.channels`."""
    judged_at: datetime | None
    """When the objectives were judged for this week (None: the scenario states none)."""
    verdicts: tuple[Verdict, ...]

    @property
    def iso(self) -> str:
        """The ISO 8601 week, ``2024-W10``."""
        year, week, _ = self.start.isocalendar()
        return f"{year}-W{week:02d}"

    @property
    def sent(self) -> int:
        """Messages sent that week on every channel."""
        return sum(cell.sent for cell in self.cells)

    @property
    def failing(self) -> tuple[Verdict, ...]:
        """The verdicts that were ``fail`` at the week's end."""
        return tuple(v for v in self.verdicts if v.status == "fail")


@dataclass(frozen=True)
class Trends:
    """A run's weeks, oldest first."""

    timezone: str
    channels: tuple[str, ...]
    weeks: tuple[Week, ...]
    objectives: bool
    """Whether the scenario states objectives (each week then has its verdicts)."""

    @property
    def shown(self) -> bool:
        """Whether the report shows them: at least :data:`MIN_WEEKS` weeks of sending, or
        :data:`MIN_WEEKS_WITH_OBJECTIVES` when there are objectives."""
        least = MIN_WEEKS_WITH_OBJECTIVES if self.objectives else MIN_WEEKS
        return len(self.weeks) >= least

    def to_json(self) -> dict[str, object]:
        """The numbers as data (``trends.json``), every rate with its k, n and interval."""
        return {"timezone": self.timezone, "channels": list(self.channels), "weeks": [{
            "week": week.iso, "start": week.start.isoformat(), "sent": week.sent,
            "judged_at": (week.judged_at.astimezone(ZoneInfo(self.timezone)).isoformat()
                          if week.judged_at else None),
            "channels": [{
                "channel": cell.channel, "sent": cell.sent, "answered": cell.answered.k,
                "rate": cell.answered.value,
                "ci95": list(cell.answered.interval) if cell.answered.interval else None,
                "median_among_replies_s": cell.median_s, "replies_n": cell.answered.k,
            } for cell in week.cells],
            "objectives": [{
                "objective": v.objective, "brand": v.brand, "status": v.status,
                "good": v.good, "decided": v.decided, "share": v.share,
                "ci95": list(v.interval) if v.interval else None, "target": v.target,
            } for v in week.verdicts],
        } for week in self.weeks]}


def monday(moment: datetime, zone: ZoneInfo) -> date:
    """The Monday of ``moment``'s calendar week in ``zone``."""
    local = moment.astimezone(zone).date()
    return local - timedelta(days=local.weekday())


def week_end(start: date, zone: ZoneInfo) -> datetime:
    """The last instant of the week beginning on Monday ``start`` in ``zone``."""
    return datetime.combine(start + timedelta(days=7), time(0), zone) - LAST_INSTANT


def trends(scenario: Scenario, outcomes: Sequence[Outcome], evidence: Evidence | None = None,
           end: datetime | None = None) -> Trends:
    """The run's weeks. With ``evidence`` (the store's records) and a scenario that states
    objectives, each week's verdicts, judged at the week's last instant or at ``end`` (the
    last moment the run recorded), whichever comes first."""
    zone = ZoneInfo(scenario.timezone)
    used = {o.probe.channel for o in outcomes}
    channels = tuple(c.id for c in scenario.channels if c.id in used)
    sent = [o for o in outcomes if o.sent_at is not None]
    by_week: dict[date, list[Outcome]] = {}
    for outcome in sent:
        assert outcome.sent_at is not None
        by_week.setdefault(monday(outcome.sent_at, zone), []).append(outcome)
    weeks = []
    for start in _mondays(min(by_week, default=None), max(by_week, default=None)):
        members = by_week.get(start, [])
        found = {g.key: g for g in group(members, lambda o: o.probe.channel)}
        cells = tuple(WeekCell(c, found[c].rate, found[c].median_latency_s) if c in found
                      else WeekCell(c, Rate(0, 0), None) for c in channels)
        judged_at: datetime | None = None
        verdicts: tuple[Verdict, ...] = ()
        if scenario.objectives and evidence is not None:
            judged_at = week_end(start, zone) if end is None else min(week_end(start, zone),
                                                                      end)
            verdicts = tuple(judge(scenario, evidence, judged_at))
        weeks.append(Week(start, cells, judged_at, verdicts))
    return Trends(scenario.timezone, channels, tuple(weeks), bool(scenario.objectives))


def _mondays(first: date | None, last: date | None) -> list[date]:
    if first is None or last is None:
        return []
    return [first + timedelta(weeks=n) for n in range((last - first).days // 7 + 1)]
