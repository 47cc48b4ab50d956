"""Business-hours and weekend behaviour of a brand, decided from its replies.

A simulated brand (``channels/sim/behaviour.py``) answers off-hours messages at once
(``off_hours: answer``) or counts its delay in opening hours only (``queue``: replies then land
only in opening hours); on a non-business day it answers (``weekends: answer``, and its week
has seven working days), starts the clock at the next opening (``queue``) or sends nothing at
all, not even an acknowledgement (``ignore``).

The rules, in order:

1. ``weekends: ignore`` when no message sent on a non-business day drew any reaction (a reply
   or an acknowledgement, in the window or later) while business days did, and Fisher's exact
   test (one-sided) puts the difference below p = 0.05. Those messages then leave every
   other fit (the brand would not have seen them).
2. Otherwise, and for ``off_hours`` in any case: each combination of settings turns every
   reply's calendar delay into the delay the brand "worked" (calendar time; opening time only;
   or from the next opening), a log-normal is fitted to those (``lognormal_fit``) and the
   combinations are compared by the likelihood of the replies' calendar times. A reply one
   combination cannot produce (outside opening hours under ``queue``) is kept by a 1%
   contamination with a reference log-normal of the calendar delays, so one stray reply does
   not rule a combination out. A setting departs from the model's default (``answer``,
   ``queue``) only when the data favour it by more than 2 log-likelihood units (a likelihood
   ratio above e^2, about 7.4) and at least 5 replies tell the two apart (their worked delays
   differ: sent off-hours, or crossing a closing time or a weekend): no evidence, or too
   little, keeps the default.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

import numpy as np
from scipy.stats import fisher_exact, norm

from harness.analysis.lognormal_fit import LatencyFit, fit_latency
from harness.analysis.open_time import OpenTime
from harness.hours import WEEKDAYS, Hours
from harness.plan.probe import Probe
from harness.scenario.model import Brand

Policy = tuple[str, str]
"""(``off_hours``, ``weekends``)."""
DEFAULT: Policy = ("answer", "queue")
MARGIN = 2.0
MIN_TELLING = 5
CONTAMINATION = 0.01
IGNORE_P = 0.05


class Observation(NamedTuple):
    """One first message a brand was sent, and what came of it."""

    probe: Probe
    sent_at: datetime
    reply_at: datetime | None
    """The brand's first reply, if within the observation window."""
    reacted: bool
    """Any reply or acknowledgement from the brand, whenever."""
    ack_after: float | None
    ack_kind: str | None
    direct_message: bool
    email: bool | None
    """``None`` on an email channel, where an email is the answer, not a move."""
    follow_ups: tuple[tuple[datetime, bool], ...]
    """Each follow-up sent: when, and whether the brand answered it."""


class Clocks:
    """A brand's opening hours over a run's span: on its working days and on all seven."""

    def __init__(self, brand: Brand, zone: str, first: datetime, last: datetime,
                 window: float) -> None:
        hours = brand.business_hours
        tz = ZoneInfo(zone)
        low = (first - timedelta(days=2)).astimezone(tz).date()
        high = (last + timedelta(seconds=window, days=10)).astimezone(tz).date()
        self.hours = Hours.of(hours.days, hours.open, hours.close, zone)
        self.workdays = OpenTime(hours.days, hours.open, hours.close, tz, low, high)
        self.all_days = OpenTime(WEEKDAYS, hours.open, hours.close, tz, low, high)

    def business_day(self, moment: datetime) -> bool:
        """Whether ``moment`` falls on one of the brand's working days."""
        return self.hours.is_business_day(moment)


@dataclass(frozen=True)
class HoursDecision:
    """The settings chosen, why, and the delays under them."""

    policy: Policy
    scores: dict[Policy, float]
    """Log-likelihood of the replies' calendar times under each combination tried."""
    eligible: list[Observation]
    """The messages the brand saw (all, or business days only under ``ignore``)."""
    windows: list[float]
    """Per eligible message: the worked delay its window allowed, under ``policy``."""
    fit: LatencyFit | None
    evidence: dict[str, object]


def worked(policy: Policy, obs: Observation, clocks: Clocks,
           window: float) -> tuple[float | None, float]:
    """(the reply's worked delay, or ``None`` if ``policy`` cannot produce it; the worked
    delay the window allowed), in seconds."""
    off_hours, weekends = policy
    sent = obs.sent_at
    if off_hours == "queue":
        clock = clocks.all_days if weekends == "answer" else clocks.workdays
        allowed = clock.elapsed(sent, sent + timedelta(seconds=window))
        if obs.reply_at is None:
            return None, allowed
        if not clock.ends_open(obs.reply_at):
            return None, allowed
        return max(clock.elapsed(sent, obs.reply_at), 1.0), allowed
    start = sent
    if weekends == "queue" and not clocks.business_day(sent):
        start = clocks.workdays.next_open(sent) or sent
    allowed = window - (start - sent).total_seconds()
    if obs.reply_at is None:
        return None, allowed
    delay = (obs.reply_at - start).total_seconds()
    return (max(delay, 1.0) if delay > 0 else None), allowed


