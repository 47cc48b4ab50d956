"""The report at the edges of what a run can produce: nothing sent, nothing answered, everything
answered, one brand, one probe, only late replies, only auto-acknowledgements, only bystanders,
a failed channel. Every report builds, and every JSON file it writes is strict JSON (RFC 8259:
no NaN, no Infinity)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.analysis.comparisons import fisher
from harness.analysis.rates import Rate, wilson
from harness.channels.base import OutgoingMessage, PollResult, SentPost
from harness.channels.simulated import SimulatedChannel
from harness.errors import AccessDenied
from harness.report.build import build_report
from harness.session.runs import simulate
from harness.session.scenarios import load_scenario_text
from harness.store.sqlite import Store

from .simrun import run_in_process


def strict_json(path: Path) -> Any:
    """``path`` parsed as RFC 8259 JSON: NaN and Infinity are refused, as other tools do."""

    def refuse(constant: str) -> None:
        raise AssertionError(f"{path.name} holds {constant}, which is not JSON")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)


def scenario_text(*, brands: int = 2, days: int = 2, profile: str = "",
                  mentions: str = "[at, name]", window: str = "1d") -> str:
    brand_list = "".join(
        f"  - id: b{i}\n    name: Brand {i}\n    industry: Retail\n"
        f'    handles: {{x: ["@Brand{i}"]}}\n' + (f"    {profile}" if profile else "")
        for i in range(brands))
    weekdays = ["mon", "tue", "wed", "thu", "fri"][:days]
    design = "counterbalanced" if "," in mentions else "replay"  # one mode: nothing to balance
    return textwrap.dedent(f"""\
        name: edges
        seed: 3
        timezone: UTC
        personas:
          - {{id: ana, name: Ana, accounts: {{x: "@ana"}}}}
        channels:
          - {{id: x, adapter: simulated, platform: x, poll_every: 5m}}
        categories:
          - {{id: question, label: Question, templates: ["{{{{ mention }}}} open on Sunday?"]}}
        schedule:
          start: 2024-03-04
          weeks: 1
          weekdays: {json.dumps(weekdays)}
          send_window: {{start: "09:00", end: "17:00"}}
          observation_window: {window}
        design: {{type: {design}, mentions: {mentions}}}
        brands:
        """) + brand_list


class Refused(SimulatedChannel):
    """A channel whose every post the platform refuses for good."""

    def send(self, message: OutgoingMessage) -> SentPost:
        raise AccessDenied("the platform refuses this account's posts")


class Crowd(SimulatedChannel):
    """A channel where every reply in a thread is a bystander's, never the brand's."""

    def poll(self, cursor: str | None) -> PollResult:
        result = super().poll(cursor)
        return result._replace(replies=[reply._replace(author="@a_bystander")
                                        for reply in result.replies])


def report_of(text: str, folder: Path, *, adapter: type[SimulatedChannel] = SimulatedChannel,
              send_nothing: bool = False) -> tuple[dict[str, Any], str]:
    """Run ``text`` and build its report: (summary.json, report.html), every JSON checked."""
    scenario = load_scenario_text(text, "edges.yaml")
    if send_nothing:  # stopped before its first pass: planned, nothing sent
        simulate(scenario, folder, adapter=adapter,
                 on_runner=lambda runner: setattr(runner, "stop_requested", True))
    else:
        run_in_process(scenario, folder, adapter=adapter)
    store = Store.open(folder / "run.sqlite")
    try:
        files = build_report(store, folder / "report")
    finally:
        store.close()
    for path in folder.rglob("*.json"):
        strict_json(path)
    assert files.poster.stat().st_size > 1000
    return strict_json(files.summary), files.html.read_text(encoding="utf-8")


SILENT = "simulate: {reply: {at: 0.0, name: 0.0}}\n"
ALWAYS = "simulate: {reply: {at: 1.0, name: 1.0}, latency: {median: 10m, spread: 0.3}}\n"
LATE = "simulate: {reply: {at: 1.0, name: 1.0}, latency: {median: 5d, spread: 0.1}}\n"
AUTO_ONLY = "simulate: {reply: {at: 0.0, name: 0.0}, auto_ack: {probability: 1.0, after: 1m}}\n"


def test_a_run_that_sent_nothing_still_has_a_report(tmp_path: Path) -> None:
    summary, html = report_of(scenario_text(), tmp_path / "run", send_nothing=True)
    assert summary["headline"]["sent"] == 0
    assert summary["headline"]["answered"] == {"k": 0, "n": 0, "rate": None, "ci95": None}
    assert "0/0" in html


@pytest.mark.slow
def test_nothing_answered_gives_exact_zero_lower_bounds(tmp_path: Path) -> None:
    summary, html = report_of(scenario_text(profile=SILENT, days=5), tmp_path / "run")
    answered = summary["headline"]["answered"]
    assert (answered["k"], answered["ci95"][0]) == (0, 0.0)
    for row in summary["leaderboard"]:
        assert row["ci95"][0] == 0.0 and row["k"] == 0
    fisher_at = summary["mention_effect"]["at_vs_name"]["fisher"]
    assert fisher_at["odds_ratio"] is None and fisher_at["odds_ratio_undefined"]
    assert "odds ratio undefined" in html


@pytest.mark.slow
def test_everything_answered_gives_exact_upper_bounds_of_one(tmp_path: Path) -> None:
    summary, _ = report_of(scenario_text(profile=ALWAYS, days=5), tmp_path / "run")
    for row in summary["leaderboard"]:
        assert row["k"] == row["n"] and row["ci95"][1] == 1.0


@pytest.mark.slow
def test_one_brand_and_one_probe(tmp_path: Path) -> None:
    summary, html = report_of(scenario_text(brands=1, days=1, profile=ALWAYS,
                                            mentions="[at]"), tmp_path / "run")
    assert summary["headline"]["sent"] == 1
    assert [(r["k"], r["n"]) for r in summary["leaderboard"]] == [(1, 1)]
    assert "1/1" in html


@pytest.mark.slow
def test_only_late_replies_count_as_unanswered(tmp_path: Path) -> None:
    summary, _ = report_of(scenario_text(profile=LATE, days=3), tmp_path / "run")
    assert summary["headline"]["answered"]["k"] == 0
    assert summary["headline"]["sent"] == 6


@pytest.mark.slow
def test_only_auto_acknowledgements_count_as_unanswered(tmp_path: Path) -> None:
    summary, _ = report_of(scenario_text(profile=AUTO_ONLY, days=3), tmp_path / "run")
    assert summary["headline"]["answered"]["k"] == 0


@pytest.mark.slow
def test_only_bystanders_count_as_unanswered(tmp_path: Path) -> None:
    summary, _ = report_of(scenario_text(profile=ALWAYS, days=3), tmp_path / "run",
                           adapter=Crowd)
    assert summary["headline"]["answered"]["k"] == 0
    store = Store.open(tmp_path / "run" / "run.sqlite")
    try:
        replies = store.replies()
    finally:
        store.close()
    assert len(replies) == 6, "every bystander's reply is kept"
    assert {(r.author, r.from_brand) for r in replies} == {("@a_bystander", False)}


def test_a_channel_that_refuses_every_post(tmp_path: Path) -> None:
    summary, _ = report_of(scenario_text(profile=ALWAYS, days=2), tmp_path / "run",
                           adapter=Refused)
    assert summary["headline"]["sent"] == 0 and summary["headline"]["planned"] == 4


@pytest.mark.parametrize("n", [1, 2, 20, 140, 10_000])
def test_wilson_is_exact_at_zero_and_n(n: int) -> None:
    assert wilson(0, n) is not None and wilson(0, n)[0] == 0.0  # type: ignore[index]
    assert wilson(n, n) is not None and wilson(n, n)[1] == 1.0  # type: ignore[index]
    for k in range(0, n + 1, max(1, n // 7)):
        low, high = wilson(k, n)  # type: ignore[misc]
        assert 0.0 <= low <= k / n <= high <= 1.0


@pytest.mark.parametrize(("first", "second", "odds"), [
    (Rate(3, 10), Rate(0, 10), None),   # infinite: the second side never answered
    (Rate(0, 10), Rate(3, 10), 0.0),    # zero is a value, not a missing one
    (Rate(0, 10), Rate(0, 10), None),   # nobody answered: no ratio at all
    (Rate(10, 10), Rate(10, 10), None),
])
def test_odds_ratios_at_zero_cells_are_values_or_null_with_a_reason(
        first: Rate, second: Rate, odds: float | None) -> None:
    comparison = fisher(first, second)
    assert comparison.odds_ratio == odds
    assert (comparison.odds_ratio_undefined is None) == (odds is not None)


PROFILES = st.builds(
    lambda at, name, median, auto: (
        f"simulate: {{reply: {{at: {at}, name: {name}}}, latency: {{median: {median}}}"
        + (", auto_ack: {probability: 1.0, after: 1m}" if auto else "") + "}\n"),
    st.sampled_from([0.0, 0.5, 1.0]), st.sampled_from([0.0, 0.5, 1.0]),
    st.sampled_from(["1m", "3h", "2d"]), st.booleans())


@pytest.mark.slow
@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(brands=st.integers(1, 3), days=st.integers(1, 3), profile=PROFILES,
       mentions=st.sampled_from(["[at]", "[at, name]", "[name]"]))
def test_every_outcome_gives_a_report_and_strict_json(
        tmp_path_factory: pytest.TempPathFactory, brands: int, days: int, profile: str,
        mentions: str) -> None:
    folder = tmp_path_factory.mktemp("generated") / "run"
    summary, _ = report_of(scenario_text(brands=brands, days=days, profile=profile,
                                         mentions=mentions), folder)
    assert summary["headline"]["sent"] == brands * days
