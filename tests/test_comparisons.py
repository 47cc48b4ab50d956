"""Tests of rate differences, against known values."""

from __future__ import annotations

import pytest
from scipy.stats import fisher_exact

from harness.analysis.comparisons import fisher, mantel_haenszel
from harness.analysis.rates import Rate


def test_fisher_on_the_published_at_effect_37_of_140_vs_3_of_140() -> None:
    result = fisher(Rate(37, 140), Rate(3, 140))
    odds, p_value = fisher_exact([[37, 103], [3, 137]])
    assert result.p_value == pytest.approx(p_value)
    assert result.p_value < 1e-8
    assert result.odds_ratio == pytest.approx((37 * 137) / (103 * 3))
    assert result.odds_ratio == pytest.approx(odds)


def test_fisher_on_equal_rates_finds_nothing() -> None:
    assert fisher(Rate(5, 20), Rate(5, 20)).p_value == pytest.approx(1.0)


def test_mantel_haenszel_on_a_hand_worked_example() -> None:
    # Two strata: (a, b, c, d) = (10, 10, 5, 15) and (6, 4, 2, 8).
    # E[a]: 20*15/40 = 7.5 and 10*8/20 = 4; Var: 20*20*15*25/(40^2*39) and 10*10*8*12/(20^2*19)
    strata = [(Rate(10, 20), Rate(5, 20)), (Rate(6, 10), Rate(2, 10))]
    variance = 20 * 20 * 15 * 25 / (1600 * 39) + 10 * 10 * 8 * 12 / (400 * 19)
    statistic = (abs(16 - 11.5) - 0.5) ** 2 / variance
    from scipy.stats import chi2

    result = mantel_haenszel(strata)
    assert result.p_value == pytest.approx(chi2.sf(statistic, 1))
    assert result.odds_ratio == pytest.approx((10 * 15 / 40 + 6 * 8 / 20) /
                                              (10 * 5 / 40 + 4 * 2 / 20))
    assert (result.first.k, result.first.n, result.second.k, result.second.n) == (16, 30, 7, 30)


def test_mantel_haenszel_without_variation_says_nothing() -> None:
    result = mantel_haenszel([(Rate(0, 10), Rate(0, 10))])
    assert result.p_value == 1.0 and result.odds_ratio is None
