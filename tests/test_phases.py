"""Phases of a simulated profile: the YAML shape, the merge rule, when a phase is in force,
and the problems validation reports (file, line, column, field)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import jsonschema
import pytest
import yaml

from harness.channels.sim.behaviour import BrandBehaviour, Stimulus
from harness.errors import Problem, ScenarioError
from harness.scenario.model import (
    AutoAck,
    Brand,
    Latency,
    Scenario,
    SimulateProfile,
    scenario_hash,
    scenario_json,
)
from harness.scenario.phase_model import AutoAckChange, LatencyChange, Phase
from harness.scenario.phases import PhasedProfile, apply_phase, phase_start
from harness.scenario.schema import scenario_schema
from harness.session.scenarios import load_scenario_text

from .conftest import SMALL

PHASED = SMALL.replace("""\
      reply: {at: 0.9, name: 0.5}
      latency: {median: 10m, spread: 0.5}
""", """      reply: {at: 0.9, name: 0.5}
      latency: {median: 10m, spread: 0.5}
      phases:
        - from: 2024-03-11
          reply: {at: 0.2}
          latency: {median: 6h}
""")
assert PHASED != SMALL


def _problems(text: str) -> list[Problem]:
    with pytest.raises(ScenarioError) as caught:
        load_scenario_text(text, "phased.yaml")
    return caught.value.problems


def _line_of(text: str, needle: str, occurrence: int = 1) -> int:
    lines = text.splitlines()
    found = [number for number, line in enumerate(lines, start=1) if needle in line]
    return found[occurrence - 1]


def _brand(**simulate: object) -> Brand:
    return Brand.model_validate({
        "id": "b", "name": "B", "industry": "Retail",
        "business_hours": {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                       "open": "00:00", "close": "24:00"},
        "simulate": simulate,
    })


# -- the shape ---------------------------------------------------------------------------------


def test_the_phase_models_mirror_the_profile_field_for_field() -> None:
    # A field added to the profile and forgotten here could not be changed by a phase.
    assert set(Phase.model_fields) - {"start"} == set(SimulateProfile.model_fields) - {"phases"}
    assert set(LatencyChange.model_fields) == set(Latency.model_fields)
    assert set(AutoAckChange.model_fields) == set(AutoAck.model_fields)
    assert Phase.model_fields["start"].alias == "from"


def test_a_phased_scenario_loads_and_keeps_what_the_file_says() -> None:
    brand = load_scenario_text(PHASED, "phased.yaml").brands[0]
    (phase,) = brand.simulate.phases
    assert phase.start == date(2024, 3, 11) and not isinstance(phase.start, datetime)
    assert phase.reply == {"at": 0.2}
    assert phase.latency == LatencyChange(median=timedelta(hours=6))
    assert phase.category is None and phase.follow_up_reply is None  # inherited, not reset


def test_a_profile_without_phases_is_fingerprinted_as_before_phases_existed() -> None:
    scenario = load_scenario_text(SMALL, "small.yaml")
    assert '"phases"' not in scenario_json(scenario)
    with_empty = load_scenario_text(SMALL.replace(
        "      follow_up_reply: 1.0\n", "      follow_up_reply: 1.0\n      phases: []\n"),
        "small.yaml")
    assert with_empty.brands[0].simulate.phases == []
    assert scenario_hash(with_empty) == scenario_hash(scenario)


def test_phases_survive_the_json_the_store_keeps() -> None:
    text = PHASED.replace("""          latency: {median: 6h}
""", """          latency: {median: 6h}
        - {from: "2024-03-12T00:00:00+01:00", weekends: ignore}
        - {from: "2024-03-13T09:30", auto_ack: {after: 3m}}
