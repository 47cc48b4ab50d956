"""``summary.json``'s ``brand_groups``: every brand x category and brand x channel, with k/n, the
Wilson interval, the median among replies, the reply curve's figures and the engagement
levels, including the cells nobody was asked (n = 0) and those answered 0 of n and n of n."""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from harness.analysis.brand_groups import brand_groups
from harness.analysis.engagement import distribution, thresholds_of, tier
from harness.analysis.figures import BrandGroupEntry, Summary
from harness.analysis.leaderboard import GroupResult
from harness.analysis.outcomes import Outcome, from_store
from harness.analysis.rates import Rate, wilson
from harness.analysis.summary import summarize
from harness.analysis.survival import reply_curve
from harness.plan.probe import Probe
from harness.report.files import json_text
from harness.scenario.model import Scenario
from harness.session.scenarios import load_scenario, load_scenario_text
from harness.store.sqlite import Store

from .conftest import ROOT, SMALL
from .simrun import run_in_process

# Three categories over two sending days: no brand can be asked all three, and the silent
# brand answers 0 of n while the keen one answers n of n.
CELLS = SMALL.replace("""  - id: technical
    label: Technical""", """  - {id: refund, label: Refund, templates: ["{{ mention }} my refund?"]}
  - id: technical
    label: Technical""").replace("""  weeks: 2
  weekdays: [mon, tue, wed, thu, fri]""", """  weeks: 1
  weekdays: [mon, tue]""").replace("""      reply: {at: 0.9, name: 0.5}
      latency: {median: 10m, spread: 0.5}""", """      reply: {at: 1.0, name: 1.0}
      latency: {median: 10m, spread: 0.5}""")
assert CELLS.count("refund") == 2 and "weekdays: [mon, tue]" in CELLS
CELLS_WINDOW_S = 3 * 86400.0  # its observation window


def _run(scenario: Scenario, folder: Path) -> tuple[Summary, list[Outcome], Path]:
    """A simulated run, its summary and ``summary.json`` as the report writes it (the report
    writes exactly ``json_text(summary.to_json())``: tests/test_summary_types.py)."""
    assert run_in_process(scenario, folder)
    store = Store.open(folder / "run.sqlite")
    try:
        outcomes = from_store(store)
    finally:
        store.close()
    summary = summarize(outcomes, scenario, simulated=True)
    (folder / "summary.json").write_text(json_text(summary.to_json()), encoding="utf-8")
    return summary, outcomes, folder / "summary.json"


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Scenario, Summary, list[Outcome],
                                                               Path]:
    scenario = load_scenario_text(CELLS, "cells.yaml")
    return (scenario, *_run(scenario, tmp_path_factory.mktemp("cells") / "run"))


@pytest.fixture(scope="module")
def multichannel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Scenario, Summary,
                                                                    list[Outcome], Path]:
    scenario = load_scenario(ROOT / "scenarios" / "qa-acme-multichannel.yaml")
    return (scenario, *_run(scenario, tmp_path_factory.mktemp("multi") / "run"))


def _by_cell(summary: Summary, grouping: str) -> dict[tuple[str, str], BrandGroupEntry]:
    return {(e.brand, e.group): e for e in summary.brand_groups[grouping]}


def _check_against_outcomes(summary: Summary, scenario: Scenario, outcomes: list[Outcome],
                            grouping: str, key: Callable[[Probe], str]) -> None:
    """Every cell's figures, recomputed the slow way from the outcomes."""
    window = scenario.schedule.observation_window.total_seconds()
    thresholds = thresholds_of(scenario.report)
    for (brand, group), entry in _by_cell(summary, grouping).items():
        planned = [o for o in outcomes if o.probe.brand == brand and key(o.probe) == group]
        sent = [o for o in planned if o.sent_at is not None]
        k = sum(o.responded for o in sent)
        times = [o.latency_s for o in sent if o.responded and o.latency_s is not None]
        assert (entry.planned, entry.answered.n, entry.answered.k) == (len(planned), len(sent), k)
        assert entry.answered.ci95 == wilson(k, len(sent))
        assert entry.answered.rate == (k / len(sent) if sent else None)
        assert entry.median_among_replies_s == (statistics.median(times) if times else None)
        assert entry.replies_n == len(times)
        assert dict(entry.levels) == distribution(sent, thresholds)
        assert entry.tier == (tier(GroupResult(brand, Rate(k, len(sent)),
                                               entry.median_among_replies_s),
                                   scenario.report.fast_tier.total_seconds(),
                                   scenario.report.min_replies) if sent else None)
        if sent:
            curve = reply_curve(sent, window)  # the Kaplan-Meier curve the leaderboard uses
            assert entry.answered_within_1h == pytest.approx(curve.answered_within(3600),
                                                             abs=1e-12)
            assert entry.restricted_mean_s == pytest.approx(curve.restricted_mean(),
                                                            rel=1e-12)
        else:
            assert (entry.answered_within_1h, entry.restricted_mean_s) == (None, None)


def test_every_brand_meets_every_category_in_order(small: tuple[Scenario, Summary,
                                                                list[Outcome], Path]) -> None:
    scenario, summary, outcomes, _ = small
    cells = [(e.brand, e.group) for e in summary.brand_groups["category"]]
    brands = sorted(b.id for b in scenario.brands)
    categories = sorted(c.id for c in scenario.categories)
    assert cells == [(b, c) for b in brands for c in categories]
    assert list(summary.brand_groups) == ["category", "channel"]
    _check_against_outcomes(summary, scenario, outcomes, "category", lambda p: p.category)


