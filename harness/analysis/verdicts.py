"""Verdicts as tests at a stated level: who answered more, who answered faster, and when the
data cannot say.

- **Rates** are compared by an exact test of the two brands' k/n (Fisher's by default, or
  Boschloo's, which is more powerful and slower), with the difference in rates and its 95%
  interval (Newcombe's hybrid score interval, method 10 of Newcombe 1998).
- **Speed** is compared among replies only (the race's time figure was the time among
  replies), by the Mann-Whitney U test of the reply times, and only when each brand has at least
  ``min_replies`` replies; otherwise the verdict is "too few replies to compare speed". A brand
  that never replied is not "slower": it has no speed to compare.
- **Several matchups at once** are one family per question: Holm's step-down correction keeps
  the chance of naming any false winner at or below ``alpha`` (the adjusted p-values are
  reported beside the raw ones).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from harness.analysis.rates import Rate, wilson

ALPHA = 0.05
MIN_REPLIES = 5
TOO_CLOSE = "too close to call"
TOO_FEW = "too few replies to compare speed"
RateTest = Literal["fisher", "boschloo"]
TEST_NAMES: dict[RateTest, str] = {"fisher": "Fisher's exact test",
                                   "boschloo": "Boschloo's exact test"}
SPEED_TEST = "Mann-Whitney U test of the times among replies"


def difference_interval(first: Rate, second: Rate) -> tuple[float, float] | None:
    """The 95% interval of first's rate minus second's (Newcombe's hybrid score interval,
    built from the two Wilson intervals; exact at its edges: never beyond -1 or 1). None when
    either side has no probes."""
    one, two = wilson(first.k, first.n), wilson(second.k, second.n)
    if one is None or two is None or first.value is None or second.value is None:
        return None
    p1, p2 = first.value, second.value
    low = p1 - p2 - math.sqrt((p1 - one[0]) ** 2 + (two[1] - p2) ** 2)
    high = p1 - p2 + math.sqrt((one[1] - p1) ** 2 + (p2 - two[0]) ** 2)
    return max(-1.0, low), min(1.0, high)


def rate_p_value(first: Rate, second: Rate, test: RateTest = "fisher") -> float | None:
    """The two-sided p-value of the exact test of first's k/n against second's (None when
    either has no probes)."""
    if not first.n or not second.n:
        return None
    return _exact(first.k, first.n, second.k, second.n, test)


@lru_cache(maxsize=65536)
def _exact(k1: int, n1: int, k2: int, n2: int, test: RateTest) -> float:
    from scipy.stats import boschloo_exact, fisher_exact

    table = [[k1, n1 - k1], [k2, n2 - k2]]
    if test == "boschloo":
        if (k1 == 0 and k2 == 0) or (k1 == n1 and k2 == n2):
            return 1.0  # nothing varies: scipy gives NaN here
        result = float(boschloo_exact(table, alternative="two-sided").pvalue)
    else:
        result = float(fisher_exact(table)[1])
    return min(1.0, result) if math.isfinite(result) else 1.0


def speed_p_value(first: Sequence[float], second: Sequence[float],
                  min_replies: int = MIN_REPLIES) -> float | None:
    """The two-sided p-value of the Mann-Whitney U test of two brands' times among replies,
    or None when either has fewer than ``min_replies`` replies."""
    if len(first) < max(1, min_replies) or len(second) < max(1, min_replies):
        return None
    from scipy.stats import mannwhitneyu

    if len(set(first) | set(second)) == 1:
        return 1.0  # every time the same: no difference to find
    result = float(mannwhitneyu(first, second, alternative="two-sided").pvalue)
    return min(1.0, result) if math.isfinite(result) else 1.0


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjusted p-values (None stays None and is not counted in the family):
    rejecting where the adjusted value is below alpha keeps the family-wise error at alpha."""
    present = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, index) in enumerate(present):
        running = max(running, min(1.0, (len(present) - rank) * p))
        adjusted[index] = running
    return adjusted


@dataclass(frozen=True)
class Ranked:
    """One entry of a ranking: entries with the same value share a rank (1, 2, 2, 4)."""

    key: str
    rank: int
    tied: bool


def competition_ranks(keys: Sequence[str], values: Sequence[float]) -> list[Ranked]:
    """Ranks of ``keys`` already ordered by ``values`` (best first): equal values share the
    rank of the first of them ("standard competition ranking")."""
    ranked: list[Ranked] = []
    counts: dict[float, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    rank = 0
    previous: float | None = None
    for position, (key, value) in enumerate(zip(keys, values, strict=True), start=1):
        if previous is None or value != previous:
            rank, previous = position, value
        ranked.append(Ranked(key, rank, counts[value] > 1))
    return ranked
