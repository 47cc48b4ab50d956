"""Expand a scenario into its probes: pure, seeded and deterministic."""

from __future__ import annotations

import random
from datetime import date, datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from harness.plan.calendar import (
    fixed_times,
    planned_weeks,
    send_dates,
    send_times,
    send_window,
)
from harness.plan.design import (
    category_index,
    category_offsets,
    deal_personas,
    legacy_deal,
    mention_for,
    mention_modes,
    mention_offsets,
)
from harness.plan.personas import Need, deal_balanced
from harness.plan.probe import FollowUpStep, Probe
from harness.scenario import templates
from harness.scenario.model import Category, Channel, Scenario
from harness.scenario.queries import channels_for_brand, personas_for_channel


def build_plan(scenario: Scenario) -> list[Probe]:
    """Every probe of the scenario, ordered by send time (then brand order). A repeating
    schedule's plan is made week by week (:mod:`harness.plan.continuous`): this is its weeks
    through ``until``, or its first :data:`~harness.plan.calendar.PREVIEW_WEEKS`."""
    if scenario.schedule.repeat:
        from harness.plan.continuous import plan_weeks

        return plan_weeks(scenario, planned_weeks(scenario.schedule))
    seed = scenario.seed
    rng = random.Random(f"{seed}:design")
    zone = ZoneInfo(scenario.timezone)
    schedule = scenario.schedule
    per_day = schedule.messages_per_brand_per_day
    slots_per_week = len(set(schedule.weekdays)) * per_day
    dates = send_dates(schedule)
    windows = [] if schedule.times else [
        send_window(day, schedule.send_window.start, schedule.send_window.end, zone)
        for _, day in dates]
    modes = mention_modes(scenario)
    offsets = mention_offsets(scenario, rng)
    categories = list(scenario.categories)
    rng.shuffle(categories)
    category_rank = {c.id: i for i, c in enumerate(categories)}
    brand_rank = list(range(len(scenario.brands)))
    rng.shuffle(brand_rank)
    personas = {p.id: p for p in scenario.personas}
    persona_order = [p.id for p in scenario.personas]
    rng.shuffle(persona_order)
    eligible = {
        channel.id: [p for p in persona_order if p in set(personas_for_channel(scenario, channel))]
        for channel in scenario.channels
    }
    legacy = legacy_deal(scenario)
    starts = ({b.id: brand_rank[i] for i, b in enumerate(scenario.brands)} if legacy
              else category_offsets(scenario, rng, len(categories)))
    persona_index = {p: i for i, p in enumerate(persona_order)}
    eligible_index = {c: [persona_index[p] for p in ps] for c, ps in eligible.items()}

    drafts: list[tuple[datetime, int, int, dict[str, Any]]] = []
    for b_pos, brand in enumerate(scenario.brands):
        rank = brand_rank[b_pos]
        brand_channels = channels_for_brand(scenario, brand.id)
        slots: list[_Slot] = []
        occurrences: dict[str, int] = {}
        time_rng = random.Random(f"{seed}:time:{brand.id}")
        brand_zone = ZoneInfo(brand.timezone or scenario.timezone)
        week_modes = [mention_for(modes, offsets[brand.id], w) for w in range(schedule.weeks)]
        for d_pos, (week, day) in enumerate(dates):
            times = (fixed_times(day, schedule.times, brand_zone) if schedule.times else
                     send_times(time_rng, windows[d_pos], per_day))
            for k, moment in enumerate(times):
                number = d_pos * per_day + k
                category = categories[category_index(number, starts[brand.id], week,
                                                     len(categories), slots_per_week)]
                occurrence = occurrences.get(category.id, 0)
                occurrences[category.id] = occurrence + 1
                channel = brand_channels[(occurrence + category_rank[category.id] + rank)
                                         % len(brand_channels)]
                slots.append(_Slot(week, d_pos, day, k, moment, category, channel, occurrence,
                                   week_modes[week]))
        if legacy:
            assigned = _legacy_personas(slots, brand_channels, eligible, category_rank, rank)
        elif all(len(eligible[c.id]) == 1 for c in brand_channels):  # nothing to choose
            assigned = [eligible[s.channel.id][0] for s in slots]
        else:
            needs = [Need(s.day_number, s.mention, s.category.id, eligible_index[s.channel.id])
                     for s in slots]
            usable = sorted({i for c in brand_channels for i in eligible_index[c.id]})
            assigned = [persona_order[i]
                        for i in deal_balanced(needs, len(persona_order), rank, usable)]
        for i, slot in enumerate(slots):
            category = slot.category
            template = category.templates[(slot.occurrence + rank) % len(category.templates)]
            mention = slot.mention
            seen_as = (personas[assigned[i]], brand, slot.channel, mention, category.id,
                       category.label)
            follow_ups = tuple(
                FollowUpStep(int(step.after.total_seconds()),
                             templates.render_message(step.template, *seen_as))
                for step in category.follow_up)
            drafts.append((slot.moment, b_pos, slot.k, {
                "brand": brand.id, "industry": brand.industry, "persona": assigned[i],
                "channel": slot.channel.id, "category": category.id, "mention": mention,
                "week": slot.week + 1, "day": slot.day_number + 1,
                "probe_id": f"{slot.day.isoformat()}-{brand.id}-{slot.k + 1}",
                "text": templates.render_message(template, *seen_as), "follow_ups": follow_ups,
            }))
    drafts.sort(key=lambda d: (d[0], d[1], d[2]))
    return [Probe(seq=seq, scheduled_at=moment, **fields)
            for seq, (moment, _, _, fields) in enumerate(drafts)]


def _legacy_personas(slots: list[_Slot], brand_channels: list[Channel],
                     eligible: dict[str, list[str]], category_rank: dict[str, int],
                     rank: int) -> list[str]:
    """The legacy deal: personas in turn along the slots sorted by channel, category and time,
    one running deal from the brand's rank."""
    dealt = rank
    assigned = [""] * len(slots)
    for channel in brand_channels:
        indexes = [i for i, s in enumerate(slots) if s.channel.id == channel.id]
        keys = [(category_rank[slots[i].category.id], i) for i in indexes]
        chosen = deal_personas(keys, eligible[channel.id], dealt)
        for i, persona in zip(indexes, chosen, strict=True):
            assigned[i] = persona
        dealt += len(indexes)
    return assigned


class _Slot(NamedTuple):
    """One of a brand's sending slots, before a persona is dealt to it."""

    week: int
    day_number: int
    day: date
    k: int
    moment: datetime
    category: Category
    channel: Channel
    occurrence: int
    mention: str
