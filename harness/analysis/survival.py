"""Time to reply, censored at the observation window: Kaplan-Meier curves and summaries.

Most probes are never answered, so a mean or median over replies alone says little and a
median over all probes usually does not exist. Instead: the share answered within a given
time (1 - the Kaplan-Meier survival), and the restricted mean time to reply up to the window
(the area under the survival curve), with every unanswered probe counted as censored.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from harness.analysis.outcomes import Outcome


@dataclass(frozen=True)
class ReplyCurve:
    """The Kaplan-Meier estimate of the share answered by each time (seconds after sending)."""

    times: tuple[float, ...]
    answered: tuple[float, ...]
    """Share answered by ``times[i]`` (1 - survival), non-decreasing."""
    n: int
    replies: int
    horizon: float
    """How far the curve is observed (the observation window), in seconds."""

    def answered_within(self, seconds: float) -> float:
        """Estimated share of probes answered within ``seconds``."""
        share = 0.0
        for time, value in zip(self.times, self.answered, strict=True):
            if time > seconds:
                break
            share = value
        return share

    def restricted_mean(self) -> float:
        """Mean time to reply, in seconds, with never-answered probes counted at the horizon
        (the area under the survival curve from 0 to the horizon)."""
        area, last_time, survival = 0.0, 0.0, 1.0
        for time, value in zip(self.times, self.answered, strict=True):
            if time >= self.horizon:
                break
            area += survival * (time - last_time)
            last_time, survival = time, 1.0 - value
        return area + survival * (self.horizon - last_time)


def durations(outcomes: Iterable[Outcome], window: float,
              as_of: datetime | None = None) -> tuple[list[float], list[float]]:
    """``(reply times, censoring times)`` in seconds for sent probes: a probe answered in
    the window is an event; any other is censored at the window, or, while still open, at
    the time observed so far (``as_of`` minus when it was sent)."""
    events, censored = [], []
    for outcome in outcomes:
        if outcome.sent_at is None:
            continue
        if outcome.responded and outcome.latency_s is not None:
            events.append(float(outcome.latency_s))
        elif outcome.status == "open" and as_of is not None:
            censored.append(min(window, max(0.0, (as_of - outcome.sent_at).total_seconds())))
        else:
            censored.append(window)
    return events, censored


def reply_curve(outcomes: Iterable[Outcome], window: float,
                as_of: datetime | None = None) -> ReplyCurve:
    """The Kaplan-Meier reply curve of the sent probes among ``outcomes``."""
    events, censored = durations(outcomes, window, as_of)
    return kaplan_meier(events, censored, window)


def kaplan_meier(events: Sequence[float], censored: Sequence[float],
                 horizon: float) -> ReplyCurve:
    """Kaplan-Meier from event times and right-censoring times (scipy's ``ecdf``)."""
    n = len(events) + len(censored)
    if not events:
        return ReplyCurve((), (), n, 0, horizon)
    from scipy.stats import CensoredData, ecdf

    result = ecdf(CensoredData(uncensored=list(events), right=list(censored)))
    times = tuple(float(t) for t in result.sf.quantiles)
    answered = tuple(1.0 - float(p) for p in result.sf.probabilities)
    return ReplyCurve(times, answered, n, len(events), horizon)
