"""Exact power of the rate verdict for two brands, by enumerating every pair of counts.

With true rates p1 > p2 over n1 and n2 probes, the verdict names the first brand when its
observed rate is the higher and Fisher's two-sided p-value is below the level: the power is
the binomial probability of those (k1, k2). No simulation: these are exact, and they are what
the smallest detectable difference and the probes needed for a power are searched on.
"""

from __future__ import annotations

import numpy as np

from harness.analysis.power_tests import fisher_table

TARGET = 0.8


def rate_power(p1: float, n1: int, p2: float, n2: int, level: float) -> float:
    """The chance the verdict names the first brand (true rate ``p1`` over ``n1`` probes)
    over the second (``p2`` over ``n2``), testing at ``level`` (Fisher's test)."""
    from scipy.stats import binom

    if n1 <= 0 or n2 <= 0:
        return 0.0
    k1, k2 = np.arange(n1 + 1), np.arange(n2 + 1)
    wins = (fisher_table(n1, n2) < level) & (k1[:, None] * n2 > k2[None, :] * n1)
    weights = binom.pmf(k1, n1, p1)[:, None] * binom.pmf(k2, n2, p2)[None, :]
    return float(min(1.0, (weights * wins).sum()))


def smallest_detectable(p2: float, n1: int, n2: int, level: float,
                        target: float = TARGET) -> float | None:
    """The smallest difference p1 - p2 the verdict detects with power ``target`` when the
    runner-up's true rate is ``p2`` (bisection on p1; None when even p1 = 1 falls short)."""
    if rate_power(1.0, n1, p2, n2, level) < target:
        return None
    low, high = p2, 1.0
    for _ in range(40):
        middle = (low + high) / 2
        if rate_power(middle, n1, p2, n2, level) >= target:
            high = middle
        else:
            low = middle
    return high - p2


def probes_for_power(p1: float, p2: float, level: float, target: float = TARGET,
                     limit: int = 5000) -> int | None:
    """The fewest probes per brand at which the verdict tells ``p1`` from ``p2`` with power
    ``target`` (Fisher's test is discrete: a few more can, rarely, have a hair less power);
    None beyond ``limit``."""
    if p1 == p2:
        return None
    high, low = max(p1, p2), min(p1, p2)

    def enough(n: int) -> bool:
        return rate_power(high, n, low, n, level) >= target

    top = 2
    while not enough(top):  # doubling, then bisection (power grows with n, all but jitter)
        if top >= limit:
            return None
        top = min(limit, top * 2)
    bottom = top // 2
    while top - bottom > 1:
        middle = (top + bottom) // 2
        if enough(middle):
            top = middle
        else:
            bottom = middle
    return top


def power_curve(p1: float, p2: float, level: float, sizes: list[int]) -> list[float]:
    """Exact power at each number of probes per brand in ``sizes``."""
    high, low = max(p1, p2), min(p1, p2)
    return [rate_power(high, n, low, n, level) for n in sizes]
