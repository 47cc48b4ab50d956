"""The balanced deal: persona against mention mode within each brand, personas rotating within
a day, a least gap between a brand's messages on one day, categories spread across matchup
partners; and the replay of 2013 left exactly as it was."""

from __future__ import annotations

import hashlib
import json
import math
import random
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import date, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from harness.plan.calendar import MIN_GAP, day_gap, send_time, send_times, send_window
from harness.plan.caveats import plan_warnings
from harness.plan.expand import build_plan
from harness.plan.probe import Probe
from harness.scenario.model import Scenario, resolved_matchups
from harness.session.scenarios import load_scenario, load_scenario_text

from .conftest import REPLAY, ROOT, SMALL

DATA = ROOT / "tests" / "data"
QA = ROOT / "scenarios" / "qa-acme-multichannel.yaml"


def variant(personas: int = 2, categories: int = 2, per_day: int = 1, brands: int = 4,
            matchups: list[list[str]] | None = None, **schedule: Any) -> Scenario:
    """The small counterbalanced scenario with ``personas`` personas (p0, p1...),
    ``categories`` categories (c0...), ``brands`` brands (b0...) and schedule changes."""
    data = load_scenario_text(SMALL, "small.yaml").model_dump()
    data["personas"] = [{"id": f"p{i}", "name": f"P{i}", "accounts": {"x": f"@p{i}"}}
                        for i in range(personas)]
    data["categories"] = [{"id": f"c{i}", "label": f"C{i}", "templates": ["{{ mention }} hi"]}
                          for i in range(categories)]
    data["brands"] = [dict(data["brands"][i % 4], id=f"b{i}", name=f"B{i}", hashtag=f"#b{i}")
                      for i in range(brands)]
    data["matchups"] = matchups if matchups is not None else [
        [f"b{i}", f"b{i + 1}"] for i in range(0, brands - 1, 2)]
    data["schedule"].update(messages_per_brand_per_day=per_day, **schedule)
    return Scenario.model_validate(data)


def by_brand(plan: list[Probe]) -> dict[str, list[Probe]]:
    mine: dict[str, list[Probe]] = defaultdict(list)
    for probe in plan:
        mine[probe.brand].append(probe)
    return mine


def by_day(probes: list[Probe]) -> dict[int, list[Probe]]:
    days: dict[int, list[Probe]] = defaultdict(list)
    for probe in probes:
        days[probe.day].append(probe)
    return days


def assert_persona_mode_balance(scenario: Scenario, plan: list[Probe]) -> None:
    """In each brand and mode, the personas' counts differ by at most one, and so do their
    totals (every brand here has the same personas on all its channels)."""
    personas = [p.id for p in scenario.personas]
    for brand, probes in by_brand(plan).items():
        for mode in {p.mention for p in probes}:
            counts = Counter(p.persona for p in probes if p.mention == mode)
            column = [counts.get(p, 0) for p in personas]
            assert max(column) - min(column) <= 1, (brand, mode, column)
        totals = Counter(p.persona for p in probes)
        assert max(totals.values()) - min(totals.get(p, 0) for p in personas) <= 1, brand


def assert_rotation(scenario: Scenario, plan: list[Probe]) -> None:
    """No persona sends a brand more messages on a day than it must."""
    personas = len(scenario.personas)
    for probes in by_brand(plan).values():
        for day in by_day(probes).values():
            most = max(Counter(p.persona for p in day).values())
            assert most == math.ceil(len(day) / personas), [p.probe_id for p in day]


def same_slot_clashes(plan: list[Probe], matchup: list[str]) -> int:
    """Day-and-message-number slots on which two brands of ``matchup`` ask one category."""
    slots: dict[tuple[int, str], list[str]] = defaultdict(list)
    for probe in plan:
        if probe.brand in matchup:
            slots[probe.day, probe.probe_id.rsplit("-", 1)[1]].append(probe.category)
    return sum(len(set(asked)) < len(asked) for asked in slots.values())


# -- the replay of 2013 is unchanged ---------------------------------------------------------


