"""Expand a scenario into its probes: pure, seeded and deterministic."""

from __future__ import annotations

import random
from zoneinfo import ZoneInfo

from harness.plan.calendar import send_dates, send_time
from harness.plan.design import category_index, deal_personas, mention_for, mention_offsets
from harness.plan.probe import FollowUpStep, Probe
from harness.scenario import templates
from harness.scenario.checks import channels_for_brand, personas_for_channel
from harness.scenario.model import Scenario


def build_plan(scenario: Scenario) -> list[Probe]:
    """Every probe of the scenario, ordered by send time (then brand order)."""
    seed = scenario.seed
    rng = random.Random(f"{seed}:design")
    zone = ZoneInfo(scenario.timezone)
    schedule = scenario.schedule
    per_day = schedule.messages_per_brand_per_day
    dates = send_dates(schedule)
    modes = list(dict.fromkeys(scenario.design.mentions))
    offsets = mention_offsets(scenario, rng)
    categories = list(scenario.categories)
    rng.shuffle(categories)
    category_rank = {c.id: i for i, c in enumerate(categories)}
    brand_rank = list(range(len(scenario.brands)))
    rng.shuffle(brand_rank)
    personas = {p.id: p for p in scenario.personas}
    persona_order = [p.id for p in scenario.personas]
    rng.shuffle(persona_order)

    drafts = []  # (scheduled_at, brand position, k, fields...)
    for b_pos, brand in enumerate(scenario.brands):
        rank = brand_rank[b_pos]
        brand_channels = channels_for_brand(scenario, brand.id)
        slots = []
        for d_pos, (week, day) in enumerate(dates):
            day_rng = random.Random(f"{seed}:time:{brand.id}:{day.isoformat()}")
            times = sorted(
                send_time(day_rng, day, schedule.send_window.start, schedule.send_window.end,
                          zone)
                for _ in range(per_day)
            )
            for k, moment in enumerate(times):
                slot = d_pos * per_day + k
                category = categories[category_index(slot, rank, week, len(categories))]
                channel = brand_channels[slot % len(brand_channels)]
                slots.append((week, day, k, moment, category, channel, d_pos))
        # Deal personas per channel, along slots sorted by category then time.
        assigned: dict[int, str] = {}
        for channel in brand_channels:
            indexes = [i for i, s in enumerate(slots) if s[5].id == channel.id]
            allowed = set(personas_for_channel(scenario, channel))
            eligible = [p for p in persona_order if p in allowed]
            keys = [(category_rank[slots[i][4].id], i) for i in indexes]
            for i, persona_id in zip(indexes, deal_personas(keys, eligible, rank), strict=True):
                assigned[i] = persona_id
        occurrences: dict[str, int] = {}
        for i, (week, day, k, moment, category, channel, d_pos) in enumerate(slots):
            occurrence = occurrences.get(category.id, 0)
            occurrences[category.id] = occurrence + 1
            template = category.templates[(occurrence + rank) % len(category.templates)]
            mention = mention_for(modes, offsets[brand.id], week)
            variables = templates.context(personas[assigned[i]], brand, channel, mention,
                                          category.id, category.label)
            follow_ups = tuple(
                FollowUpStep(int(step.after.total_seconds()),
                             templates.render(step.template, variables))
                for step in category.follow_up
            )
            drafts.append((moment, b_pos, k, dict(
                brand=brand.id, industry=brand.industry, persona=assigned[i],
                channel=channel.id, category=category.id, mention=mention, week=week + 1,
                day=d_pos + 1,
                probe_id=f"{day.isoformat()}-{brand.id}-{k + 1}",
                text=templates.render(template, variables), follow_ups=follow_ups,
            )))
    drafts.sort(key=lambda d: (d[0], d[1], d[2]))
    return [Probe(seq=seq, scheduled_at=moment, **fields)  # type: ignore[arg-type]
            for seq, (moment, _, _, fields) in enumerate(drafts)]
