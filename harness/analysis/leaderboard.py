"""The race leaderboard: brands ranked by response rate, with honest denominators."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from harness.analysis.outcomes import Outcome
from harness.analysis.rates import Rate


@dataclass(frozen=True)
class GroupResult:
    """Responses of one group of probes (a brand, a mention mode...)."""

    key: str
    rate: Rate
    median_latency_s: float | None
    """Median time to reply *among replies* (n = rate.k); None without replies."""


def group(outcomes: Iterable[Outcome], key: Callable[[Outcome], str]) -> list[GroupResult]:
    """Response rate and median latency among replies, per group, over sent probes only."""
    groups: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        if outcome.sent_at is not None:
            groups.setdefault(key(outcome), []).append(outcome)
    results = []
    for name, members in groups.items():
        latencies = [o.latency_s for o in members if o.responded and o.latency_s is not None]
        results.append(GroupResult(
            name, Rate(sum(o.responded for o in members), len(members)),
            statistics.median(latencies) if latencies else None))
    return results


def leaderboard(outcomes: Iterable[Outcome]) -> list[GroupResult]:
    """Brands by response rate, highest first; brands with the same rate are tied (they
    share a rank, :func:`~harness.analysis.verdicts.competition_ranks`) and listed by id, the
    order every chart and table uses. A median of one or two replies breaks no tie."""
    return sorted(group(outcomes, lambda o: o.probe.brand),
                  key=lambda g: (-(g.rate.value or 0.0), g.key))
