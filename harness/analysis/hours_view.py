"""The business-hours view: were probes sent inside the brand's opening hours, and how did
replies to those sent outside them fare?"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from harness.analysis.outcomes import Outcome
from harness.analysis.rates import Rate
from harness.analysis.survival import reply_curve
from harness.hours import Hours


@dataclass(frozen=True)
class HoursGroup:
    """Probes sent inside (or outside) business hours and how they were answered."""

    rate: Rate
    answered_within_1h: float
    answered_within_1h_k: int
    restricted_mean_s: float


def inside_hours(outcome: Outcome, hours: Mapping[str, Hours]) -> bool:
    """Whether the probe was sent while its brand was open."""
    return outcome.sent_at is not None and hours[outcome.probe.brand].is_open(outcome.sent_at)


def business_hours_view(outcomes: Iterable[Outcome], hours: Mapping[str, Hours],
                        window: float) -> dict[str, HoursGroup]:
    """``{"inside": ..., "outside": ...}`` over sent probes (a side with none is left out)."""
    sides: dict[str, list[Outcome]] = {"inside": [], "outside": []}
    for outcome in outcomes:
        if outcome.sent_at is not None:
            sides["inside" if inside_hours(outcome, hours) else "outside"].append(outcome)
    view = {}
    for side, members in sides.items():
        if members:
            curve = reply_curve(members, window)
            quick = sum(1 for o in members if o.responded and (o.latency_s or 0) <= 3600)
            view[side] = HoursGroup(Rate(sum(o.responded for o in members), len(members)),
                                    curve.answered_within(3600), quick,
                                    curve.restricted_mean())
    return view