""")
    scenario = load_scenario_text(text, "phased.yaml")
    assert [p.start for p in scenario.brands[0].simulate.phases][1:] == [
        datetime(2024, 3, 12, tzinfo=timezone(timedelta(hours=1))), datetime(2024, 3, 13, 9, 30)]
    again = Scenario.model_validate_json(scenario_json(scenario))
    assert again == scenario  # a date stays a date, an offset stays
    assert '"from":"2024-03-11"' in scenario_json(scenario)
    one = PhasedProfile(scenario.brands[0].simulate, "Europe/London")
    two = PhasedProfile(again.brands[0].simulate, "Europe/London")
    assert one.starts == two.starts and one.profiles == two.profiles
    assert scenario_hash(again) == scenario_hash(scenario)


def test_the_schema_describes_phases_and_refuses_what_the_loader_refuses() -> None:
    validator = jsonschema.Draft202012Validator(scenario_schema())
    # Editors see YAML dates as strings: the JSON round trip does the same.
    data = json.loads(json.dumps(yaml.safe_load(PHASED), default=str))
    assert list(validator.iter_errors(data)) == []
    phase = data["brands"][0]["simulate"]["phases"][0]
    for start in ("2024-03-11T09:30", "2024-03-11 09:30:00+01:00", "2024-03-11T09:30Z"):
        phase["from"] = start
        assert list(validator.iter_errors(data)) == [], start
        assert load_scenario_text(yaml.safe_dump(data), "phased.yaml")  # and so does the loader
    phase["from"] = "20240311"
    assert any("20240311" in e.message for e in validator.iter_errors(data))
    phase["from"] = "2024-03-11"
    phase["phases"] = []
    assert any("phases" in e.message for e in validator.iter_errors(data))


# -- the merge rule ----------------------------------------------------------------------------


def test_a_phase_changes_only_what_it_names_mappings_key_by_key() -> None:
    base = SimulateProfile.model_validate({
        "reply": {"at": 0.9, "name": 0.6}, "category": {"faq": 2.0, "urgent": 0.5},
        "latency": {"median": "20m", "spread": 0.4, "minimum": "1m"},
        "auto_ack": {"probability": 0.5, "after": "2m", "kind": "email"},
        "texts": ["one", "two"], "direct_message": 0.3,
    })
    phase = Phase.model_validate({
        "from": "2027-02-01", "reply": {"name": 0.2}, "category": {"faq": 1.0},
        "latency": {"median": "6h"}, "auto_ack": {"probability": 0.0}, "texts": ["three"],
        "weekends": "ignore",
    })
    changed = apply_phase(base, phase)
    assert changed.reply == {"at": 0.9, "name": 0.2}
    assert changed.category == {"faq": 1.0, "urgent": 0.5}
    assert changed.latency == Latency(median=timedelta(hours=6), spread=0.4,
                                  minimum=timedelta(minutes=1))
    assert changed.auto_ack == AutoAck(probability=0.0, after=timedelta(minutes=2), kind="email")
    assert changed.texts == ["three"]
    assert (changed.weekends, changed.direct_message, changed.off_hours) == ("ignore", 0.3,
                                                                      "answer")
    assert changed.phases == []
    assert base.reply == {"at": 0.9, "name": 0.6}  # the base is left as it was


def test_an_acknowledgement_a_phase_adds_starts_from_the_defaults() -> None:
    phase = Phase.model_validate({"from": "2027-02-01", "auto_ack": {"after": "5m"}})
    changed = apply_phase(SimulateProfile(), phase)
    assert changed.auto_ack == AutoAck(after=timedelta(minutes=5))


def test_phases_apply_to_the_base_not_to_the_phase_before() -> None:
    profile = SimulateProfile.model_validate({"reply": {"at": 0.9}, "phases": [
        {"from": "2027-02-01", "reply": {"at": 0.1}, "latency": {"median": "6h"}},
        {"from": "2027-03-01", "reply": {"at": 0.5}},
    ]})
    phased = PhasedProfile(profile, "UTC")
    assert [p.reply["at"] for p in phased.profiles] == [0.9, 0.1, 0.5]
    assert phased.profiles[2].latency.median == timedelta(hours=2)  # the base's, not 6h


# -- when a phase is in force ------------------------------------------------------------------


@pytest.mark.parametrize("start, zone, moment", [
    (date(2025, 3, 31), "Europe/London", datetime(2025, 3, 30, 23, 0, tzinfo=UTC)),  # BST
    (date(2025, 3, 3), "Europe/London", datetime(2025, 3, 3, 0, 0, tzinfo=UTC)),
    (date(2027, 2, 1), "America/New_York", datetime(2027, 2, 1, 5, 0, tzinfo=UTC)),
    (datetime(2027, 2, 1, 9, 30), "America/New_York", datetime(2027, 2, 1, 14, 30, tzinfo=UTC)),
    (datetime(2027, 2, 1, 9, 30, tzinfo=UTC), "America/New_York",
     datetime(2027, 2, 1, 9, 30, tzinfo=UTC)),
    # 02:30 does not exist on 2025-03-09 in New York: the phase starts when clocks change.
    (datetime(2025, 3, 9, 2, 30), "America/New_York", datetime(2025, 3, 9, 7, 0, tzinfo=UTC)),
])
def test_a_phase_starts_in_the_brand_time_zone(start: date, zone: str,
                                           moment: datetime) -> None:
    assert phase_start(start, zone) == moment


def test_the_phase_in_force_is_the_one_the_send_time_falls_in() -> None:
    profile = SimulateProfile.model_validate({"reply": {"at": 0.9}, "phases": [
        {"from": "2027-02-01", "reply": {"at": 0.1}},
        {"from": "2027-03-01T12:00", "reply": {"at": 0.5}},
    ]})
    phased = PhasedProfile(profile, "UTC")
    slip, recovery = datetime(2027, 2, 1, tzinfo=UTC), datetime(2027, 3, 1, 12, tzinfo=UTC)
    second = timedelta(seconds=1)
    assert phased.at(slip - second).reply["at"] == 0.9
    assert phased.at(slip).reply["at"] == 0.1  # from its date on, inclusive
    assert phased.at(recovery - second).reply["at"] == 0.1
    assert phased.at(recovery).reply["at"] == 0.5
    assert phased.at(datetime(2030, 1, 1, tzinfo=UTC)).reply["at"] == 0.5
    assert PhasedProfile(SimulateProfile(), "UTC").index(slip) == 0


def test_a_reply_to_a_message_sent_before_the_slip_follows_the_old_profile() -> None:
    brand = _brand(reply={"at": 1.0}, latency={"median": "20m", "spread": 0.0},
               follow_up_reply=1.0,
               phases=[{"from": "2027-02-01", "latency": {"median": "6h"},
                        "follow_up_reply": 0.0}])
    behaviour = BrandBehaviour(brand, "UTC", seed=1)
    slip = datetime(2027, 2, 1, tzinfo=UTC)
    before = behaviour.react(Stimulus("p1", 0, "at", "faq", "Ana", slip - timedelta(minutes=5)))
    after = behaviour.react(Stimulus("p2", 0, "at", "faq", "Ana", slip + timedelta(minutes=5)))
    # Answered after the slip began, but at the old pace: 20 minutes, not 6 hours.
    assert [r.created_at for r in before] == [slip + timedelta(minutes=15)]
    assert [r.created_at for r in after] == [slip + timedelta(hours=6, minutes=5)]
    # A follow-up is a message of its own: the phase in force when it was sent decides.
    follow_before = Stimulus("p1", 1, "at", "faq", "Ana", slip - timedelta(minutes=1))
    follow_after = Stimulus("p1", 1, "at", "faq", "Ana", slip + timedelta(minutes=1))
    assert len(behaviour.react(follow_before)) == 1
    assert behaviour.react(follow_after) == []


def test_a_phase_that_changes_nothing_changes_no_reaction() -> None:
    plain = _brand(reply={"at": 0.5}, latency={"median": "1h"}, direct_message=0.5,
               auto_ack={"probability": 0.5})
    empty = plain.model_copy(update={"simulate": plain.simulate.model_copy(update={
        "phases": [Phase.model_validate({"from": "2027-02-01"})]})})
    when = datetime(2027, 1, 25, tzinfo=UTC)
    messages = [Stimulus(f"p{i}", 0, "at", "faq", "Ana", when + timedelta(hours=7 * i))
            for i in range(60)]
    one, two = BrandBehaviour(plain, "UTC", 3), BrandBehaviour(empty, "UTC", 3)
    reactions = [one.react(m) for m in messages]
    assert reactions == [two.react(m) for m in messages]
    assert 10 < sum(bool(r) for r in reactions) < 60  # the draws did vary


# -- validation --------------------------------------------------------------------------------


OUT_OF_ORDER = PHASED.replace("""          latency: {median: 6h}
""", """          latency: {median: 6h}
        - from: 2024-03-07
          reply: {at: 0.5}
        - from: "2024-03-07T00:00"
          reply: {at: 0.7}
