"""A brand's calibration as a scenario ``simulate:`` profile, and the evidence beside it.

The profile holds only values :class:`harness.scenario.model.SimulateProfile` accepts, so it
can be pasted under a brand of the next scenario; what it was fitted from (k, n, intervals,
the off-hours and weekend evidence) goes in a separate mapping that no scenario reads.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from harness.analysis.calibration import BrandCalibration, Estimate
from harness.durations import compact_duration
from harness.scenario.model import Latency

MAX_MULTIPLIER = 10.0  # as SimulateProfile.category allows
MAX_SPREAD = 4.0  # as Latency.spread allows
DEFAULT_MINIMUM = Latency().minimum.total_seconds()


def simulate_profile(cal: BrandCalibration) -> dict[str, Any]:
    """The ``simulate:`` mapping of a brand, as plain data (durations written as in scenarios;
    a setting the run could not measure is left out, so the scenario default applies). The
    latency's floor is written when replies piled up on it, or when the shortest delay seen is
    below the default floor; otherwise the data say only that the floor is at most the shortest
    delay, and the default (30s) agrees with that."""
    profile: dict[str, Any] = {"reply": {mode: _round(e.value) for mode, e in cal.reply.items()}}
    if cal.category:
        profile["category"] = {c: _round(min(e.value, MAX_MULTIPLIER))
                               for c, e in cal.category.items()}
    if cal.latency is not None:
        latency: dict[str, Any] = {"median": _duration(cal.latency.median.value)}
        if cal.latency.spread is not None:
            latency["spread"] = _round(min(cal.latency.spread.value, MAX_SPREAD))
        if cal.latency.at_floor >= 2 or cal.latency.minimum.value < DEFAULT_MINIMUM:
            latency["minimum"] = _duration(cal.latency.minimum.value)
        profile["latency"] = latency
    profile["off_hours"], profile["weekends"] = cal.hours.policy
    for key in ("direct_message", "email", "follow_up_reply"):
        estimate: Estimate | None = getattr(cal, key)
        if estimate is not None:
            profile[key] = _round(estimate.value)
    if cal.auto_ack is not None:
        profile["auto_ack"] = {"probability": _round(cal.auto_ack.probability.value),
                               "after": _duration(cal.auto_ack.after.value),
                               "kind": cal.auto_ack.kind}
    return profile


def evidence(cal: BrandCalibration) -> dict[str, Any]:
    """What the profile of a brand rests on: counts, intervals and the hours evidence."""
    latency: dict[str, Any] | None = None
    if cal.latency is not None:
        fit = cal.latency
        latency = {
            "replies": fit.replies,
            "median": _duration(fit.median.value),
            "median_interval": [_duration(fit.median.low, 0), _duration(fit.median.high, 0)],
            "spread": _round(fit.spread.value) if fit.spread else None,
            "spread_interval": [_round(fit.spread.low), _round(fit.spread.high)]
            if fit.spread else None,
            "minimum": _duration(fit.minimum.value),
            "minimum_interval": [_duration(fit.minimum.low, 0), _duration(fit.minimum.high, 0)],
            "replies_at_minimum": fit.at_floor,
        }
    hours = cal.hours.evidence
    return {
        "first_messages": cal.sent,
        "reply": {mode: _counted(e, "answered", "sent") for mode, e in cal.reply.items()},
        "category": {c: _counted(e, "answered", "sent") for c, e in cal.category.items()},
        "latency": latency,
        "hours": {"off_hours": cal.hours.policy[0], "weekends": cal.hours.policy[1],
                  "sent": hours["sent"], "replies_outside_hours": hours["replies_outside_hours"],
                  "weekend_reactions": hours["weekends"],
                  "log_likelihood": hours["log_likelihood"]},
        "direct_message": _counted(cal.direct_message, "moved", "answered"),
        "email": _counted(cal.email, "moved", "answered"),
        "follow_up_reply": _counted(cal.follow_up_reply, "answered", "sent"),
        "auto_ack": None if cal.auto_ack is None else {
            "acknowledged": cal.auto_ack.probability.k, "sent": cal.auto_ack.probability.n,
            "value": _round(cal.auto_ack.probability.value),
            "interval": [_round(cal.auto_ack.probability.low),
                         _round(cal.auto_ack.probability.high)],
            "after": _duration(cal.auto_ack.after.value),
            "after_interval": [_duration(cal.auto_ack.after.low, 0),
                               _duration(cal.auto_ack.after.high, 0)],
            "kind": cal.auto_ack.kind},
        "notes": list(cal.notes),
    }


def _counted(estimate: Estimate | None, done: str, of: str) -> dict[str, Any] | None:
    if estimate is None:
        return None
    return {done: estimate.k, of: estimate.n, "value": _round(estimate.value),
            "interval": [_round(estimate.low), _round(estimate.high)]}


def _round(value: float) -> float:
    return round(float(value), 3)


def _duration(seconds: float, least: int = 1) -> str:
    """Whole seconds as a scenario duration (profiles need at least a second; intervals may
    start at ``0s``)."""
    return compact_duration(timedelta(seconds=max(round(seconds), least)))
