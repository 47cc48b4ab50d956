"""The plan: balanced, seeded, and byte-identical for the same scenario and seed."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from datetime import date, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from harness.plan.calendar import send_dates
from harness.plan.expand import build_plan
from harness.scenario.model import Scenario
from harness.session.scenarios import load_scenario, load_scenario_text

from .conftest import REPLAY, SMALL


@pytest.fixture(scope="module")
def replay_plan() -> list[dict[str, object]]:
    result = subprocess.run([sys.executable, "-m", "harness", "plan", str(REPLAY),
                             "--format", "json"], capture_output=True, text=True, check=True)
    return json.loads(result.stdout)["probes"]  # type: ignore[no-any-return]


def test_replay_has_280_probes_20_per_brand(replay_plan: list[dict[str, object]]) -> None:
    assert len(replay_plan) == 280
    per_brand = Counter(p["brand"] for p in replay_plan)
    assert len(per_brand) == 14
    assert set(per_brand.values()) == {20}


def test_replay_each_brand_gets_each_category_4_times_and_each_persona_5_times(
        replay_plan: list[dict[str, object]]) -> None:
    for brand in {p["brand"] for p in replay_plan}:
        mine = [p for p in replay_plan if p["brand"] == brand]
        assert set(Counter(p["category"] for p in mine).values()) == {4}, brand
        assert set(Counter(p["persona"] for p in mine).values()) == {5}, brand
        # and every persona asks every category exactly once
        assert set(Counter((p["persona"], p["category"]) for p in mine).values()) == {1}


def test_replay_mentions_at_exactly_in_weeks_1_and_3(replay_plan: list[dict[str, object]]) -> None:
    modes_by_week = {(p["week"], p["mention"]) for p in replay_plan}
    assert modes_by_week == {(1, "at"), (2, "name"), (3, "at"), (4, "name")}
    for probe in replay_plan:
        text = str(probe["text"])
        assert ("@" in text) == (probe["mention"] == "at"), probe


def test_replay_spans_20_weekdays_from_monday_5_november_2012(
        replay_plan: list[dict[str, object]]) -> None:
    days = sorted({str(p["scheduled_at"])[:10] for p in replay_plan})
    assert len(days) == 20
    assert days[0] == "2012-11-05" and days[-1] == "2012-11-30"
    for probe in replay_plan:
        stamp = str(probe["scheduled_at"])
        assert stamp.endswith("-06:00"), stamp  # Central time, offset shown
        assert "09:00" <= stamp[11:16] < "17:00"


@pytest.mark.slow
def test_plan_output_is_byte_identical_across_runs() -> None:
    commands = [[sys.executable, "-m", "harness", "plan", str(REPLAY), "--format", fmt]
                for fmt in ("json", "csv")]
    for command in commands:
        first = subprocess.run(command, capture_output=True, check=True).stdout
        second = subprocess.run(command, capture_output=True, check=True).stdout
        assert first == second and len(first) > 10_000


def test_a_different_seed_gives_a_different_but_equally_balanced_plan() -> None:
    scenario = load_scenario(REPLAY)
    other = scenario.model_copy(update={"seed": 99})
    a, b = build_plan(scenario), build_plan(other)
    assert [p.scheduled_at for p in a] != [p.scheduled_at for p in b]
    for plan in (a, b):
        assert set(Counter((p.brand, p.persona) for p in plan).values()) == {5}


def test_counterbalanced_design_gives_half_the_brands_each_sequence() -> None:
    scenario = load_scenario_text(SMALL, "small.yaml")
    plan = build_plan(scenario)
    sequences = {}
    for brand in ("fast", "slow", "mute", "bank"):
        weeks = sorted({(p.week, p.mention) for p in plan if p.brand == brand})
        sequences[brand] = tuple(mode for _, mode in weeks)
    assert sorted(sequences.values()) == [("at", "name"), ("at", "name"),
                                          ("name", "at"), ("name", "at")]
    # the two brands of each industry matchup are on opposite sequences
    assert sequences["fast"] != sequences["slow"]
    assert sequences["mute"] != sequences["bank"]


def test_counterbalanced_categories_do_not_repeat_on_the_same_weekday() -> None:
    plan = build_plan(load_scenario(REPLAY).model_copy(
        update={"design": load_scenario_text(SMALL, "s.yaml").design}))
    for brand in {p.brand for p in plan}:
        by_weekday = Counter((p.scheduled_at.weekday(), p.category) for p in plan
                             if p.brand == brand)
        assert max(by_weekday.values()) == 1, brand


def test_several_messages_a_day_rotate_channels_and_keep_ids_unique(
        small_scenario: Scenario) -> None:
    data = small_scenario.model_dump()
    data["schedule"]["messages_per_brand_per_day"] = 3
    scenario = Scenario.model_validate(data)
    plan = build_plan(scenario)
    assert len(plan) == 4 * 10 * 3
    assert len({p.probe_id for p in plan}) == len(plan)
    assert [p.scheduled_at for p in plan] == sorted(p.scheduled_at for p in plan)


def test_exclude_dates_and_weekdays_shape_the_calendar(small_scenario: Scenario) -> None:
    schedule = small_scenario.schedule.model_copy(
        update={"exclude_dates": [date(2024, 3, 6)], "weekdays": ["mon", "wed", "sat"]})
    days = [d for _, d in send_dates(schedule)]
    assert days == [date(2024, 3, 4), date(2024, 3, 9), date(2024, 3, 11), date(2024, 3, 13),
                    date(2024, 3, 16)]


def test_send_times_stay_in_the_local_window_across_a_dst_change() -> None:
    text = SMALL.replace("start: 2024-03-04", "start: 2024-03-25").replace(
        "weeks: 2", "weeks: 1")  # Europe/London springs forward on 31 March 2024
    plan = build_plan(load_scenario_text(text.replace("2024-03-25", "2024-03-28"), "dst.yaml"))
    zone = ZoneInfo("Europe/London")
    offsets = set()
    for probe in plan:
        local = probe.scheduled_at.astimezone(zone)
        assert time(9) <= local.time() < time(17)
        offsets.add(local.utcoffset())
    assert len(offsets) == 2  # both sides of the change are planned in local time


def _variant(**changes: Any) -> Scenario:
    data = load_scenario_text(SMALL, "small.yaml").model_dump()
    for dotted, value in changes.items():
        target = data
        *parents, leaf = dotted.split("__")
        for key in parents:
            target = target[key]
        target[leaf] = value
    return Scenario.model_validate(data)


def test_replay_keeps_repeated_modes_in_the_weekly_sequence() -> None:
    scenario = _variant(design={"type": "replay", "mentions": ["at", "at", "name", "name"]},
                        schedule__weeks=4)
    weeks = sorted({(p.week, p.mention) for p in build_plan(scenario)})
    assert weeks == [(1, "at"), (2, "at"), (3, "name"), (4, "name")]


@pytest.mark.parametrize("count", [2, 3, 4, 5, 6, 7])
def test_categories_are_balanced_for_any_number_of_categories(count: int) -> None:
    categories = [{"id": f"c{i}", "label": f"C{i}", "templates": ["{{ mention }} hello"]}
                  for i in range(count)]
    plan = build_plan(_variant(categories=categories, schedule__weeks=4))
    for brand in {p.brand for p in plan}:
        counts = Counter(p.category for p in plan if p.brand == brand)
        assert len(counts) == count and max(counts.values()) - min(counts.values()) <= 1
        weekday = Counter((p.scheduled_at.weekday(), p.category) for p in plan
                          if p.brand == brand)
        assert max(weekday.values()) < 4, "a category stuck to a weekday every week"


def test_every_category_reaches_every_channel_and_personas_stay_within_one() -> None:
    channels = [{"id": ch, "adapter": "simulated", "platform": "x"} for ch in ("x", "y", "z")]
    personas = [{"id": p, "name": p, "accounts": {"x": f"@{p}", "y": f"@{p}", "z": f"@{p}"}}
                for p in ("ana", "ben", "cy")]
    scenario = load_scenario_text(SMALL, "s.yaml").model_dump()
    for brand in scenario["brands"]:
        brand["handles"] = {ch: brand["handles"]["x"] for ch in ("x", "y", "z")}
    scenario.update(channels=channels, personas=personas)
    scenario["schedule"]["messages_per_brand_per_day"] = 2
    scenario["categories"].append({"id": "third", "label": "T", "templates": ["{{ mention }}"]})
    scenario["categories"].append({"id": "fourth", "label": "F", "templates": ["{{ mention }}"]})
    plan = build_plan(Scenario.model_validate(scenario))
    for brand in {p.brand for p in plan}:
        mine = [p for p in plan if p.brand == brand]
        cells = Counter((p.category, p.channel) for p in mine)
        assert len(cells) == 4 * 3  # every category on every channel
        personas_count = Counter(p.persona for p in mine)
        assert max(personas_count.values()) - min(personas_count.values()) <= 1


def test_matchups_after_an_odd_sized_one_are_still_split() -> None:
    brands = load_scenario_text(SMALL, "s.yaml").model_dump()["brands"]
    extra = dict(brands[0], id="extra", name="Extra")
    for seed in range(30):
        scenario = _variant(brands=[*brands, extra], seed=seed,
                            matchups=[["fast", "slow", "extra"], ["mute", "bank"]])
        plan = build_plan(scenario)
        first_week = {p.brand: p.mention for p in plan if p.week == 1}
        assert first_week["mute"] != first_week["bank"], seed
        assert len({first_week[b] for b in ("fast", "slow", "extra")}) == 2
        assert sorted(Counter(first_week.values()).values()) == [2, 3]