""")


def test_out_of_order_phases_are_refused_at_their_from() -> None:
    problems = _problems(OUT_OF_ORDER)
    assert [(p.path, p.line) for p in problems] == [
        ("brands[0].simulate.phases[1].from", _line_of(OUT_OF_ORDER, "from: 2024-03-07")),
        ("brands[0].simulate.phases[2].from", _line_of(OUT_OF_ORDER, 'from: "2024-03-07T00')),
    ]
    assert problems[0].file == "phased.yaml"
    assert problems[0].column == _line_text(OUT_OF_ORDER, problems[0].line).index("2024") + 1
    assert "increasing date order" in problems[0].message
    assert "2024-03-07, not after phases[0] (2024-03-11)" in problems[0].message
    # The same moment twice is not increasing either.
    assert "not after phases[1] (2024-03-07)" in problems[1].message


def _line_text(text: str, line: int) -> str:
    return text.splitlines()[line - 1]


def test_order_is_judged_in_the_brand_time_zone() -> None:
    # 01:00 in London on 2024-03-11 is 2024-03-11T01:00Z; "2024-03-11T00:30Z" comes first.
    text = PHASED.replace("""          latency: {median: 6h}
""", """          latency: {median: 6h}
        - from: "2024-03-11T00:30:00+00:00"
