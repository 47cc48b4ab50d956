"""The business-hours view sorts probes by the brand's own opening hours."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from harness.analysis.hours_view import business_hours_view, inside_hours
from harness.analysis.outcomes import Outcome
from harness.hours import Hours
from harness.plan.probe import Probe

HOURS = {"nyc": Hours.of(["mon", "tue", "wed", "thu", "fri"], time(9), time(17),
                         "America/New_York")}


def sent_at(when: datetime, latency: int | None) -> Outcome:
    probe = Probe("p", 0, "ana", "nyc", "Retail", "x", "faq", "at", 1, 1, when, "hi")
    responded = latency is not None
    return Outcome(probe, when, "closed", None, None, latency, responded, False,
                   int(responded), 0, 0, False, False, 0)


def test_hours_are_the_brands_own() -> None:
    # 14:00 UTC on a Monday in March 2024 is 10:00 in New York (EDT from 10 March).
    assert inside_hours(sent_at(datetime(2024, 3, 11, 14, 0, tzinfo=UTC), None), HOURS)
    # 13:30 UTC the Monday before is 08:30 EST: not yet open.
    assert not inside_hours(sent_at(datetime(2024, 3, 4, 13, 30, tzinfo=UTC), None), HOURS)
    # Saturday.
    assert not inside_hours(sent_at(datetime(2024, 3, 9, 16, 0, tzinfo=UTC), None), HOURS)


def test_view_splits_rates_and_speed_by_side() -> None:
    inside = [sent_at(datetime(2024, 3, 11, 14, 0, tzinfo=UTC), 600) for _ in range(3)]
    outside = [sent_at(datetime(2024, 3, 9, 16, 0, tzinfo=UTC), latency)
               for latency in (50_000, None, None, None)]
    view = business_hours_view(inside + outside, HOURS, window=7 * 86400)
    assert (view["inside"].rate.k, view["inside"].rate.n) == (3, 3)
    assert view["inside"].answered_within_1h == pytest.approx(1.0)
    assert (view["outside"].rate.k, view["outside"].rate.n) == (1, 4)
    assert view["outside"].answered_within_1h == 0.0
    assert view["outside"].restricted_mean_s == pytest.approx((50_000 + 3 * 7 * 86400) / 4)
