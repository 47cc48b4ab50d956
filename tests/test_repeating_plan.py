"""Repeating schedules (`repeat: true`) and fixed send times (`times:`): the plan made week by
week, the same however far it was made, balanced over time, at the same local times through
daylight-saving changes."""

from __future__ import annotations

import textwrap
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from harness.plan.calendar import PREVIEW_WEEKS
from harness.plan.continuous import ContinuousPlan, plan_between, plan_weeks
from harness.plan.expand import build_plan
from harness.plan.probe import Probe
from harness.plan.size import plan_size
from harness.scenario.model import Scenario
from harness.session.scenarios import load_scenario_text

from .conftest import SMALL

REPEATING = SMALL.replace("  weeks: 2\n", "  repeat: true\n")
TIMES = REPEATING.replace('  send_window: {start: "09:00", end: "17:00"}\n',
                          '  times: ["10:00", "15:00"]\n')


def _load(text: str) -> Scenario:
    return load_scenario_text(text, "repeating.yaml")


def test_the_first_weeks_are_the_same_however_far_the_plan_is_made() -> None:
    scenario = _load(REPEATING)
    twelve = plan_weeks(scenario, 12)
    ten = plan_weeks(scenario, 10)
    assert ten == [p for p in twelve if p.week <= 10]
    assert {p.week for p in twelve} == set(range(1, 13))
    # made in pieces, from fresh objects, by time: the same probes with the same seq
    cut = twelve[137].scheduled_at
    first = plan_between(scenario, None, cut)
    rest = plan_between(scenario, cut, twelve[-1].scheduled_at, len(first))
    assert first + rest == twelve
    assert [p.seq for p in twelve] == list(range(len(twelve)))


def test_a_week_depends_on_its_index_and_the_seed_only() -> None:
    scenario = _load(REPEATING)
    late = ContinuousPlan(scenario)
    week_30 = sorted(late.week(29), key=lambda d: (d.moment, d.brand))  # first thing asked
    early = ContinuousPlan(scenario)
    for week in range(29):
        early.week(week)
    assert sorted(early.week(29), key=lambda d: (d.moment, d.brand)) == week_30
    reseeded = ContinuousPlan(scenario.model_copy(update={"seed": 8}))
    assert [d.moment for d in reseeded.week(29)] != [d.moment for d in late.week(29)]


def test_each_brand_asks_every_category_once_in_each_round_of_messages() -> None:
    three = REPEATING.replace("categories:\n", textwrap.dedent("""\
        categories:
          - id: billing
            label: Billing
            templates: ["{{ mention }} why was I charged twice?"]
        """))
    scenario = _load(three)
    plan = plan_weeks(scenario, 20)
    for brand in ("fast", "slow", "mute", "bank"):
        asked = [p.category for p in plan if p.brand == brand]
        rounds = [asked[i:i + 3] for i in range(0, len(asked) - 2, 3)]
        assert rounds and all(sorted(r) == ["billing", "question", "technical"]
                              for r in rounds), brand
    # a weekday does not always ask the same category
    mondays = Counter((p.brand, p.category) for p in plan
                      if p.scheduled_at.weekday() == 0)
    assert all(count < 20 for count in mondays.values())


def test_personas_rotate_and_stay_within_one_in_each_mention_mode() -> None:
    scenario = _load(TIMES)
    plan = plan_weeks(scenario, 26)
    for brand in ("fast", "slow", "mute", "bank"):
        mine = [p for p in plan if p.brand == brand]
        for mode in ("at", "name"):
            counts = Counter(p.persona for p in mine if p.mention == mode)
            assert set(counts) == {"ana", "ben"} and max(counts.values()) - min(
                counts.values()) <= 1, (brand, mode, counts)
        by_day: dict[int, list[str]] = defaultdict(list)
        for probe in mine:
            by_day[probe.day].append(probe.persona)
        assert all(len(set(day)) == 2 for day in by_day.values())  # 2 a day, 2 personas
        # neither a send time nor a category stays with one persona
        for key in ("10", "15"):
            slot = Counter(p.persona for p in mine if p.scheduled_at.hour == int(key))
            assert len(slot) == 2, (brand, key, slot)
        pairs = Counter((p.persona, p.category) for p in mine)
        assert len(pairs) == 4 and max(pairs.values()) - min(pairs.values()) <= 2, pairs