""").replace("- from: 2024-03-11\n", '- from: "2024-03-11T01:00"\n')
    (problem,) = _problems(text)
    assert problem.path == "brands[0].simulate.phases[1].from"
    assert load_scenario_text(text.replace("T00:30:00+00:00", "T01:30:00+00:00"), "ok.yaml")


def test_a_phase_with_phases_of_its_own_is_refused_at_the_key() -> None:
    text = PHASED.replace("""          latency: {median: 6h}
""", """          latency: {median: 6h}
          phases:
        - {from: 2024-03-12, reply: {at: 0.1}}
""")
    (problem,) = _problems(text)
    assert problem.path == "brands[0].simulate.phases[0].phases"
    assert problem.message.startswith("a phase cannot have phases of its own")
    assert (problem.line, problem.column) == (_line_of(text, "phases:", 2), 11)


@pytest.mark.parametrize("old, new, path, message", [
    ("reply: {at: 0.2}", "reply: {at: 0.2}\n          colour: red",
     "brands[0].simulate.phases[0].colour", "unknown key 'colour' (expected one of: from,"),
    ("reply: {at: 0.2}", "reply: {at: 0.2}\n          weekend: ignore",
     "brands[0].simulate.phases[0].weekend", "did you mean 'weekends'?"),
    ("latency: {median: 6h}", "latency: {medain: 6h}",
     "brands[0].simulate.phases[0].latency.medain", "did you mean 'median'?"),
    ("- from: 2024-03-11", "- form: 2024-03-11",
     "brands[0].simulate.phases[0].form", "did you mean 'from'?"),
    ("reply: {at: 0.2}", "reply: {at: 1.2}",
     "brands[0].simulate.phases[0].reply.at", "less than or equal to 1"),
    ("latency: {median: 6h}", "latency: {median: 6h}\n          category: {technicl: 2}",
     "brands[0].simulate.phases[0].category.technicl", "did you mean 'technical'?"),
    ("- from: 2024-03-11", "- from: next tuesday",
     "brands[0].simulate.phases[0].from", "next tuesday"),
    ("- from: 2024-03-11", "- from: '20240311'",  # ISO basic form: the schema refuses it too
     "brands[0].simulate.phases[0].from", "expected a date like 2027-02-01"),
    ("- from: 2024-03-11", "- from: 2024-02-30",
     "brands[0].simulate.phases[0].from", "2024-02-30"),
])
def test_a_bad_phase_is_reported_where_it_is(old: str, new: str, path: str,
                                         message: str) -> None:
    text = PHASED.replace(old, new, 1)
    assert text != PHASED
    problems = _problems(text)
    assert [p.path for p in problems] == [path], problems
    assert message in problems[0].message


def _validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", "validate", str(path)],
                      capture_output=True, text=True, timeout=120, cwd=path.parent)


def test_shopper_validate_names_file_line_column_and_field(tmp_path: Path) -> None:
    path = tmp_path / "phased.yaml"
    nested = OUT_OF_ORDER.replace("""          reply: {at: 0.5}
""", """          reply: {at: 0.5}
          phases: []
""")
    path.write_text(nested, encoding="utf-8")
    result = _validate(path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{path}:{_line_of(nested, 'phases: []')}:11: brands[0].simulate.phases[1].phases: "
        "a phase cannot have phases of its own: list every phase, in date order, under the "
        "profile's `phases:`",
        f"{path}: 1 problem"]
    # Once every phase has the right shape, their order is checked.
    path.write_text(OUT_OF_ORDER, encoding="utf-8")
    result = _validate(path)
    assert result.returncode == 2
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"{path}:{_line_of(OUT_OF_ORDER, 'from: 2024-03-07')}:17: "
                        "brands[0].simulate.phases[1].from: phases must be in increasing "
                        "date order")
