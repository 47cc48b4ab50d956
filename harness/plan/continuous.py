"""Repeating schedules (``schedule.repeat``): the plan made week by week, for as long as the
schedule runs.

A fixed schedule is expanded whole (:func:`harness.plan.expand.build_plan`). A repeating one
has no end, or one far off, so its plan is made a week at a time and stored as time goes on.
Week *w* is a pure function of the scenario and *w*: its random send times come from a source
seeded with (seed, brand, *w*), and whatever runs on from week to week (where a brand is in its
category cycle, whose turn it is among the personas) is counted from the calendar, not carried
over from the weeks before. So planning to week 10 and then to week 12 gives the same first 10
weeks as planning to week 12 at once, and the stored plan can be extended from any point.

Per brand, counting its messages over the whole run:

- **mention mode**: the design's, by week (``replay``: every brand alike; ``counterbalanced``:
  rotated per brand), as in fixed plans;
- **categories** go round a seeded cycle in rounds: in each round of as many messages as
  there are categories, a brand asks every category once; each round starts one category
  further on (so a weekday or a send time does not always ask the same one), and the brands of
  a matchup start the cycle apart (as in fixed plans), so partners ask different categories
  with the same message;
- **channels**: each round, each category moves on to the brand's next channel;
- **personas**: each message goes to the persona (among those on its channel) that has, in
  turn, sent the brand the fewest messages that day, in that mention mode, in that category,
  at that place in the day, in all, and is next in a seeded order (:mod:`harness.plan.rotation`):
  the counts of the weeks before are worked out from the calendar, whatever was planned;
- **send times**: each of ``schedule.times`` in the brand's time zone, or random times in
  ``send_window`` in the scenario's zone, drawn as in fixed plans.

Probe ids, ``week`` and ``day`` are as in fixed plans; ``seq`` is the probe's place in the whole
plan (by send time, then brand order), which planning further never changes.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from harness.hours import WEEKDAYS
from harness.plan.calendar import fixed_times, send_times, send_window
from harness.plan.design import category_offsets, mention_for, mention_modes, mention_offsets
from harness.plan.probe import FollowUpStep, Probe
from harness.plan.rotation import Turns
from harness.scenario import templates
from harness.scenario.model import Category, Channel, Scenario
from harness.scenario.queries import channels_for_brand, personas_for_channel

WEEK = timedelta(days=7)
_EAST = timedelta(hours=14)  # no zone is further ahead of UTC: a local day starts after
_WEST = timedelta(hours=12)  # no zone is further behind: a local day ends before
_SEARCH_WEEKS = 520  # how far ahead the first sending day is looked for


class _Draft(NamedTuple):
    """A probe before its place in the whole plan is known."""

    moment: datetime
    brand: int
    k: int
    fields: dict[str, Any]

    def probe(self, seq: int) -> Probe:
        return Probe(seq=seq, scheduled_at=self.moment, **self.fields)


class _Slot(NamedTuple):
    """One of a brand's messages in a week, before its persona and time are known."""

    d_pos: int
    day: date
    k: int
    category: Category
    channel: Channel
    cycle: int


