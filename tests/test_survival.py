"""Kaplan-Meier reply curves on hand-worked censored examples."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.analysis.survival import kaplan_meier
from harness.scenario.model import Scenario


def test_kaplan_meier_on_a_hand_worked_censored_example() -> None:
    # Replies at 1, 3, 3, 6; censored at 2, 5, 8 (7 probes).
    # t=1: 7 at risk, 1 reply -> S = 6/7
    # t=3: 5 at risk (one censored at 2), 2 replies -> S = 6/7 * 3/5 = 18/35
    # t=6: 2 at risk (one censored at 5), 1 reply -> S = 18/35 * 1/2 = 9/35
    curve = kaplan_meier([1, 3, 3, 6], [2, 5, 8], horizon=8)
    assert curve.n == 7 and curve.replies == 4
    assert curve.answered_within(0.5) == 0.0
    assert curve.answered_within(1) == pytest.approx(1 / 7)
    assert curve.answered_within(4) == pytest.approx(1 - 18 / 35)
    assert curve.answered_within(8) == pytest.approx(1 - 9 / 35)
    # Area under S from 0 to 8: 1*1 + 6/7*2 + 18/35*3 + 9/35*2
    assert curve.restricted_mean() == pytest.approx(1 + 12 / 7 + 54 / 35 + 18 / 35)


def test_without_censoring_the_curve_is_the_plain_share_answered() -> None:
    curve = kaplan_meier([60, 600, 3600], [86400] * 7, horizon=86400)
    assert curve.answered_within(3600) == pytest.approx(3 / 10)
    assert curve.answered_within(59) == 0.0
    mean = (60 + 600 + 3600 + 7 * 86400) / 10  # unanswered count at the horizon
    assert curve.restricted_mean() == pytest.approx(mean)


def test_no_replies_at_all() -> None:
    curve = kaplan_meier([], [100, 100], horizon=100)
    assert curve.answered_within(100) == 0.0 and curve.restricted_mean() == 100


def test_curve_of_a_finished_run_ends_at_its_response_rate(small_scenario: Scenario,
                                                             tmp_path: Path) -> None:
    from harness.analysis.outcomes import from_store
    from harness.analysis.survival import reply_curve
    from harness.store.sqlite import Store

    from .simrun import run_in_process

    run_in_process(small_scenario, tmp_path)
    store = Store.open(tmp_path / "run.sqlite")
    results = from_store(store)
    store.close()
    window = small_scenario.schedule.observation_window.total_seconds()
    curve = reply_curve(results, window)
    answered = sum(o.responded for o in results)
    assert curve.n == 40 and curve.replies == answered
    assert curve.answered_within(window) == pytest.approx(answered / 40)
    within_hour = sum(1 for o in results if o.responded and (o.latency_s or 0) <= 3600)
    assert curve.answered_within(3600) == pytest.approx(within_hour / 40)
