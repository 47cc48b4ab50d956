"""The summary of a simulated 2013 replay: every rate with k and n, shares labelled."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from scipy.stats import fisher_exact

from harness.analysis.outcomes import from_store
from harness.analysis.summary import summarize
from harness.session.scenarios import load_scenario
from harness.store.sqlite import Store

from .conftest import REPLAY
from .simrun import run_in_process


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    scenario = load_scenario(REPLAY)
    folder: Path = tmp_path_factory.mktemp("replay")
    run_in_process(scenario, folder)
    store = Store.open(folder / "run.sqlite")
    try:
        result = summarize(from_store(store), scenario)
    finally:
        store.close()
    data: dict[str, Any] = json.loads(json.dumps(result.to_json()))  # it is plain data
    return data


def _is_rate(record: dict[str, Any]) -> bool:
    return {"k", "n", "rate", "ci95"} <= set(record) and 0 <= record["k"] <= record["n"]


def test_headline_has_its_denominator(summary: dict[str, Any]) -> None:
    head = summary["headline"]
    assert head["sent"] == 280 and head["brands"] == 14 and head["personas"] == 4
    assert _is_rate(head["answered"]) and head["answered"]["n"] == 280
    assert head["answered"]["k"] == sum(row["k"] for row in summary["leaderboard"])
    within = head["answered_within"]
    assert within["1h"] <= within["24h"] <= within["window"]
    assert within["window"] == pytest.approx(head["answered"]["rate"])


def test_every_brand_is_ranked_with_k_of_20_and_a_tier(summary: dict[str, Any]) -> None:
    board = summary["leaderboard"]
    assert len(board) == 14 and all(_is_rate(row) and row["n"] == 20 for row in board)
    rates = [row["rate"] for row in board]
    assert rates == sorted(rates, reverse=True)
    tiers = {row["name"]: row["tier"] for row in board}
    assert tiers["Starbucks"] == tiers["Visa"] == tiers["Apple"] == "no response"
    # a tier needs 5 replies: HP's 4 and Pepsi's 2 say too little
    assert tiers["Bank of America"] == tiers["The Home Depot"] == "fast responders"
    assert tiers["Wells Fargo"] == "fast responders"
    assert tiers["Pepsi"] == tiers["HP"] == "too few replies to tell"
    # brands with the same k of 20 share a rank, listed by id (as on the chart)
    ranks = [(row["brand"], row["rank"], row["tied"]) for row in board]
    assert ranks[:3] == [("bankofamerica", 1, True), ("homedepot", 1, True),
                         ("wellsfargo", 3, False)]
    assert ranks[5:10] == [("colgate", 6, True), ("gillette", 6, True), ("mastercard", 6, True),
                           ("mcdonalds", 6, True), ("pepsi", 6, True)]
    assert [r for r in ranks if r[0] in ("apple", "starbucks", "visa", "walmart")] == [
        ("apple", 11, True), ("starbucks", 11, True), ("visa", 11, True),
        ("walmart", 11, True)]


def test_category_shares_of_replies_are_labelled_and_add_up(summary: dict[str, Any]) -> None:
    categories = summary["groups"]["category"]
    assert all(_is_rate(row) and row["n"] == 56 for row in categories)
    assert sum(row["share_of_replies"] for row in categories) == pytest.approx(1.0)
    # the 2013 write-up's mistake: shares of replies are not response rates
    assert sum(row["rate"] for row in categories) < 1.0


def test_the_at_effect_is_tested_overall_and_by_brand(summary: dict[str, Any]) -> None:
    effect = summary["mention_effect"]["at_vs_name"]
    assert effect["fisher"]["first"]["n"] == 140 and effect["fisher"]["second"]["n"] == 140
    assert effect["fisher"]["p_value"] < 0.001
    assert effect["by_brand"]["test"] == "Mantel-Haenszel"
    assert effect["by_brand"]["p_value"] < 0.001


def test_matchups_engagement_and_hours(summary: dict[str, Any]) -> None:
    matchups = summary["matchups"]
    close, few = "too close to call", "too few replies to compare speed"
    # (brands, their k of 20) -> (more replies, faster among replies): with 20 messages a
    # brand and seven matchups tested together, no rate difference here is clear (Home Depot's
    # 7/20 against Walmart's 0/20 has p = 0.008 alone, 0.058 after Holm's correction), and only
    # Wells Fargo and Bank of America both have the 5 replies a speed comparison needs
    assert {tuple(m["brands"]): ({c["brand"]: c["k"] for c in m["contenders"]},
                                 m["rate_verdict"], m["time_verdict"]) for m in matchups} == {
        ("mcdonalds", "starbucks"): ({"mcdonalds": 2, "starbucks": 0}, close, few),
        ("cocacola", "pepsi"): ({"cocacola": 3, "pepsi": 2}, close, few),
        ("visa", "mastercard"): ({"visa": 0, "mastercard": 2}, close, few),
        ("wellsfargo", "bankofamerica"): ({"wellsfargo": 5, "bankofamerica": 7}, close,
                                          close),
        ("walmart", "homedepot"): ({"walmart": 0, "homedepot": 7}, close, few),
        ("apple", "hp"): ({"apple": 0, "hp": 4}, close, few),
        ("gillette", "colgate"): ({"gillette": 2, "colgate": 2}, close, few),
    }
    assert all(c["n"] == 20 for m in matchups for c in m["contenders"])
    by_leader = {m["leader"]: m for m in matchups}
    home_depot = by_leader["homedepot"]
    assert home_depot["rate_p_value"] == pytest.approx(fisher_exact([[7, 13], [0, 20]])[1])
    raw = [m["rate_p_value"] for m in matchups]
    assert home_depot["rate_p_adjusted"] == pytest.approx(
        min(1.0, len(raw) * min(raw)))  # the smallest p, times the family's size
    assert home_depot["difference"] == pytest.approx(0.35)
    low, high = home_depot["difference_ci95"]
    assert 0 < low < 0.35 < high < 1
    assert home_depot["rate_p_adjusted"] > 0.05 and home_depot["rate_verdict"] == close
    bank = by_leader["bankofamerica"]
    assert bank["rate_p_value"] == pytest.approx(fisher_exact([[7, 13], [5, 15]])[1])
    assert bank["faster"] == "bankofamerica" and bank["speed_p_value"] > 0.05
    assert summary["rules"]["alpha"] == 0.05 and summary["rules"]["min_replies"] == 5
    assert sum(summary["engagement"]["distribution"].values()) == 280
    hours = summary["business_hours"]
    assert sum(side["n"] for side in hours.values()) == 280
