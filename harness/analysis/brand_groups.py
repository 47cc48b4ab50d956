"""Each brand's figures within each category and each channel: the cells of brand x group.

Every brand meets every category and channel of the scenario, asked or not, so a table of
them has no holes: a cell the plan never filled has ``planned`` 0 and n 0 (no rate, no
interval, no curve). The figures are the leaderboard's, over the cell's probes: k of n sent
answered within the window with the Wilson interval, the median among replies, the
Kaplan-Meier share answered within an hour and the restricted mean (unanswered probes
censored at the window), the tier, and the engagement levels as ``engagement`` counts them.

With every unanswered probe censored at the window and every reply within it, the
Kaplan-Meier curve is the empirical one: the share answered within an hour is the replies
within the hour over n, the restricted mean the mean of ``min(latency, window)`` with the
unanswered at the window. They are computed so here, as
:func:`~harness.analysis.survival.reply_curve` would give them (a test holds the two
equal), without its cost in each of the thousands of cells of a large race.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import NamedTuple

from harness.analysis.dimensions import KEYS, Dimension
from harness.analysis.engagement import Thresholds, level, tier
from harness.analysis.figures import BrandGroupEntry, RateFigure
from harness.analysis.leaderboard import GroupResult
from harness.analysis.outcomes import Outcome
from harness.analysis.rates import Rate
from harness.scenario.model import Scenario

BRAND_GROUPS: tuple[Dimension, ...] = ("category", "channel")
"""The groupings of ``summary.json``'s ``brand_groups``, in its order."""
HOUR = 3600.0
LEVELS = range(6)


class _Seen(NamedTuple):
    """What a cell needs of one planned probe."""

    sent: bool
    responded: bool
    reply_s: int | None
    """Its latency in whole seconds, if answered within the window."""
    level: int


def brand_groups(outcomes: Sequence[Outcome], scenario: Scenario,
                 thresholds: Thresholds) -> dict[str, tuple[BrandGroupEntry, ...]]:
    """Per grouping, the cell of every brand and group, by brand id then group id."""
    window = scenario.schedule.observation_window.total_seconds()
    brands = sorted({b.id for b in scenario.brands} | {o.probe.brand for o in outcomes})
    known = {"category": {c.id for c in scenario.categories},
             "channel": {c.id for c in scenario.channels}}
    settings = scenario.report
    fast_s, min_replies = settings.fast_tier.total_seconds(), settings.min_replies
    seen = [_Seen(o.sent_at is not None, o.sent_at is not None and o.responded,
                  o.latency_s if o.sent_at is not None and o.responded else None,
                  level(o, thresholds) if o.responded else 0) for o in outcomes]
    result: dict[str, tuple[BrandGroupEntry, ...]] = {}
    for name in BRAND_GROUPS:
        key = KEYS[name]
        cells: dict[tuple[str, str], list[_Seen]] = {}
        for outcome, mine in zip(outcomes, seen, strict=True):
            cells.setdefault((outcome.probe.brand, key(outcome)), []).append(mine)
        groups = sorted(known[name] | {group for _, group in cells})
        result[name] = tuple(_cell(brand, group, cells.get((brand, group), []), window,
                                   fast_s, min_replies)
                             for brand in brands for group in groups)
    return result


def _cell(brand: str, group: str, planned: list[_Seen], window: float, fast_s: float,
          min_replies: int) -> BrandGroupEntry:
    sent = [s for s in planned if s.sent]
    times = [s.reply_s for s in sent if s.reply_s is not None]
    n = len(sent)
    counts = {value: 0 for value in LEVELS}
    for s in sent:
        counts[s.level] += 1
    rate = Rate(sum(s.responded for s in sent), n)
    median = statistics.median(times) if times else None
    return BrandGroupEntry(
        brand=brand, group=group, planned=len(planned), answered=RateFigure.of(rate),
        median_among_replies_s=median,
        replies_n=len(times),
        answered_within_1h=sum(t <= HOUR for t in times) / n if n else None,
        restricted_mean_s=(sum(min(t, window) for t in times) + (n - len(times)) * window) / n
        if n else None,
        tier=tier(GroupResult(brand, rate, median), fast_s, min_replies) if n else None,
        levels=counts)
