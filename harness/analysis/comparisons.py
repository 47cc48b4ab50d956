"""Comparing response rates: Fisher's exact test, and Mantel-Haenszel across brands.

The 2013 race compared @ weeks with name weeks on the calendar, so any week effect is mixed
into the @ effect; where brands differ a lot, a test stratified by brand keeps one chatty
brand from speaking for all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.analysis.rates import Rate


@dataclass(frozen=True)
class Comparison:
    """Two rates and a test of their difference."""

    first: Rate
    second: Rate
    odds_ratio: float | None
    """The (common) odds ratio; 0 is a value. None when it is infinite or 0/0, and then
    ``odds_ratio_undefined`` says why."""
    p_value: float
    test: str
    odds_ratio_undefined: str | None = None


def odds_ratio(numerator: float, denominator: float) -> tuple[float | None, str | None]:
    """``numerator / denominator`` as an odds ratio, or None with the reason it has none."""
    if denominator:
        return numerator / denominator, None
    if numerator:
        return None, "infinite: the second group has a zero cell"
    return None, "undefined: zero cells on both sides"


def fisher(first: Rate, second: Rate) -> Comparison:
    """Fisher's exact test (two-sided) of k1/n1 against k2/n2."""
    from scipy.stats import fisher_exact

    a, b, c, d = first.k, first.n - first.k, second.k, second.n - second.k
    _, p_value = fisher_exact([[a, b], [c, d]])
    odds, undefined = odds_ratio(a * d, b * c)  # the sample odds ratio, as scipy's
    return Comparison(first, second, odds, float(p_value), "Fisher's exact test", undefined)


def mantel_haenszel(strata: Sequence[tuple[Rate, Rate]]) -> Comparison:
    """The Cochran-Mantel-Haenszel test (with continuity correction) of the first rate
    against the second across strata (e.g. one pair of rates per brand), and the common
    odds ratio. Strata with fewer than two probes or no variation add nothing."""
    from scipy.stats import chi2

    observed = expected = variance = numerator = denominator = 0.0
    for one, two in strata:
        a, b = one.k, one.n - one.k
        c, d = two.k, two.n - two.k
        n = a + b + c + d
        if n < 2:
            continue
        observed += a
        expected += (a + b) * (a + c) / n
        variance += (a + b) * (c + d) * (a + c) * (b + d) / (n * n * (n - 1))
        numerator += a * d / n
        denominator += b * c / n
    total_first = Rate(sum(s[0].k for s in strata), sum(s[0].n for s in strata))
    total_second = Rate(sum(s[1].k for s in strata), sum(s[1].n for s in strata))
    odds, undefined = odds_ratio(numerator, denominator)
    if variance == 0:
        return Comparison(total_first, total_second, None, 1.0, "Mantel-Haenszel",
                          "undefined: no stratum varies")
    statistic = max(0.0, abs(observed - expected) - 0.5) ** 2 / variance
    return Comparison(total_first, total_second, odds, float(chi2.sf(statistic, 1)),
                      "Mantel-Haenszel", undefined)
