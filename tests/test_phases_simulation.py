"""Rehearsing a breach: a brand that answers about 90% of messages until a date and about 10%
after it. The simulated run, the replicates' fast path, the power model and calibration all
follow the phases."""

from __future__ import annotations

import hashlib
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from statistics import median

import numpy as np
import pytest
from scipy.stats import binomtest

from harness.analysis.outcomes import Outcome, from_store
from harness.analysis.power import power_analysis
from harness.analysis.power_model import design, draw
from harness.plan.expand import build_plan
from harness.scenario.model import Scenario
from harness.scenario.phase_model import Phase
from harness.session.calibration import calibrate_folder
from harness.session.replicates import model_outcomes
from harness.session.runs import simulate
from harness.session.scenarios import load_scenario, load_scenario_text
from harness.store.sqlite import Store

from .conftest import ROOT

SLIP = datetime(2025, 3, 23, 23, 0, tzinfo=UTC)  # 2025-03-24 00:00 in London (still GMT)
BREACH = textwrap.dedent("""\
    name: breach-rehearsal
    seed: 11
    timezone: Europe/London
    personas:
      - {id: ana, name: Ana, accounts: {x: "@ana"}}
      - {id: ben, name: Ben, accounts: {x: "@ben"}}
    channels:
      - {id: x, adapter: simulated, platform: x, poll_every: 5m}
    categories:
      - {id: question, label: Question, templates: ["{{ mention }} do you deliver on Sundays?"]}
      - {id: refund, label: Refund, templates: ["{{ mention }} where is my refund?"]}
    schedule:
      start: 2025-03-03
      weeks: 6
      messages_per_brand_per_day: 6
      observation_window: 7d
    design: {type: replay, mentions: [at]}
    brands:
      - id: acme
        name: Acme
        industry: Retail
        handles: {x: "@Acme"}
        simulate:
          reply: {at: 0.9}
          latency: {median: 20m, spread: 0.5}
          phases:
            - from: 2025-03-24          # week 4: service slips
              reply: {at: 0.1}
              latency: {median: 6h}
      - id: steady
        name: Steady
        industry: Retail
        handles: {x: "@Steady"}
        simulate:
          reply: {at: 0.5}
          latency: {median: 1h, spread: 0.5}
    """)


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return load_scenario_text(BREACH, "breach.yaml")