def test_the_edge_cells(small: tuple[Scenario, Summary, list[Outcome], Path]) -> None:
    _, summary, _, _ = small
    cells = _by_cell(summary, "category")
    never = [e for e in cells.values() if e.planned == 0]
    assert never, "three categories on two days leave each brand one never asked"
    for entry in never:
        assert (entry.answered.k, entry.answered.n, entry.answered.rate,
                entry.answered.ci95) == (0, 0, None, None)
        assert (entry.median_among_replies_s, entry.replies_n, entry.answered_within_1h,
                entry.restricted_mean_s, entry.tier) == (None, 0, None, None, None)
        assert dict(entry.levels) == dict.fromkeys(range(6), 0)
    silent = [e for (brand, _), e in cells.items() if brand == "mute" and e.answered.n]
    assert silent and all(e.answered.k == 0 and e.answered.ci95 is not None
                          and e.answered.ci95[0] == 0.0 and e.answered.ci95[1] < 1
                          for e in silent)  # 0 of n: the lower bound is exactly 0
    assert all(e.restricted_mean_s == CELLS_WINDOW_S and e.levels[0] == e.answered.n
               and e.tier == "no response" for e in silent)
    keen = [e for (brand, _), e in cells.items() if brand == "fast" and e.answered.n]
    assert keen and all(e.answered.k == e.answered.n and e.answered.ci95 is not None
                        and e.answered.ci95[1] == 1.0 and e.answered.rate == 1.0
                        for e in keen)  # n of n: the upper bound is exactly 1
    assert all(e.median_among_replies_s is not None and e.answered_within_1h is not None
               and e.answered_within_1h > 0 for e in keen)


def test_the_cells_add_up_to_the_leaderboard(small: tuple[Scenario, Summary, list[Outcome],
                                                           Path]) -> None:
    _, summary, _, _ = small
    for entry in summary.leaderboard:
        for grouping in ("category", "channel"):
            mine = [e for e in summary.brand_groups[grouping] if e.brand == entry.brand]
            assert sum(e.answered.k for e in mine) == entry.answered.k
            assert sum(e.answered.n for e in mine) == entry.answered.n
    # one channel: each brand's channel cell is its leaderboard entry
    for entry in summary.leaderboard:
        (cell,) = [e for e in summary.brand_groups["channel"] if e.brand == entry.brand]
        assert cell.answered == entry.answered
        assert cell.median_among_replies_s == entry.median_among_replies_s
        assert cell.answered_within_1h == pytest.approx(entry.answered_within_1h, abs=1e-12)
        assert cell.restricted_mean_s == pytest.approx(entry.restricted_mean_s, rel=1e-12)
        assert cell.tier == entry.tier
        shared = {"k", "n", "rate", "ci95", "median_among_replies_s", "replies_n", "tier"}
        assert ({k: v for k, v in cell.to_json().items() if k in shared}
                == {k: v for k, v in entry.to_json().items() if k in shared})


def test_brand_by_channel_in_a_multichannel_race(
        multichannel: tuple[Scenario, Summary, list[Outcome], Path]) -> None:
    scenario, summary, outcomes, _ = multichannel
    cells = _by_cell(summary, "channel")
    assert len(cells) == len(scenario.brands) * len(scenario.channels)
    # only Acme's own inbox is probed by email: the competitors' email cells are empty
    email = {brand: e for (brand, channel), e in cells.items() if channel == "email"}
    assert email["acme"].planned > 0 and email["acme"].answered.n > 0
    assert all(e.planned == 0 and e.answered.n == 0 and e.answered.ci95 is None
               for brand, e in email.items() if brand != "acme")
    assert all(cells[(b.id, c)].answered.n > 0 for b in scenario.brands
               for c in ("xsim", "mastosim"))
    _check_against_outcomes(summary, scenario, outcomes, "channel", lambda p: p.channel)
    _check_against_outcomes(summary, scenario, outcomes, "category", lambda p: p.category)


def test_summary_json_carries_the_cells(
        multichannel: tuple[Scenario, Summary, list[Outcome], Path]) -> None:
    _, summary, _, path = multichannel
    written = json.loads(path.read_text(encoding="utf-8"))
    assert written["summary_version"] == 2  # an addition: the version stays
    assert list(written)[-1] == "brand_groups"
    first = written["brand_groups"]["category"][0]
    assert list(first) == ["brand", "group", "planned", "k", "n", "rate", "ci95",
                           "median_among_replies_s", "replies_n", "answered_within_1h",
                           "restricted_mean_s", "tier", "levels"]
    assert list(first["levels"]) == ["0", "1", "2", "3", "4", "5"]
    empty = next(c for c in written["brand_groups"]["channel"] if c["planned"] == 0)
    assert (empty["rate"], empty["ci95"], empty["answered_within_1h"],
            empty["restricted_mean_s"], empty["tier"]) == (None, None, None, None, None)
    assert written["brand_groups"] == json.loads(json.dumps(summary.to_json()["brand_groups"]))


def test_a_cell_of_unsent_probes_counts_as_planned_not_sent(
        small: tuple[Scenario, Summary, list[Outcome], Path]) -> None:
    scenario, _, outcomes, _ = small
    target = next(o for o in outcomes if o.probe.brand == "bank")
    unsent = [replace(o, sent_at=None, status="planned", responded=False, latency_s=None)
              if o.probe.brand == "bank" and o.probe.category == target.probe.category
              else o for o in outcomes]
    cells = {(e.brand, e.group): e for e in brand_groups(
        unsent, scenario, thresholds_of(scenario.report))["category"]}
    cell = cells[("bank", target.probe.category)]
    assert cell.planned > 0 and cell.answered.n == 0 and cell.answered.ci95 is None
    assert cell.restricted_mean_s is None and sum(cell.levels.values()) == 0
