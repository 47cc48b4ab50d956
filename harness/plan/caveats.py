"""Where a plan cannot be as balanced as its rules aim for, worked out from the scenario's
numbers without expanding the plan (so ``shopper validate`` stays small).

Each warning names what falls short and why: a brand with one persona, mode counts that do not
divide among the personas, more messages a day than personas, channels with different
personas, a matchup with more brands than categories, send windows too short for the usual gap,
and the legacy deal of a replay with one message a day.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, time, timedelta

from harness.durations import format_duration
from harness.plan.calendar import MIN_GAP, day_gap, send_dates
from harness.plan.design import legacy_deal, mention_for, mention_modes, mention_offsets
from harness.scenario.model import Scenario, resolved_matchups
from harness.scenario.queries import channels_for_brand, personas_for_channel

_LISTED = 5  # brands named in one warning before "and N more"


def plan_warnings(scenario: Scenario) -> list[str]:
    """Every warning about ``scenario``'s plan, one line each, in a stable order."""
    schedule = scenario.schedule
    per_day = schedule.messages_per_brand_per_day
    dates = send_dates(schedule)
    if not dates:
        return []
    legacy = legacy_deal(scenario)
    modes = mention_modes(scenario)
    several_modes = len(set(modes)) > 1
    offsets = mention_offsets(scenario, random.Random(f"{scenario.seed}:design"))
    days_in_week = Counter(week for week, _ in dates)
    mode_counts: dict[int, dict[str, int]] = {}
    for offset in sorted(set(offsets.values())):
        counts = mode_counts[offset] = dict.fromkeys(dict.fromkeys(modes), 0)
        for week, days in days_in_week.items():
            counts[mention_for(modes, offset, week)] += days * per_day
    usable = {c.id: personas_for_channel(scenario, c) for c in scenario.channels}

    warnings: list[str] = []
    if legacy and several_modes and len(scenario.personas) > 1:
        warnings.append(
            "design: a replay with one message a day deals personas as earlier versions did "
            "(in turn by category, as in the 2013 plan it reproduces): persona is not balanced "
            "against mention mode (see the persona x mention table of `shopper plan`)")
    matchups = resolved_matchups(scenario)
    if legacy and matchups and len(scenario.categories) > 1:
        warnings.append(
            "design: a replay with one message a day spreads categories by brand rank as "
            "earlier versions did: the brands of a matchup may ask the same category on every "
            "day (see the partner tables of `shopper plan`)")
    categories = len(scenario.categories)
    for index, matchup in enumerate(matchups):
        if len(matchup) > categories and not legacy:
            warnings.append(
                f"matchups[{index}] ({' / '.join(matchup)}): {len(matchup)} brands but "
                f"{_plural(categories, 'category', 'categories')}: on every day some of them "
                "ask the same category with the same message number")
    gap = _gap_warning(scenario)
    if gap:
        warnings.append(gap)

    by_text: dict[str, list[str]] = {}
    for brand in scenario.brands:
        channels = channels_for_brand(scenario, brand.id)
        sets = {c.id: usable[c.id] for c in channels}
        personas = [p.id for p in scenario.personas
                    if any(p.id in ids for ids in sets.values())]
        counts = mode_counts.get(offsets.get(brand.id, 0), {})
        for text in _brand_warnings(personas, sets, counts, per_day, legacy, several_modes):
            by_text.setdefault(text, []).append(brand.id)
    for text, brands in by_text.items():
        warnings.append(f"{_brands(brands)}: {text}")
    return warnings


def _brand_warnings(personas: list[str], sets: dict[str, list[str]], counts: dict[str, int],
                    per_day: int, legacy: bool, several_modes: bool) -> list[str]:
    """The warnings about one brand: its usable personas, those per channel, the number of
    its messages in each mode."""
    if len(personas) == 1:
        if not several_modes and per_day == 1:
            return []
        cannot = ["balanced against mention mode"] if several_modes else []
        if per_day > 1:
            cannot.append("rotated within a day")
        return [f"one persona ({personas[0]}) sends every message: persona cannot be "
                + " or ".join(cannot)]
    if legacy or not personas:
        return []
    found = []
    if len({frozenset(ids) for ids in sets.values()}) > 1:
        listed = "; ".join(f"{channel}: {', '.join(ids)}" for channel, ids in sets.items())
        found.append(f"the channels have different personas ({listed}): persona x mention "
                     "balance and rotation within a day hold only as far as those allow")
    if per_day > len(personas):
        found.append(f"{per_day} messages a day but {len(personas)} personas: some persona "
                     "sends more than one message to the brand on a day")
    if several_modes:
        uneven = [(mode, n) for mode, n in counts.items() if n % len(personas)]
        if uneven:
            shares = "; ".join(f"{n} '{mode}', {n // len(personas)} or "
                               f"{n // len(personas) + 1} each" for mode, n in uneven)
            found.append(f"the messages of a mention mode cannot be shared equally by the "
                         f"{len(personas)} personas ({shares})")
    return found


def _gap_warning(scenario: Scenario) -> str | None:
    """The warning for send windows too short to keep a brand's messages :data:`MIN_GAP`
    apart (measured on a day without a clock change); none for fixed ``times``."""
    schedule = scenario.schedule
    count = schedule.messages_per_brand_per_day
    if schedule.times:  # fixed times: as far apart as they are written
        return None
    start, end = schedule.send_window.start, schedule.send_window.end
    day = datetime(2000, 1, 1)
    close = day + timedelta(days=1) if end == time.max else datetime.combine(day, end)
    window = int((close - datetime.combine(day, start)).total_seconds())
    gap = day_gap(window, count)
    if count < 2 or gap >= MIN_GAP.total_seconds():
        return None
    return (f"schedule: {count} messages to each brand a day in a {format_duration(window)} "
            f"send window: they are kept at least {format_duration(gap)} apart, not the usual "
            f"{format_duration(MIN_GAP)}")


def _brands(ids: list[str]) -> str:
    named = ", ".join(ids[:_LISTED])
    more = f" and {len(ids) - _LISTED} more" if len(ids) > _LISTED else ""
    return f"{'brand' if len(ids) == 1 else 'brands'} {named}{more}"


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"