def test_the_2013_replay_plans_exactly_what_it_did_before() -> None:
    before = json.loads((DATA / "great-race-2013-plan.json").read_text(encoding="utf-8"))
    result = subprocess.run([sys.executable, "-m", "harness", "plan", str(REPLAY),
                             "--format", "json"], capture_output=True, text=True, check=True)
    now = json.loads(result.stdout)
    assert now["probes"] == before["probes"]
    for name in ("category", "persona", "mention"):
        assert now["balance"][name] == before["balance"][name]
    # and what the JSON does not show (follow-up texts), as digested before the change
    rows = [dict(p._asdict(), scheduled_at=p.scheduled_at.isoformat(),
                 follow_ups=[list(f) for f in p.follow_ups])
            for p in build_plan(load_scenario(REPLAY))]
    digest = hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()
    assert digest == "a9fc29fa1fdc12594f9ef23973822e615700eb8cba5cff3cb79d5cbf13109a3c"


# -- persona x mention mode within each brand ------------------------------------------------


def test_qa_acme_gives_every_persona_4_at_and_4_name_messages_per_brand() -> None:
    scenario = load_scenario(QA)
    plan = build_plan(scenario)
    for brand, probes in by_brand(plan).items():
        cells = Counter((p.persona, p.mention) for p in probes)
        assert cells == {(persona, mode): 4 for persona in ("jordan", "priya", "sam")
                         for mode in ("at", "name")}, brand
    assert_rotation(scenario, plan)
    assert plan_warnings(scenario) == []


@pytest.mark.parametrize(("personas", "per_day", "modes"), [
    (2, 1, ["at", "name"]), (3, 1, ["at", "name"]), (2, 2, ["at", "name"]),
    (3, 2, ["at", "name"]), (4, 3, ["at", "name", "hashtag"]), (5, 2, ["at", "name"]),
    (3, 4, ["hashtag", "at"]),
])
def test_persona_is_balanced_against_mode_and_rotated_within_a_day(
        personas: int, per_day: int, modes: list[str]) -> None:
    for seed in range(5):
        scenario = variant(personas=personas, categories=3, per_day=per_day, weeks=4)
        scenario = scenario.model_copy(update={"seed": seed, "design": scenario.design.model_copy(
            update={"mentions": modes})})
        plan = build_plan(scenario)
        assert_persona_mode_balance(scenario, plan)
        assert_rotation(scenario, plan)


def test_each_persona_splits_its_messages_evenly_between_at_and_name() -> None:
    # 5 weekdays x 2 weeks: 5 @ and 5 name per brand, 2 personas: 3 and 2, then 2 and 3
    plan = build_plan(variant(personas=2))
    for brand, probes in by_brand(plan).items():
        for persona in ("p0", "p1"):
            at = sum(p.persona == persona and p.mention == "at" for p in probes)
            name = sum(p.persona == persona and p.mention == "name" for p in probes)
            assert {at, name} == {2, 3}, (brand, persona)


def test_categories_stay_close_to_even_per_persona() -> None:
    scenario = variant(personas=3, categories=4, per_day=2, weeks=6)
    for probes in by_brand(build_plan(scenario)).values():
        for category in {p.category for p in probes}:
            counts = Counter(p.persona for p in probes if p.category == category)
            assert max(counts.values()) - min(counts.get(f"p{i}", 0) for i in range(3)) <= 1


def test_two_messages_a_day_never_come_from_one_persona_on_the_same_day() -> None:
    scenario = variant(personas=2, per_day=2)
    plan = build_plan(scenario)
    for probes in by_brand(plan).values():
        for day in by_day(probes).values():
            assert len(day) == 2 and day[0].persona != day[1].persona


def test_more_messages_a_day_than_personas_share_the_day_evenly() -> None:
    scenario = variant(personas=2, per_day=5)
    assert_rotation(scenario, build_plan(scenario))  # 3 and 2 each day


