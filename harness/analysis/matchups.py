"""Head-to-head matchups: who answered more, and who answered faster, as tests at a level.

Each matchup puts its leader against its runner-up (the brand with the highest rate against the
next; the fastest among replies against the next fastest, among brands with enough replies).
:func:`matchup` computes the evidence and the raw p-values; :func:`judge` names the winners of
all matchups at once, with Holm's correction over the family (see :mod:`verdicts`), so that
with brands of equal true rates a winner is named in at most ``alpha`` of studies.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from harness.analysis.outcomes import Outcome
from harness.analysis.rates import Rate
from harness.analysis.survival import durations, kaplan_meier
from harness.analysis.verdicts import (
    ALPHA,
    MIN_REPLIES,
    TOO_CLOSE,
    TOO_FEW,
    RateTest,
    difference_interval,
    holm,
    rate_p_value,
    speed_p_value,
)


@dataclass(frozen=True)
class Contender:
    """One brand's evidence in a matchup."""

    brand: str
    rate: Rate
    restricted_mean_s: float
    """Mean time to reply, unanswered probes counted at the window."""
    reply_times_s: tuple[float, ...]
    """Its times to reply among replies within the window."""

    @property
    def median_among_replies_s(self) -> float | None:
        """The median time among replies (None without replies)."""
        return statistics.median(self.reply_times_s) if self.reply_times_s else None


@dataclass(frozen=True)
class Matchup:
    """A head-to-head result: the evidence, the tests and, once judged, the verdicts."""

    contenders: tuple[Contender, ...]
    leader: str | None
    """The brand with the highest rate (None with fewer than two contenders)."""
    runner_up: str | None
    difference: float | None
    """The leader's rate minus the runner-up's."""
    difference_ci: tuple[float, float] | None
    """Its 95% interval (Newcombe)."""
    rate_p_value: float | None
    rate_test: str
    faster: str | None
    """The brand with the lowest median among replies, of those with enough replies."""
    slower: str | None
    speed_p_value: float | None
    """None when fewer than two brands have ``min_replies`` replies."""
    rate_p_adjusted: float | None = None
    speed_p_adjusted: float | None = None
    rate_verdict: str = TOO_CLOSE
    """The winning brand on response rate, or "too close to call" (set by :func:`judge`)."""
    time_verdict: str = TOO_CLOSE
    """The faster brand among replies, "too close to call", or "too few replies to compare
    speed" (set by :func:`judge`)."""


def matchup(brands: Sequence[str], outcomes: Iterable[Outcome], window: float, *,
            test: RateTest = "fisher", min_replies: int = MIN_REPLIES) -> Matchup:
    """The evidence of a matchup of two or more brands over their sent probes (not judged:
    see :func:`judge`)."""
    from harness.analysis.verdicts import TEST_NAMES

    by_brand: dict[str, list[Outcome]] = {brand: [] for brand in brands}
    for outcome in outcomes:
        if outcome.sent_at is not None and outcome.probe.brand in by_brand:
            by_brand[outcome.probe.brand].append(outcome)
    contenders = tuple(
        Contender(brand, Rate(sum(o.responded for o in mine), len(mine)),
                  kaplan_meier(*durations(mine, window), window).restricted_mean(),
                  tuple(sorted(float(o.latency_s) for o in mine
                               if o.responded and o.latency_s is not None)))
        for brand, mine in by_brand.items())
    by_rate = sorted(contenders, key=lambda c: (-(c.rate.value or 0.0), c.brand))
    leader = runner_up = None
    difference = ci = p_rate = None
    if len(by_rate) >= 2:
        first, second = by_rate[0], by_rate[1]
        leader, runner_up = first.brand, second.brand
        if first.rate.value is not None and second.rate.value is not None:
            difference = first.rate.value - second.rate.value
        ci = difference_interval(first.rate, second.rate)
        p_rate = rate_p_value(first.rate, second.rate, test)
    timed = sorted((c for c in contenders if len(c.reply_times_s) >= max(1, min_replies)),
                   key=lambda c: (c.median_among_replies_s, c.brand))
    faster = slower = p_speed = None
    if len(timed) >= 2:
        faster, slower = timed[0].brand, timed[1].brand
        p_speed = speed_p_value(timed[0].reply_times_s, timed[1].reply_times_s, min_replies)
    return Matchup(contenders, leader, runner_up, difference, ci, p_rate, TEST_NAMES[test],
                   faster, slower, p_speed)


def judge(matchups: Sequence[Matchup], alpha: float = ALPHA) -> list[Matchup]:
    """Name each matchup's winners, rates and speed each as one family under Holm's
    correction at ``alpha``."""
    rate_adjusted = holm([m.rate_p_value for m in matchups])
    speed_adjusted = holm([m.speed_p_value for m in matchups])
    judged = []
    for match, p_rate, p_speed in zip(matchups, rate_adjusted, speed_adjusted, strict=True):
        rate_verdict = (match.leader if match.leader and p_rate is not None and p_rate < alpha
                        and (match.difference or 0.0) > 0 else TOO_CLOSE)
        if match.speed_p_value is None:
            time_verdict = TOO_FEW
        elif match.faster and p_speed is not None and p_speed < alpha:
            time_verdict = match.faster
        else:
            time_verdict = TOO_CLOSE
        judged.append(replace(match, rate_p_adjusted=p_rate, speed_p_adjusted=p_speed,
                              rate_verdict=rate_verdict, time_verdict=time_verdict))
    return judged
