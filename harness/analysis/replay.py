"""A replay's figures, over many seeds, beside what a past study published.

One seed of a simulation is one draw: a brand answering 3 of 20 in one seed answers 1 or 6 in
another. :func:`figures` reads the figures a study like the 2013 race published from one run's
outcomes; :func:`distribution` gives each figure's median and 95% range over runs (seeds);
:func:`against_published` says for each published figure whether it falls inside its range,
which is what a faithful replay means.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from harness.analysis.outcomes import Outcome
from harness.scenario.model import Published

Figures = dict[str, float | None]
"""One run's figures by name: ``answered``, ``answered_without_at``, ``replies:<brand>``,
``mean_among_replies_s:<brand>`` (None without replies), ``category_replies:<category>``,
``difference:<brand> vs <other>``, and ``verdict:<matchup>`` entries kept apart (see
:func:`verdict_counts`)."""


def figures(outcomes: Iterable[Outcome], brands: Sequence[str],
            categories: Sequence[str]) -> Figures:
    """The figures of one run (sent probes only; a reply counts within the window)."""
    sent = [o for o in outcomes if o.sent_at is not None]
    result: Figures = {
        "answered": sum(o.responded for o in sent),
        "answered_without_at": sum(o.responded and o.probe.mention != "at" for o in sent),
    }
    for brand in brands:
        times = [float(o.latency_s) for o in sent if o.probe.brand == brand and o.responded
                 and o.latency_s is not None]
        result[f"replies:{brand}"] = len(times)
        result[f"mean_among_replies_s:{brand}"] = statistics.fmean(times) if times else None
    by_category = Counter(o.probe.category for o in sent if o.responded)
    for category in categories:
        result[f"category_replies:{category}"] = by_category[category]
    return result


def with_differences(run: Figures, pairs: Iterable[str]) -> Figures:
    """``run`` with ``difference:<a> vs <b>`` (a's replies minus b's) for each pair."""
    extended = dict(run)
    for pair in pairs:
        first, _, second = pair.partition(" vs ")
        a, b = run.get(f"replies:{first}"), run.get(f"replies:{second}")
        extended[f"difference:{pair}"] = None if a is None or b is None else a - b
    return extended


@dataclass(frozen=True)
class Spread:
    """A figure over runs: its median and 95% range (2.5th to 97.5th percentile)."""

    name: str
    runs: int
    """Runs in which the figure exists (a mean among replies needs replies)."""
    median: float | None
    low: float | None
    high: float | None


def distribution(runs: Sequence[Figures]) -> dict[str, Spread]:
    """Each figure's median and 95% range over ``runs`` (nearest-rank percentiles)."""
    names = list(dict.fromkeys(name for run in runs for name in run))
    spreads = {}
    for name in names:
        values = sorted(v for run in runs if (v := run.get(name)) is not None)
        if not values:
            spreads[name] = Spread(name, 0, None, None, None)
            continue
        last = len(values) - 1
        spreads[name] = Spread(name, len(values), statistics.median(values),
                               values[round(0.025 * last)], values[round(0.975 * last)])
    return spreads


@dataclass(frozen=True)
class Check:
    """One published figure beside its simulated range."""

    name: str
    published: float
    spread: Spread

    @property
    def inside(self) -> bool:
        """Whether the published figure falls inside the simulated 95% range."""
        low, high = self.spread.low, self.spread.high
        return low is not None and high is not None and low <= self.published <= high


def published_figures(published: Published) -> dict[str, float]:
    """A scenario's published figures under the names :func:`figures` uses."""
    found: dict[str, float] = {}
    if published.answered is not None:
        found["answered"] = published.answered
    if published.answered_without_at is not None:
        found["answered_without_at"] = published.answered_without_at
    found |= {f"replies:{b}": k for b, k in published.replies.items()}
    found |= {f"mean_among_replies_s:{b}": t.total_seconds()
              for b, t in published.mean_among_replies.items()}
    found |= {f"category_replies:{c}": k for c, k in published.category_replies.items()}
    found |= {f"difference:{pair}": d for pair, d in published.differences.items()}
    return found


def against_published(spreads: Mapping[str, Spread], published: Published) -> list[Check]:
    """Each published figure beside its range over the simulated runs."""
    return [Check(name, value, spreads.get(name, Spread(name, 0, None, None, None)))
            for name, value in published_figures(published).items()]


def verdict_counts(verdicts: Sequence[Mapping[str, str]]) -> dict[str, Counter[str]]:
    """How often each matchup got each verdict, over runs (each run: matchup -> verdict)."""
    counts: dict[str, Counter[str]] = {}
    for run in verdicts:
        for matchup, verdict in run.items():
            counts.setdefault(matchup, Counter())[verdict] += 1
    return counts