def decide(observations: Sequence[Observation], clocks: Clocks, window: float) -> HoursDecision:
    """Choose ``off_hours`` and ``weekends`` for one brand (rules in the module docstring)."""
    ignore, weekend_evidence = _ignores_weekends(observations, clocks)
    eligible = [o for o in observations if not ignore or clocks.business_day(o.sent_at)]
    candidates: list[Policy] = ([("answer", "ignore"), ("queue", "ignore")] if ignore else
                                [DEFAULT, ("answer", "answer"), ("queue", "queue"),
                                 ("queue", "answer")])
    default = candidates[0]
    replied = [o for o in eligible if o.reply_at is not None]
    calendar = [max((o.reply_at - o.sent_at).total_seconds(), 1.0)
                for o in replied if o.reply_at is not None]
    background = _background(calendar, window)
    scores: dict[Policy, float] = {}
    fits: dict[Policy, tuple[LatencyFit | None, list[float]]] = {}
    delays: dict[Policy, list[float | None]] = {}
    for policy in candidates:
        pairs = [worked(policy, o, clocks, window) for o in eligible]
        seen = [(d, w) for (d, w), o in zip(pairs, eligible, strict=True)
                if o.reply_at is not None]
        fit = fit_latency([d for d, _ in seen if d is not None],
                          [w for d, w in seen if d is not None])
        fits[policy] = (fit, [w for _, w in pairs])
        delays[policy] = [d for d, _ in seen]
        scores[policy] = _score(fit, seen, background)
    choice = max(candidates, key=lambda p: scores[p])
    for dimension in (0, 1):
        back = list(choice)
        back[dimension] = default[dimension]
        fallback = (back[0], back[1])
        telling = sum(1 for a, b in zip(delays[choice], delays[fallback], strict=True)
                      if a is None or b is None or abs(a - b) > 1.0)
        if fallback != choice and (scores[choice] - scores[fallback] <= MARGIN
                                   or telling < MIN_TELLING):
            choice = fallback
    fit, windows = fits[choice]
    evidence = {"weekends": weekend_evidence, "sent": _by_send_time(eligible, clocks),
                "replies_outside_hours": sum(
                    1 for o in replied if o.reply_at is not None
                    and not clocks.workdays.ends_open(o.reply_at)),
                "log_likelihood": {f"{p[0]}/{p[1]}": round(s - scores[choice], 2)
                                   for p, s in scores.items()}}
    return HoursDecision(choice, scores, eligible, windows, fit, evidence)


def _ignores_weekends(observations: Sequence[Observation],
                      clocks: Clocks) -> tuple[bool, dict[str, object]]:
    weekend = [o for o in observations if not clocks.business_day(o.sent_at)]
    weekday = [o for o in observations if clocks.business_day(o.sent_at)]
    k_we, k_bd = sum(o.reacted for o in weekend), sum(o.reacted for o in weekday)
    evidence: dict[str, object] = {
        "non_business_day": {"reacted": k_we, "n": len(weekend)},
        "business_day": {"reacted": k_bd, "n": len(weekday)}}
    if not weekend or k_we or not k_bd:
        return False, evidence
    _, p = fisher_exact([[k_we, len(weekend) - k_we], [k_bd, len(weekday) - k_bd]],
                        alternative="less")
    evidence["fisher_p"] = float(f"{p:.3g}")
    return bool(p < IGNORE_P), evidence


def _background(calendar: Sequence[float], window: float) -> list[float]:
    """Each reply's log density under the contamination: a log-normal fitted to the calendar
    delays themselves (truncated at the window), weighted by :data:`CONTAMINATION`."""
    d = np.asarray(calendar, dtype=float)
    if d.size == 0:
        return []
    logs = np.log(d)
    sigma = float(np.std(logs)) if d.size > 1 else 1.0
    sigma = sigma if sigma > 0.05 else 1.0
    mu = float(np.mean(logs))
    density = (norm.logpdf((logs - mu) / sigma) - math.log(sigma) - logs
               - norm.logcdf((math.log(window) - mu) / sigma))
    return [math.log(CONTAMINATION) + float(v) for v in density]


def _score(fit: LatencyFit | None, seen: Sequence[tuple[float | None, float]],
           background: Sequence[float]) -> float:
    """The contaminated log-likelihood of the replies' calendar times: each is
    ``(1 - c) * model + c * background``; a reply the combination cannot produce has only the
    background. The model's density of a worked delay is that of the calendar time (the
    map between them has slope 1 wherever the combination can reply)."""
    possible = [(d, w) for d, w in seen if d is not None]
    model = iter(fit.log_density([d for d, _ in possible], [w for _, w in possible])
                 if fit is not None and possible else [])
    total = 0.0
    for (delay, _), other in zip(seen, background, strict=True):
        if delay is None:
            total += other
        else:
            total += float(np.logaddexp(math.log1p(-CONTAMINATION) + float(next(model)), other))
    return total


def _by_send_time(observations: Sequence[Observation], clocks: Clocks) -> dict[str, object]:
    """Messages sent in opening hours, outside them on a working day, and on other days:
    how many, how many answered, and the median calendar delay of those answers."""
    groups: dict[str, list[Observation]] = {"open": [], "closed": [], "non_business_day": []}
    for o in observations:
        key = ("open" if clocks.hours.is_open(o.sent_at) else "closed") \
            if clocks.business_day(o.sent_at) else "non_business_day"
        groups[key].append(o)
    result: dict[str, object] = {}
    for key, members in groups.items():
        delays = [(o.reply_at - o.sent_at).total_seconds() for o in members
                  if o.reply_at is not None]
        result[key] = {"n": len(members), "answered": len(delays),
                       "median_delay_s": round(statistics.median(delays)) if delays else None}
    return result