def test_one_persona_sends_everything_and_the_plan_says_so() -> None:
    scenario = variant(personas=1, per_day=2, brands=1, matchups=[])
    plan = build_plan(scenario)
    assert {p.persona for p in plan} == {"p0"} and len(plan) == 2 * 10
    [warning] = plan_warnings(scenario)
    assert warning == ("brand b0: one persona (p0) sends every message: persona cannot be "
                       "balanced against mention mode or rotated within a day")


def test_an_odd_number_of_messages_per_mode_is_warned_about() -> None:
    # one week of 5 days at 1 a day, then another: 5 per mode, 2 personas
    scenario = variant(personas=2)
    assert plan_warnings(scenario) == [
        "brands b0, b1, b2, b3: the messages of a mention mode cannot be shared equally by the "
        "2 personas (5 'at', 2 or 3 each; 5 'name', 2 or 3 each)"]
    assert plan_warnings(variant(personas=2, per_day=2)) == []  # 10 per mode: 5 and 5


def test_more_messages_a_day_than_personas_and_uneven_channels_are_warned_about() -> None:
    assert "brands b0, b1, b2, b3: 3 messages a day but 2 personas: some persona sends more " \
        "than one message to the brand on a day" in plan_warnings(variant(per_day=3, weeks=2))
    data = variant(personas=2, per_day=2).model_dump()
    data["channels"].append({"id": "mail", "adapter": "simulated", "platform": "email",
                             "brands": ["b0"], "personas": ["p0"]})
    data["personas"][0]["accounts"]["mail"] = "p0@example.com"
    data["brands"][0]["handles"]["mail"] = ["care@b0.example"]
    [warning] = plan_warnings(Scenario.model_validate(data))
    assert warning.startswith("brand b0: the channels have different personas (x: p0, p1; "
                              "mail: p0)")


def test_the_replay_warns_that_it_keeps_the_2013_deal() -> None:
    warnings = plan_warnings(load_scenario(REPLAY))
    assert len(warnings) == 2
    assert warnings[0].startswith("design: a replay with one message a day deals personas as "
                                  "earlier versions did")
    assert "may ask the same category on every day" in warnings[1]
    # a replay with several messages a day is dealt by the balanced rules
    scenario = variant(personas=2, per_day=2)
    replay = scenario.model_copy(update={"design": scenario.design.model_copy(
        update={"type": "replay"})})
    plan = build_plan(replay)
    assert_persona_mode_balance(replay, plan)
    assert_rotation(replay, plan)
    assert plan_warnings(replay) == []


# -- the least gap between a brand's messages on a day ---------------------------------------


def test_a_brands_messages_on_one_day_are_at_least_an_hour_apart() -> None:
    for scenario in (load_scenario(QA), variant(per_day=4, weeks=4)):
        for probes in by_brand(build_plan(scenario)).values():
            for day in by_day(probes).values():
                moments = sorted(p.scheduled_at for p in day)
                assert all(b - a >= MIN_GAP for a, b in pairwise(moments))


def test_the_gap_shrinks_in_a_short_window_and_the_plan_says_so() -> None:
    scenario = variant(per_day=5, send_window={"start": time(9), "end": time(11)})
    gap = timedelta(seconds=day_gap(2 * 3600, 5))
    assert gap == timedelta(minutes=15)  # the gaps take at most half the window
    for probes in by_brand(build_plan(scenario)).values():
        for day in by_day(probes).values():
            moments = sorted(p.scheduled_at for p in day)
            assert all(b - a >= gap for a, b in pairwise(moments))
    assert ("schedule: 5 messages to each brand a day in a 2h 00m send window: they are kept at "
            "least 15m 00s apart, not the usual 1h 00m") in plan_warnings(scenario)


def test_send_times_are_spaced_uniform_draws_and_one_is_the_old_draw() -> None:
    zone = ZoneInfo("Europe/London")
    window = send_window(date(2024, 3, 4), time(9), time(17), zone)
    assert send_times(random.Random(1), window, 1) == [send_time(random.Random(1), window)]
    rng = random.Random(2)
    firsts = []
    for _ in range(2000):
        moments = send_times(rng, window, 3)
        assert moments == sorted(moments)
        assert all(b - a >= MIN_GAP for a, b in pairwise(moments))
        assert time(9) <= moments[0].astimezone(zone).time()
        assert moments[-1].astimezone(zone).time() < time(17)
        firsts.append(moments[0].astimezone(zone).hour)
    assert min(firsts) == 9 and max(firsts) >= 13  # spread over the window, not bunched