def test_times_are_the_brands_local_times_across_a_daylight_saving_change() -> None:
    # New York springs forward on Sunday 10 March 2024, London on Sunday 31 March
    text = TIMES.replace("  start: 2024-03-04\n", "  start: 2024-03-04\n  until: 2024-04-05\n")
    text = text.replace("    name: Fast Co\n",
                        "    name: Fast Co\n    timezone: America/New_York\n")
    plan = build_plan(_load(text))
    assert {p.week for p in plan} == {1, 2, 3, 4, 5}
    new_york, london = ZoneInfo("America/New_York"), ZoneInfo("Europe/London")
    for probe in plan:
        zone = new_york if probe.brand == "fast" else london
        local = probe.scheduled_at.astimezone(zone)
        assert local.time() in (time(10), time(15)), probe
        assert probe.probe_id.startswith(local.date().isoformat())
    fast_utc = {p.scheduled_at.astimezone(UTC).hour for p in plan
                if p.brand == "fast" and p.probe_id.endswith("-1")}
    assert fast_utc == {15, 14}  # 10:00 EST is 15:00 UTC, 10:00 EDT 14:00 UTC


def test_times_in_a_fixed_schedule_are_the_send_times() -> None:
    text = SMALL.replace('  send_window: {start: "09:00", end: "17:00"}\n',
                         '  times: ["22:00", "08:30"]\n')
    scenario = _load(text)
    assert scenario.schedule.messages_per_brand_per_day == 2
    plan = build_plan(scenario)
    assert len(plan) == plan_size(scenario).probes == 4 * 10 * 2
    assert Counter(p.scheduled_at.astimezone(ZoneInfo("Europe/London")).time()
                   for p in plan) == {time(8, 30): 40, time(22): 40}
    assert all(p.probe_id.endswith("-1") == (p.scheduled_at.hour == 8) for p in plan)


def test_until_ends_the_plan_and_a_single_day_is_a_plan() -> None:
    through = REPEATING.replace("  repeat: true\n", "  repeat: true\n  until: 2024-03-13\n")
    plan = build_plan(_load(through))
    assert max(p.scheduled_at.date() for p in plan) == date(2024, 3, 13)
    assert len(plan) == plan_size(_load(through)).probes == 4 * 8
    one_day = REPEATING.replace("  repeat: true\n", "  repeat: true\n  until: 2024-03-04\n")
    only = build_plan(_load(one_day))
    assert {p.probe_id.split("-fast")[0] for p in only if p.brand == "fast"} == {"2024-03-04"}
    assert len(only) == 4
    scenario = _load(one_day)
    assert ContinuousPlan(scenario).end() == datetime(2024, 3, 5, 12, tzinfo=UTC)
    assert plan_between(scenario, None, datetime(2030, 1, 1, tzinfo=UTC)) == only


def test_without_until_plan_shows_its_first_weeks() -> None:
    scenario = _load(REPEATING)
    plan = build_plan(scenario)
    assert {p.week for p in plan} == set(range(1, PREVIEW_WEEKS + 1))
    assert ContinuousPlan(scenario).end() is None


def test_exclude_dates_are_skipped_without_moving_later_weeks() -> None:
    skipping = REPEATING.replace("  repeat: true\n",
                                 "  repeat: true\n  exclude_dates: [2024-03-06, 2024-03-20]\n")
    plain, skipped = plan_weeks(_load(REPEATING), 6), plan_weeks(_load(skipping), 6)
    assert len(plain) - len(skipped) == 2 * 4
    assert not any(p.probe_id.startswith(("2024-03-06", "2024-03-20")) for p in skipped)
    # later days keep their numbers and the plan of later weeks is its own
    last_day = {p.day for p in skipped if p.scheduled_at.date() == date(2024, 4, 12)}
    assert last_day == {28}


@pytest.mark.parametrize("hours", [0, 1, 7, 23])
def test_a_plan_extended_from_any_moment_is_the_plan(hours: int) -> None:
    scenario = _load(TIMES)
    whole = plan_weeks(scenario, 5)
    after = datetime(2024, 3, 13, hours, tzinfo=UTC)
    done = [p for p in whole if p.scheduled_at <= after]
    more: list[Probe] = plan_between(scenario, after, whole[-1].scheduled_at, len(done))
    assert done + more == whole
    assert plan_between(scenario, after, after, len(done)) == []  # nothing due: nothing added


def test_fixed_times_carry_no_send_window_warning() -> None:
    from harness.plan.caveats import plan_warnings

    many = SMALL.replace('  send_window: {start: "09:00", end: "17:00"}\n',
                         '  send_window: {start: "09:00", end: "10:00"}\n'
                         '  messages_per_brand_per_day: 4\n')
    assert any("send window" in w for w in plan_warnings(_load(many)))
    times = SMALL.replace('  send_window: {start: "09:00", end: "17:00"}\n',
                          '  times: ["09:00", "09:15", "09:30", "09:45"]\n')
    assert not any("send window" in w for w in plan_warnings(_load(times)))
