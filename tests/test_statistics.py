"""Rates with their intervals, checked against known values."""

from __future__ import annotations

import pytest
from scipy.stats import binomtest

from harness.analysis.rates import Rate, wilson


@pytest.mark.parametrize(("k", "n"), [(40, 280), (0, 20), (20, 20), (3, 140), (7, 20)])
def test_wilson_interval_matches_scipy(k: int, n: int) -> None:
    expected = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    low, high = wilson(k, n) or (None, None)
    assert low == pytest.approx(expected.low, abs=1e-9)
    assert high == pytest.approx(expected.high, abs=1e-9)


def test_wilson_interval_of_the_published_40_of_280() -> None:
    low, high = wilson(40, 280) or (0, 0)
    assert (round(low, 4), round(high, 4)) == (0.1067, 0.1887)  # worked by hand


def test_a_rate_always_shows_its_numerator_and_denominator() -> None:
    assert str(Rate(40, 280)) == "40/280 = 14% (95% CI 11%-19%)"
    assert str(Rate(0, 0)) == "0/0"
    assert Rate(0, 0).value is None and Rate(0, 0).interval is None
    with pytest.raises(ValueError):
        wilson(5, 3)
