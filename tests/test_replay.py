"""The 2013 replay is faithful to what was published: over 200 seeds the scenario's own
profiles put every published figure inside the simulation's 95% range; and the quick model
`shopper race --replicates` uses is, probe for probe, what the real runner records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.analysis.replay import distribution
from harness.cli import main
from harness.errors import ScenarioError
from harness.plan.expand import build_plan
from harness.session.replicates import model_outcomes, replicate, runner_outcomes
from harness.session.scenarios import load_scenario, load_scenario_text
from tests.conftest import ROOT

REPLAY = ROOT / "scenarios" / "great-race-2013.yaml"


@pytest.mark.parametrize("seed", [3, 77, 2013])
def test_the_quick_model_is_what_the_runner_records(seed: int) -> None:
    scenario = load_scenario(REPLAY, seed=seed)
    quick = model_outcomes(scenario, build_plan(scenario))
    real = runner_outcomes(scenario)
    assert [(o.probe.probe_id, o.sent_at, o.responded, o.latency_s, o.first_reply_kind,
             o.direct_message, o.email) for o in quick] == [
        (o.probe.probe_id, o.sent_at, o.responded, o.latency_s, o.first_reply_kind,
         o.direct_message, o.email) for o in real]
    assert sum(o.responded for o in real) > 20


def test_every_published_figure_falls_inside_the_replays_range() -> None:
    """Seeds the profiles were not tuned on (they were set on seeds 1-200)."""
    scenario = load_scenario(REPLAY)
    result = replicate(scenario, range(31_000, 31_200))
    assert len(result.checks) == 20  # every figure the scenario lists as published
    outside = [(c.name, c.published, c.spread.low, c.spread.high) for c in result.checks
               if not c.inside]
    assert outside == []
    # the figures the old profiles missed: Coca-Cola ahead of Pepsi, Home Depot's hour
    by_name = {c.name: c for c in result.checks}
    assert (by_name["difference:cocacola vs pepsi"].spread.median or 0) > 0
    assert by_name["replies:walmart"].spread.high == 0  # silent, as published


def test_a_figure_outside_its_range_is_reported_and_fails_the_command(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = REPLAY.read_text(encoding="utf-8").replace("    answered: 40\n",
                                                       "    answered: 200\n")
    scenario_file = tmp_path / "too-good.yaml"
    scenario_file.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["race", str(scenario_file), "--replicates", "20", "--out", str(out),
                 "-q"]) == 1
    printed = capsys.readouterr().out
    assert "SIMULATED" in printed and "OUTSIDE" in printed
    data = json.loads((out / "replicates.json").read_text(encoding="utf-8"))
    assert data["simulated"] is True and data["seeds"] == [2013, 2032]
    answered = next(row for row in data["published"] if row["figure"] == "answered")
    assert answered == {**answered, "published": 200, "inside": False}
    assert set(data["rate_verdicts"]) == {"mcdonalds vs starbucks", "cocacola vs pepsi",
                                          "visa vs mastercard", "wellsfargo vs bankofamerica",
                                          "walmart vs homedepot", "apple vs hp",
                                          "gillette vs colgate"}
    assert all(sum(counts.values()) == 20 for counts in data["rate_verdicts"].values())


def test_replicates_is_refused_when_it_is_not_a_count(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["race", str(REPLAY), "--replicates", "0"])
    assert exited.value.code == 2
    assert "--replicates is between 1 and 1,000,000" in capsys.readouterr().err


def test_published_figures_must_name_brands_and_categories_the_scenario_has() -> None:
    text = REPLAY.read_text(encoding="utf-8").replace("mcdonalds: 2, starbucks: 0",
                                                       "mcdonald: 2, starbucks: 0")
    text = text.replace('"cocacola vs pepsi": 3', '"cocacola-pepsi": 3')
    with pytest.raises(ScenarioError) as raised:
        load_scenario_text(text, "replay.yaml")
    said = str(raised.value)
    assert "report.published.replies.mcdonald: undefined brand 'mcdonald' (did you mean " \
           "'mcdonalds'?)" in said
    assert "report.published.differences.cocacola-pepsi: name two brands: 'first vs second'" \
           in said
    assert said.count("replay.yaml:") == 2


def test_the_ranges_are_nearest_rank_percentiles() -> None:
    runs = [{"x": float(v), "y": None if v % 2 else float(v)} for v in range(1, 41)]
    spreads = distribution(runs)
    assert (spreads["x"].low, spreads["x"].median, spreads["x"].high) == (2.0, 20.5, 39.0)
    assert spreads["y"].runs == 20 and spreads["y"].low == 2.0
    assert distribution([{"z": None}])["z"].median is None


def _shared_profiles() -> str:
    """The replay with both brands of each matchup following one profile: chatty enough that
    speed is compared too (about 10 replies each)."""
    import yaml

    data = yaml.safe_load(REPLAY.read_text(encoding="utf-8"))
    profile = {"reply": {"at": 0.7, "name": 0.3}, "latency": {"median": "40m", "spread": 1.0}}
    for brand in data["brands"]:
        brand["simulate"] = profile
    del data["report"]
    return yaml.safe_dump(data, sort_keys=False)


def test_brands_that_do_not_differ_get_a_winner_in_at_most_five_percent_of_studies() -> None:
    scenario = load_scenario_text(_shared_profiles(), "shared.yaml")
    seeds = 300
    result = replicate(scenario, range(50_000, 50_000 + seeds))
    for verdicts, ties in ((result.verdicts, "too close to call"),
                           (result.speed_verdicts, "too close to call")):
        named = sum(n for counts in verdicts.values() for v, n in counts.items() if v != ties)
        judged = sum(sum(counts.values()) for counts in verdicts.values())
        assert judged == 7 * seeds
        # at most 5% of matchups (Holm keeps even the chance of any winner in a study there)
        assert named / judged <= 0.05 + 3 * (0.05 * 0.95 / judged) ** 0.5, verdicts
    compared = sum(n for counts in result.speed_verdicts.values() for v, n in counts.items()
                   if v != "too few replies to compare speed")
    assert compared > 0.9 * 7 * seeds  # speed was really tested, not skipped
