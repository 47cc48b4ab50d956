"""The typed summary: what ``summary.json`` holds is exactly ``Summary.to_json()``, key order
included, and the records carry the numbers under their names."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from harness.analysis.figures import ChannelHealthEntry, RateFigure, Summary
from harness.analysis.outcomes import from_store
from harness.analysis.rates import Rate
from harness.analysis.summary import summarize
from harness.report.build import build_report
from harness.report.files import json_text
from harness.scenario.model import Scenario
from harness.session.scenarios import load_scenario_text
from harness.store.records import ChannelHealth, WriteBatch
from harness.store.sqlite import Store

from .conftest import SMALL
from .simrun import run_in_process

SINCE = datetime(2024, 3, 5, 10, 30, tzinfo=UTC)
HEALTH = [ChannelHealth("x", 4, SINCE, "HTTP 503", 6, SINCE),
          ChannelHealth("y", 0, None, None, 2, SINCE)]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Summary, Path]:
    """A small simulated race with two channels' health on record, its report built: the
    summary as the report saw it, and the report's folder."""
    scenario: Scenario = load_scenario_text(SMALL, "small.yaml")
    folder = tmp_path_factory.mktemp("typed") / "run"
    assert run_in_process(scenario, folder)
    store = Store.open(folder / "run.sqlite")
    try:
        store.write(WriteBatch(health={h.channel: h for h in HEALTH}))
        build_report(store, folder / "report")
        summary = summarize(from_store(store), scenario, store.channel_health().values(),
                            simulated=True)
    finally:
        store.close()
    return summary, folder / "report"


def test_summary_json_is_the_typed_summary_to_the_byte(run: tuple[Summary, Path]) -> None:
    summary, report = run
    written = (report / "summary.json").read_text(encoding="utf-8")
    assert written == json_text(summary.to_json())
    assert list(json.loads(written)) == [
        "summary_version", "simulated", "scenario", "headline", "leaderboard", "groups",
        "mention_effect", "time_to_reply", "engagement", "rules", "matchups",
        "business_hours", "channel_health", "brand_groups"]
    assert json.loads(written)["simulated"] is True
    assert json.loads(written)["summary_version"] == 2


def test_records_flatten_their_rate_as_before(run: tuple[Summary, Path]) -> None:
    summary, _ = run
    assert list(summary.leaderboard[0].to_json()) == [
        "brand", "name", "k", "n", "rate", "ci95", "median_among_replies_s", "replies_n",
        "answered_within_1h", "restricted_mean_s", "tier", "rank", "tied"]
    assert list(summary.matchups[0].contenders[0].to_json()) == [
        "brand", "k", "n", "rate", "ci95", "restricted_mean_s", "replies_n",
        "median_among_replies_s"]
    answered = summary.headline.answered
    assert answered.ci95 is not None
    assert summary.headline.to_json()["answered"] == {
        "k": answered.k, "n": answered.n, "rate": answered.rate, "ci95": list(answered.ci95)}
    assert RateFigure.of(Rate(0, 0)).to_json() == {"k": 0, "n": 0, "rate": None, "ci95": None}


def test_the_numbers_are_attributes(run: tuple[Summary, Path]) -> None:
    summary, _ = run
    head = summary.headline
    assert head.answered.n == head.sent == 40 and head.brands == 4
    assert head.answered.k == sum(e.answered.k for e in summary.leaderboard)
    assert head.answered_within_k["1h"] <= head.answered_within_k["window"] == head.answered.k
    assert summary.scenario.name == "small-race" and summary.scenario.seed == 7
    assert {e.name for e in summary.leaderboard} == {"Fast Co", "Slow Ltd", "Mute Inc",
                                                     "Bank Plc"}
    mute = next(e for e in summary.leaderboard if e.brand == "mute")
    assert (mute.answered.k, mute.median_among_replies_s, mute.tier) == (0, None, "no response")
    assert {g.group for g in summary.groups["mention"]} == {"at", "name"}
    assert sum(s.answered.n for s in summary.business_hours.values()) == 40
    effect = summary.mention_effect["at_vs_name"]
    assert effect.fisher.first.n + effect.fisher.second.n == 40
    assert sum(summary.engagement.distribution.values()) == 40
    assert summary.time_to_reply.overall.replies == head.answered.k
    assert summary.channel_health == (
        ChannelHealthEntry("x", True, 4, SINCE, "HTTP 503", 6),
        ChannelHealthEntry("y", False, 0, None, None, 2))
    assert summary.channel_health[0].to_json()["since"] == SINCE.isoformat()


def test_the_summary_is_frozen(run: tuple[Summary, Path]) -> None:
    with pytest.raises(AttributeError):
        run[0].headline.answered.k = 0  # type: ignore[misc]
    with pytest.raises(AttributeError):
        run[0].channel_health = ()  # type: ignore[misc]


def test_the_page_warns_of_a_degraded_channel(run: tuple[Summary, Path]) -> None:
    html = (run[1] / "report.html").read_text(encoding="utf-8")
    assert (f"<strong>Channel x is degraded:</strong> 4 failures in a row since "
            f"{SINCE.isoformat()} (last: HTTP 503)") in html
    assert "Channel y failed 2 times during the run and recovered" in html