class ContinuousPlan:
    """The plan of a repeating schedule, made week by week on demand (weeks already made are
    kept, a few at a time)."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        schedule = scenario.schedule
        self.start = schedule.start
        self.until = schedule.until
        self.per_day = schedule.messages_per_brand_per_day
        self.weekdays = {WEEKDAYS.index(day) for day in schedule.weekdays}
        self.excluded = set(schedule.exclude_dates)
        # excluded dates that would have been sending days, by week index
        self._skipped = sorted((day - self.start).days // 7 for day in self.excluded
                               if day >= self.start and day.weekday() in self.weekdays)
        rng = random.Random(f"{scenario.seed}:design")  # drawn in the order build_plan draws
        self.modes = mention_modes(scenario)
        self.mention_offsets = mention_offsets(scenario, rng)
        self.categories = list(scenario.categories)
        rng.shuffle(self.categories)
        self.category_rank = {c.id: i for i, c in enumerate(self.categories)}
        self.brand_rank = list(range(len(scenario.brands)))
        rng.shuffle(self.brand_rank)
        self.persona_order = [p.id for p in scenario.personas]
        rng.shuffle(self.persona_order)
        self.category_starts = category_offsets(scenario, rng, len(self.categories))
        index = {p: i for i, p in enumerate(self.persona_order)}
        self.eligible = {c.id: sorted(index[p] for p in personas_for_channel(scenario, c))
                         for c in scenario.channels}
        self._weeks: dict[int, list[_Draft]] = {}
        self._turns: dict[int, list[Turns]] = {0: [
            Turns.fresh(len(self.persona_order), self.brand_rank[b_pos])
            for b_pos in range(len(scenario.brands))]}

    # -- the calendar ---------------------------------------------------------------------

    def _midnight(self, day: date) -> datetime:
        return datetime.combine(day, time(0), UTC)

    def end(self) -> datetime | None:
        """A moment after every probe of the schedule (``None``: it repeats without end)."""
        if self.until is None:
            return None
        return self._midnight(self.until + timedelta(days=1)) + _WEST

    def last_week(self) -> int | None:
        """The index of the schedule's last week (``None``: none)."""
        return None if self.until is None else (self.until - self.start).days // 7

    def days(self, week: int) -> list[date]:
        """The sending days of ``week`` (never past ``until``)."""
        first = self.start + week * WEEK
        return [day for day in (first + timedelta(days=i) for i in range(7))
                if day.weekday() in self.weekdays and day not in self.excluded
                and (self.until is None or day <= self.until)]

    def _days_before(self, week: int, residue: int | None = None, period: int = 1) -> int:
        """Sending days in the weeks before ``week`` (only those whose index is ``residue``
        modulo ``period``, if given), counted, not listed."""
        if residue is None:
            weeks, skipped = week, sum(1 for w in self._skipped if w < week)
        else:
            weeks = (week - residue + period - 1) // period if week > residue else 0
            skipped = sum(1 for w in self._skipped if w < week and w % period == residue)
        return weeks * len(self.weekdays) - skipped

    # -- the weeks ------------------------------------------------------------------------

    def week(self, week: int) -> list[_Draft]:
        """The probes of ``week``, unordered, without their ``seq``."""
        made = self._weeks.get(week)
        if made is None:
            made = self._weeks[week] = self._make_week(week)
            for old in [w for w in self._weeks if w < week - 2]:
                del self._weeks[old]  # the plan moves on: keep the last few weeks
        return made

    def _slots(self, week: int, b_pos: int) -> list[_Slot]:
        """A brand's messages in ``week``, in order, with their category and channel."""
        brand = self.scenario.brands[b_pos]
        rank = self.brand_rank[b_pos]
        channels = channels_for_brand(self.scenario, brand.id)
        cycle_length = len(self.categories)
        number = self.per_day * self._days_before(week)  # the brand's messages before
        start = self.category_starts[brand.id]
        slots = []
        for d_pos, day in enumerate(self.days(week)):
            for k in range(self.per_day):
                cycle, position = divmod(number, cycle_length)
                category = self.categories[(position + cycle + start) % cycle_length]
                channel = channels[(cycle + self.category_rank[category.id] + rank)
                                   % len(channels)]
                slots.append(_Slot(d_pos, day, k, category, channel, cycle))
                number += 1
        return slots

    def _turns_at(self, week: int) -> list[Turns]:
        """Each brand's persona counts at the start of ``week`` (counted from week 0 on, and
        kept for the weeks after)."""
        known = max(w for w in self._turns if w <= week)
        while known < week:
            turns = [t.copy() for t in self._turns[known]]
            self._deal(known, turns)
            known += 1
            self._turns[known] = turns
        return self._turns[week]

    def _deal(self, week: int, turns: list[Turns]) -> list[list[int]]:
        """The persona (an index in the seeded order) of each brand's messages in ``week``;
        ``turns`` move on past them."""
        dealt = []
        for b_pos, brand in enumerate(self.scenario.brands):
            mention = mention_for(self.modes, self.mention_offsets[brand.id], week)
            today: Counter[int] = Counter()
            day = None
            chosen = []
            for slot in self._slots(week, b_pos):
                if slot.day != day:
                    day, today = slot.day, Counter()
                chosen.append(turns[b_pos].choose(self.eligible[slot.channel.id], today,
                                                  mention, slot.category.id, slot.k))
            dealt.append(chosen)
        return dealt

    def _make_week(self, week: int) -> list[_Draft]:
        scenario, days = self.scenario, self.days(week)
        if not days:
            return []
        schedule = scenario.schedule
        window_zone = ZoneInfo(scenario.timezone)
        personas = {p.id: p for p in scenario.personas}
        turns = [t.copy() for t in self._turns_at(week)]
        dealt = self._deal(week, turns)
        self._turns.setdefault(week + 1, turns)
        day_number = self._days_before(week)
        drafts: list[_Draft] = []
        for b_pos, brand in enumerate(scenario.brands):
            rank = self.brand_rank[b_pos]
            mention = mention_for(self.modes, self.mention_offsets[brand.id], week)
            time_rng = random.Random(f"{scenario.seed}:time:{brand.id}:{week}")
            zone = ZoneInfo(brand.timezone or scenario.timezone)
            moments: list[datetime] = []
            for day in days:
                if schedule.times:
                    moments += fixed_times(day, schedule.times, zone)
                else:
                    window = send_window(day, schedule.send_window.start,
                                         schedule.send_window.end, window_zone)
                    moments += send_times(time_rng, window, self.per_day)
            for slot, moment, index in zip(self._slots(week, b_pos), moments, dealt[b_pos],
                                           strict=True):
                category, channel = slot.category, slot.channel
                persona = personas[self.persona_order[index]]
                template = category.templates[(slot.cycle + rank) % len(category.templates)]
                seen_as = (persona, brand, channel, mention, category.id, category.label)
                follow_ups = tuple(
                    FollowUpStep(int(step.after.total_seconds()),
                                 templates.render_message(step.template, *seen_as))
                    for step in category.follow_up)
                drafts.append(_Draft(moment, b_pos, slot.k, {
                    "brand": brand.id, "industry": brand.industry, "persona": persona.id,
                    "channel": channel.id, "category": category.id, "mention": mention,
                    "week": week + 1, "day": day_number + slot.d_pos + 1,
                    "probe_id": f"{slot.day.isoformat()}-{brand.id}-{slot.k + 1}",
                    "text": templates.render_message(template, *seen_as),
                    "follow_ups": follow_ups}))
        return drafts

    # -- the plan -------------------------------------------------------------------------

    def weeks(self, count: int) -> list[Probe]:
        """The probes of the first ``count`` weeks (never past ``until``), by send time."""
        last = self.last_week()
        upto = count if last is None else min(count, last + 1)
        return _numbered(draft for w in range(upto) for draft in self.week(w))

    def between(self, after: datetime | None, through: datetime,
                first_seq: int = 0) -> list[Probe]:
        """The probes due after ``after`` (``None``: from the first) up to and including
        ``through``, by send time, numbered on from ``first_seq``: with ``first_seq`` the
        number of probes due up to ``after``, each one's ``seq`` is its place in the whole
        plan."""
        base = self._midnight(self.start)
        low = 0 if after is None else max(0, (after - _WEST - base) // WEEK)
        high = (through + _EAST - base) // WEEK
        last = self.last_week()
        if last is not None:
            high = min(high, last)
        drafts = (draft for w in range(low, high + 1) for draft in self.week(w)
                  if (after is None or draft.moment > after) and draft.moment <= through)
        return _numbered(drafts, first_seq)

    def first_moment(self) -> datetime | None:
        """When the schedule's first probe is due (``None``: it never sends)."""
        last = self.last_week()
        for week in range(_SEARCH_WEEKS if last is None else min(last + 1, _SEARCH_WEEKS)):
            drafts = self.week(week)
            if drafts:
                return min(draft.moment for draft in drafts)
        return None


def _numbered(drafts: Iterable[_Draft], first_seq: int = 0) -> list[Probe]:
    ordered = sorted(drafts, key=lambda d: (d.moment, d.brand, d.k))
    return [draft.probe(first_seq + i) for i, draft in enumerate(ordered)]


def plan_weeks(scenario: Scenario, weeks: int) -> list[Probe]:
    """The first ``weeks`` weeks of a repeating schedule's plan (never past ``until``)."""
    return ContinuousPlan(scenario).weeks(weeks)


def plan_between(scenario: Scenario, after: datetime | None, through: datetime,
                 first_seq: int = 0) -> list[Probe]:
    """A repeating schedule's probes due in ``(after, through]``: see
    :meth:`ContinuousPlan.between`."""
    return ContinuousPlan(scenario).between(after, through, first_seq)
