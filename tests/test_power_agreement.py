"""The vectorised power model against the real runner on the simulated channel: the same
distribution of replies, latencies and verdicts, within Monte-Carlo error."""

from __future__ import annotations

import math
import textwrap
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from harness.analysis.matchups import judge, matchup
from harness.analysis.outcomes import from_store
from harness.analysis.power import power_analysis
from harness.analysis.power_model import Array, design, draw
from harness.scenario.model import Scenario, resolved_matchups
from harness.session.runs import simulate
from harness.session.scenarios import load_scenario_text
from harness.store.sqlite import Store

SEEDS = 250
PER_SEED = 80

AGREE = textwrap.dedent("""\
    name: power-agreement
    seed: 1
    timezone: Europe/London
    personas:
      - {id: ana, name: Ana, accounts: {x: "@ana"}}
    channels:
      - {id: x, adapter: simulated, platform: x, poll_every: 5m}
    categories:
      - {id: q, label: Question, templates: ["{{ mention }} do you deliver?"]}
      - id: t
        label: Technical
        templates: ["{{ mention }} the app crashes"]
        follow_up: [{after: 10m, template: "still crashing"}]
    schedule:
      start: 2024-03-07
      weeks: 2
      weekdays: [mon, tue, wed, thu, fri, sat, sun]
      observation_window: 2d
    design: {type: replay, mentions: [at, name]}
    report: {min_replies: 3}
    brands:
      - id: a1
        name: A One
        industry: A
        handles: {x: ["@A1"]}
        simulate:
          reply: {at: 0.8, name: 0.5}
          category: {t: 0.8}
          latency: {median: 30m, spread: 1.0}
          auto_ack: {probability: 0.5}
      - id: a2
        name: A Two
        industry: A
        timezone: America/New_York
        handles: {x: ["@A2"]}
        simulate:
          reply: {at: 0.4, name: 0.3}
          latency: {median: 10h, spread: 0.8}
          off_hours: queue
      - id: b1
        name: B One
        industry: B
        handles: {x: ["@B1"]}
        simulate:
          reply: {at: 0.6, name: 0.5}
          latency: {median: 2h, spread: 1.0}
          weekends: ignore
      - id: b2
        name: B Two
        industry: B
        handles: {x: ["@B2"]}
        simulate:
          reply: {at: 0.6, name: 0.5}
          latency: {median: 3h, spread: 1.2}
          weekends: queue
          direct_message: 0.5
    """)


def _runner(scenario: Scenario, folder: Path) -> tuple[dict[str, int], dict[str, list[int]],
                                                      list[tuple[str, str]]]:
    """One real simulated run: replies per brand, their latencies, and each matchup's
    (rate verdict, time verdict) as the report judges them."""
    simulate(scenario, folder, say=lambda _: None)
    store = Store.open(folder / "run.sqlite")
    try:
        outcomes = from_store(store)
    finally:
        store.close()
    answered: Counter[str] = Counter()
    times: dict[str, list[int]] = {b.id: [] for b in scenario.brands}
    for o in outcomes:
        assert o.sent_at == o.probe.scheduled_at  # the model sends on schedule too
        if o.responded and o.latency_s is not None:
            answered[o.probe.brand] += 1
            times[o.probe.brand].append(o.latency_s)
    window = scenario.schedule.observation_window.total_seconds()
    settings = scenario.report
    judged = judge([matchup(m, outcomes, window, test=settings.rate_test,
                            min_replies=settings.min_replies)
                    for m in resolved_matchups(scenario)], settings.alpha)
    return dict(answered), times, [(m.rate_verdict, m.time_verdict) for m in judged]


def _close(a: float, se_a: float, b: float, se_b: float, what: str) -> None:
    se = math.sqrt(se_a**2 + se_b**2)
    assert abs(a - b) <= 3 * se + 1e-9, f"{what}: runner {a:.4f} vs model {b:.4f} (se {se:.4f})"


def _share_se(share: float, n: int) -> float:
    return math.sqrt(max(share * (1 - share), 1 / n) / n)


@pytest.mark.parametrize("seeds", [60, pytest.param(SEEDS, marks=pytest.mark.slow)])
def test_model_agrees_with_the_real_runner(tmp_path: Path, seeds: int) -> None:
    base = load_scenario_text(AGREE)
    brands = [b.id for b in base.brands]
    run_k: dict[str, list[int]] = {b: [] for b in brands}
    run_times: dict[str, list[int]] = {b: [] for b in brands}
    run_verdicts: list[list[tuple[str, str]]] = []
    model_k: dict[str, list[Array]] = {b: [] for b in brands}
    model_times: dict[str, list[Array]] = {b: [] for b in brands}
    shares: list[tuple[float | None, ...]] = []
    for seed in range(1, seeds + 1):
        scenario = base.model_copy(update={"seed": seed})
        answered, times, verdicts = _runner(scenario, tmp_path / f"run{seed}")
        for b in brands:
            run_k[b].append(answered.get(b, 0))
            run_times[b].extend(times[b])
        run_verdicts.append(verdicts)
        model = design(scenario)
        draws = draw(model, PER_SEED, np.random.default_rng(seed))
        for i, b in enumerate(brands):
            model_k[b].append(draws.answered[i])
            values = draws.latencies[i]
            model_times[b].append(values[~np.isnan(values)])
        result = power_analysis(scenario, PER_SEED, seed=seed)
        shares.append(tuple(x for m in result.matchups for x in (
            m.rate_power, 1 - (m.rate_power or 0) - m.rate_false_winner, m.speed_compared,
            m.speed_power)))
    from scipy.stats import ks_2samp

    models = seeds * PER_SEED
    for b in brands:
        runner, drawn = np.array(run_k[b]), np.concatenate(model_k[b])
        _close(runner.mean(), runner.std() / math.sqrt(seeds), drawn.mean(),
               drawn.std() / math.sqrt(models), f"{b}: mean replies")
        _close(runner.std(), runner.std() / math.sqrt(2 * seeds), drawn.std(),
               drawn.std() / math.sqrt(2 * models), f"{b}: sd of replies")
        assert ks_2samp(run_times[b], np.concatenate(model_times[b])).pvalue > 1e-3, b
    mean_shares = np.array(shares, dtype=float).mean(axis=0)
    leaders = {"a1": 0, "b2": 1}  # the true leaders on rate of the two matchups
    for index, (matchup_leader, column) in enumerate(leaders.items()):
        rate = [v[column][0] for v in run_verdicts]
        time = [v[column][1] for v in run_verdicts]
        named = sum(r == matchup_leader for r in rate) / seeds
        close_call = sum(r == "too close to call" for r in rate) / seeds
        compared = sum(t != "too few replies to compare speed" for t in time) / seeds
        offset = 4 * index
        _close(named, _share_se(named, seeds), mean_shares[offset],
               _share_se(mean_shares[offset], models), f"{matchup_leader}: rate power")
        _close(close_call, _share_se(close_call, seeds), mean_shares[offset + 1],
               _share_se(mean_shares[offset + 1], models), f"{matchup_leader}: too close")
        _close(compared, _share_se(compared, seeds), mean_shares[offset + 2],
               _share_se(mean_shares[offset + 2], models), f"{matchup_leader}: speed compared")
    faster_a = sum(v[0][1] == "a1" for v in run_verdicts) / seeds
    _close(faster_a, _share_se(faster_a, seeds), mean_shares[3],
           _share_se(mean_shares[3], models), "a1: speed power")