def test_the_gap_holds_across_a_clock_change() -> None:
    zone = ZoneInfo("Europe/London")  # clocks go back at 02:00 on 27 October 2024
    window = send_window(date(2024, 10, 27), time(1, 30), time(3), zone)
    rng = random.Random(3)
    for _ in range(500):
        moments = send_times(rng, window, 2)
        assert moments[1] - moments[0] >= timedelta(seconds=day_gap(
            sum(length for _, length in window), 2))


# -- categories across matchup partners ------------------------------------------------------


@pytest.mark.parametrize("seed", range(12))
def test_three_partners_with_three_categories_never_ask_the_same_one_on_a_day(seed: int) -> None:
    scenario = variant(personas=2, categories=3, brands=3, matchups=[["b0", "b1", "b2"]])
    scenario = scenario.model_copy(update={"seed": seed})
    plan = build_plan(scenario)
    assert same_slot_clashes(plan, ["b0", "b1", "b2"]) == 0
    for probes in by_brand(plan).values():  # each brand still cycles through them all
        counts = Counter(p.category for p in probes)
        assert len(counts) == 3 and max(counts.values()) - min(counts.values()) <= 1


@pytest.mark.parametrize("seed", range(6))
def test_partners_days_do_not_overlap_when_a_days_worth_of_categories_fits(seed: int) -> None:
    # 2 partners x 2 messages a day <= 4 categories: each day's categories are disjoint
    scenario = variant(personas=2, categories=4, per_day=2).model_copy(update={"seed": seed})
    plan = build_plan(scenario)
    for matchup in resolved_matchups(scenario):
        days: dict[int, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        for probe in plan:
            if probe.brand in matchup:
                days[probe.day][probe.brand].add(probe.category)
        for asked in days.values():
            first, second = (asked[b] for b in matchup)
            assert not first & second


def test_more_partners_than_categories_is_warned_about() -> None:
    scenario = variant(categories=1, brands=2, per_day=2)
    plan = build_plan(scenario)
    assert {p.category for p in plan} == {"c0"}
    assert same_slot_clashes(plan, ["b0", "b1"]) == 10 * 2
    assert plan_warnings(scenario) == [
        "matchups[0] (b0 / b1): 2 brands but 1 category: on every day some of them ask the "
        "same category with the same message number"]


# -- the rules hold wherever no warning says otherwise ---------------------------------------


def test_without_a_warning_every_property_holds() -> None:
    rng = random.Random(2024)
    checked = 0
    for _ in range(60):
        brands = rng.randint(1, 6)
        ids = [f"b{i}" for i in range(brands)]
        rng.shuffle(ids)
        matchups = [ids[i:i + 3] for i in range(0, brands - 1, 3) if len(ids[i:i + 3]) > 1]
        scenario = variant(personas=rng.randint(1, 5), categories=rng.randint(1, 6),
                           per_day=rng.randint(1, 4), brands=brands, matchups=matchups,
                           weeks=rng.randint(1, 4),
                           weekdays=rng.sample(["mon", "tue", "wed", "thu", "fri", "sat"],
                                               rng.randint(1, 6)))
        scenario = scenario.model_copy(update={"seed": rng.randrange(10**6)})
        plan = build_plan(scenario)
        assert build_plan(scenario) == plan  # pure and seeded
        if any("shared equally" not in w for w in plan_warnings(scenario)):
            continue  # (counts that do not divide evenly still keep every rule below)
        checked += 1
        assert_persona_mode_balance(scenario, plan)
        assert_rotation(scenario, plan)
        for matchup in matchups:
            assert same_slot_clashes(plan, matchup) == 0
    assert checked >= 20
