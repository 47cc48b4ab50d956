"""Head-to-head industry matchups: who answered more, and who answered faster.

A winner is named only when the evidence separates the brands; otherwise the verdict is "too
close to call". On response rate the leader must be ahead beyond both Wilson intervals (its
lower bound above the other's rate, and the other's upper bound below its rate). On time to
reply, the reply curves (censored at the window) must differ by the log-rank test at the 5%
level; the faster brand is the one with the lower restricted mean time to reply.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from harness.analysis.outcomes import Outcome
from harness.analysis.rates import Rate
from harness.analysis.survival import durations, kaplan_meier

TOO_CLOSE = "too close to call"
SIGNIFICANCE = 0.05


@dataclass(frozen=True)
class Contender:
    """One brand's evidence in a matchup."""

    brand: str
    rate: Rate
    restricted_mean_s: float
    """Mean time to reply, unanswered probes counted at the window."""


@dataclass(frozen=True)
class Matchup:
    """A head-to-head result with its verdicts."""

    contenders: tuple[Contender, ...]
    rate_verdict: str
    """The winning brand on response rate, or "too close to call"."""
    time_verdict: str
    """The winning brand on time to reply, or "too close to call"."""
    time_p_value: float | None


def matchup(brands: Sequence[str], outcomes: Iterable[Outcome], window: float) -> Matchup:
    """Judge a matchup of two or more brands over their sent probes."""
    by_brand: dict[str, list[Outcome]] = {brand: [] for brand in brands}
    for outcome in outcomes:
        if outcome.sent_at is not None and outcome.probe.brand in by_brand:
            by_brand[outcome.probe.brand].append(outcome)
    contenders = tuple(
        Contender(brand, Rate(sum(o.responded for o in mine), len(mine)),
                  kaplan_meier(*durations(mine, window), window).restricted_mean())
        for brand, mine in by_brand.items())
    by_rate = sorted(contenders, key=lambda c: -(c.rate.value or 0.0))
    rate_verdict = TOO_CLOSE
    if len(by_rate) >= 2 and _clearly_ahead(by_rate[0].rate, by_rate[1].rate):
        rate_verdict = by_rate[0].brand
    by_time = sorted(contenders, key=lambda c: c.restricted_mean_s)
    time_verdict, p_value = TOO_CLOSE, None
    if len(by_time) >= 2:
        p_value = _logrank(by_brand[by_time[0].brand], by_brand[by_time[1].brand], window)
        if p_value is not None and p_value < SIGNIFICANCE:
            time_verdict = by_time[0].brand
    return Matchup(contenders, rate_verdict, time_verdict, p_value)


def _clearly_ahead(leader: Rate, other: Rate) -> bool:
    lead, trail = leader.interval, other.interval
    if lead is None or trail is None or leader.value is None or other.value is None:
        return False
    return lead[0] > other.value and trail[1] < leader.value


def _logrank(first: list[Outcome], second: list[Outcome], window: float) -> float | None:
    from scipy.stats import CensoredData, logrank

    samples = [durations(group, window) for group in (first, second)]
    if not any(events for events, _ in samples) or not all(e or c for e, c in samples):
        return None
    x, y = (CensoredData(uncensored=events, right=censored) for events, censored in samples)
    p_value = float(logrank(x, y).pvalue)
    return p_value if math.isfinite(p_value) else None  # no variance: no test, not NaN