@pytest.fixture(scope="module")
def run(scenario: Scenario, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("breach") / "run"
    assert simulate(scenario, folder, say=lambda _: None).finished
    return folder


@pytest.fixture(scope="module")
def outcomes(run: Path) -> list[Outcome]:
    store = Store.open(run / "run.sqlite")
    try:
        return from_store(store)
    finally:
        store.close()


def _split(outcomes: list[Outcome], brand: str) -> tuple[list[Outcome], list[Outcome]]:
    mine = [o for o in outcomes if o.probe.brand == brand]
    assert all(o.sent_at is not None for o in mine)
    return ([o for o in mine if o.sent_at is not None and o.sent_at < SLIP],
            [o for o in mine if o.sent_at is not None and o.sent_at >= SLIP])


def test_the_run_answers_as_each_phase_says(outcomes: list[Outcome]) -> None:
    before, after = _split(outcomes, "acme")
    assert len(before) == len(after) == 90  # three weeks each side of the slip
    k_before = sum(o.responded for o in before)
    k_after = sum(o.responded for o in after)
    assert k_before > 60 and k_after < 30  # the direction, however the draws fall
    # and each count is what its phase's chance gives, within binomial error
    assert binomtest(k_before, len(before), 0.9).pvalue > 0.01, k_before
    assert binomtest(k_after, len(after), 0.1).pvalue > 0.01, k_after
    # replies to messages sent before the slip keep the old pace, after it the new
    fast = median(o.latency_s for o in before if o.responded and o.latency_s is not None)
    slow = median(o.latency_s for o in after if o.responded and o.latency_s is not None)
    assert fast < 3600 < 2 * 3600 < slow


def test_a_brand_without_phases_is_untouched_by_another_brands(outcomes: list[Outcome]) -> None:
    before, after = _split(outcomes, "steady")
    for part in (before, after):
        assert binomtest(sum(o.responded for o in part), len(part), 0.5).pvalue > 0.01


def test_the_fast_path_of_replicates_gives_the_runner_s_outcomes(
        scenario: Scenario, outcomes: list[Outcome]) -> None:
    fast = {o.probe.probe_id: (o.responded, o.latency_s)
            for o in model_outcomes(scenario, build_plan(scenario))}
    assert fast == {o.probe.probe_id: (o.responded, o.latency_s) for o in outcomes}


def test_the_power_model_takes_each_probe_s_phase(scenario: Scenario,
                                                  outcomes: list[Outcome]) -> None:
    model = design(scenario)
    acme = model.brands[0]
    probes = [p for p in build_plan(scenario) if p.brand == "acme"]
    after = np.array([p.scheduled_at >= SLIP for p in probes])
    assert set(acme.chance[~after]) == {0.9} and set(acme.chance[after]) == {0.1}
    assert set(acme.median_s[~after]) == {1200.0} and set(acme.median_s[after]) == {21600.0}
    assert set(acme.spread[after]) == {0.5}  # inherited from the base
    assert acme.true_rate == pytest.approx(0.5, abs=1e-3)
    draws = draw(model, 4000, np.random.default_rng(5))
    hit = ~np.isnan(draws.latencies[0])
    assert hit[:, ~after].mean() == pytest.approx(0.9, abs=0.01)
    assert hit[:, after].mean() == pytest.approx(0.1, abs=0.01)
    assert np.nanmedian(draws.latencies[0][:, ~after]) < 3600
    assert np.nanmedian(draws.latencies[0][:, after]) > 2 * 3600
    # and the runner's counts sit inside the model's spread of counts
    before_runs, after_runs = hit[:, ~after].sum(axis=1), hit[:, after].sum(axis=1)
    mine = [o for o in outcomes if o.probe.brand == "acme" and o.sent_at is not None]
    k_before = sum(o.responded for o in mine if o.sent_at is not None and o.sent_at < SLIP)
    k_after = sum(o.responded for o in mine if o.sent_at is not None and o.sent_at >= SLIP)
    assert np.quantile(before_runs, 0.005) <= k_before <= np.quantile(before_runs, 0.995)
    assert np.quantile(after_runs, 0.005) <= k_after <= np.quantile(after_runs, 0.995)


def test_power_sees_a_slip_that_makes_two_brands_equal(scenario: Scenario) -> None:
    # 90% then 10% averages to the steady brand's 50%: no true leader, and few false winners.
    result = power_analysis(scenario, 400)
    (matchup,) = result.matchups
    assert matchup.true_rates == pytest.approx((0.5, 0.5), abs=1e-3)
    assert matchup.true_leader is None and matchup.rate_power is None
    assert matchup.rate_false_winner < 0.1
    # Without the slip, acme leads and the design names it nearly always.
    steady = scenario.model_copy(update={"brands": [
        scenario.brands[0].model_copy(update={"simulate": scenario.brands[0].simulate.model_copy(
            update={"phases": []})}), scenario.brands[1]]})
    (unslipped,) = power_analysis(steady, 400).matchups
    assert unslipped.true_leader == "acme" and (unslipped.rate_power or 0) > 0.95


def test_calibrate_fits_the_whole_run_of_a_phased_scenario(run: Path,
                                                          outcomes: list[Outcome]) -> None:
    calibration = calibrate_folder(run)
    profiles = calibration.profiles()
    assert set(profiles) == {"acme", "steady"}
    acme = next(b for b in calibration.brands if b.brand == "acme")
    answered = sum(o.responded for o in outcomes if o.probe.brand == "acme")
    assert acme.sent == 180
    # one profile for the whole run: the blend of the two phases, about half answered
    assert profiles["acme"].reply["at"] == pytest.approx(answered / 180, abs=0.02)
    assert profiles["acme"].phases == []


# Digests of every first message's simulated outcome, taken with the harness before phases
# existed: a profile without phases must give exactly the same run.
BEFORE_PHASES = {
    "great-race-2013": "17ec6fa84af8b937fd814c7892d04aabf5413c688b058f3c0fbd9057e1d3e29d",
    "qa-acme-multichannel": "2850bb5a277c0e32f76923167ec7c0287be64250e3f7daaa8ce7a559ff213400",
}


@pytest.mark.parametrize("name", sorted(BEFORE_PHASES))
def test_scenarios_without_phases_simulate_exactly_as_before(name: str) -> None:
    scenario = load_scenario(ROOT / "scenarios" / f"{name}.yaml")
    lines = [f"{o.probe.probe_id}|{o.responded}|{o.latency_s}|{o.first_reply_kind}|"
             f"{o.brand_replies}|{o.auto_acks}|{o.direct_message}|{o.email}"
             for o in model_outcomes(scenario, build_plan(scenario))]
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    assert digest == BEFORE_PHASES[name]


def test_a_phase_that_changes_nothing_leaves_the_power_model_as_it_was(
        scenario: Scenario) -> None:
    steady = scenario.brands[1]
    noop = steady.model_copy(update={"simulate": steady.simulate.model_copy(update={
        "phases": [Phase.model_validate({"from": "2025-03-24"})]})})
    one = design(scenario.model_copy(update={"brands": [scenario.brands[0], steady]}))
    two = design(scenario.model_copy(update={"brands": [scenario.brands[0], noop]}))
    for name in ("chance", "median_s", "spread", "minimum_s", "starts", "done", "capacity",
                 "answered"):
        assert np.array_equal(getattr(one.brands[1], name), getattr(two.brands[1], name)), name
    a = draw(one, 50, np.random.default_rng(3))
    b = draw(two, 50, np.random.default_rng(3))
    assert np.array_equal(a.latencies[1], b.latencies[1], equal_nan=True)
