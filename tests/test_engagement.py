"""Engagement levels from timestamps and cross-channel replies; tiers from the leaderboard."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from harness.analysis.engagement import Thresholds, distribution, level, tier
from harness.analysis.leaderboard import GroupResult
from harness.analysis.outcomes import Outcome
from harness.analysis.rates import Rate
from harness.plan.probe import Probe

SENT = datetime(2024, 3, 4, 10, 0, tzinfo=UTC)
PROBE = Probe("p", 0, "ana", "b", "Retail", "x", "faq", "at", 1, 1, SENT, "hi")


def outcome(latency: int | None, *, dm: bool = False, email: bool = False,
            sent: bool = True) -> Outcome:
    responded = latency is not None
    return Outcome(PROBE, SENT if sent else None, "closed" if sent else "planned", None,
                   "public_reply" if responded else None, latency, responded, False,
                   int(responded), 0, 0, dm, email, 0)


@pytest.mark.parametrize(("latency", "dm", "email", "expected"), [
    (None, False, False, 0),
    (3 * 86400, False, False, 1),
    (86401, False, False, 1),
    (86400, False, False, 2),
    (3601, False, False, 2),
    (3600, False, False, 3),
    (60, False, False, 3),
    (60, True, False, 4),
    (7200, True, False, 4),
    (60, True, True, 5),
    (None, True, True, 0),  # no reply in the window: nothing else counts
])
def test_levels_follow_timestamps_and_cross_channel_replies(latency: int | None, dm: bool,
                                                            email: bool, expected: int) -> None:
    assert level(outcome(latency, dm=dm, email=email)) == expected


def test_thresholds_are_configurable() -> None:
    assert level(outcome(1800), Thresholds(quick_s=900)) == 2
    assert level(outcome(7200), Thresholds(quick_s=900, slow_s=3600)) == 1


def test_distribution_counts_sent_probes_at_every_level() -> None:
    results = [outcome(None), outcome(None), outcome(60), outcome(60, dm=True),
               outcome(None, sent=False)]
    assert distribution(results) == {0: 2, 1: 0, 2: 0, 3: 1, 4: 1, 5: 0}


def test_tiers() -> None:
    assert tier(GroupResult("a", Rate(0, 20), None)) == "no response"
    assert tier(GroupResult("b", Rate(3, 20), 1140)) == "fast responders"
    assert tier(GroupResult("c", Rate(3, 20), 104_000)) == "slow responders"
    assert tier(GroupResult("c", Rate(3, 20), 1800), fast_s=600) == "slow responders"


def test_scenario_report_settings_set_levels_and_the_export() -> None:
    from harness.analysis.engagement import thresholds_of
    from harness.session.scenarios import load_scenario_text

    from .conftest import SMALL

    text = SMALL + "report: {quick_reply: 15m, slow_reply: 2h, fast_tier: 10m}\n"
    scenario = load_scenario_text(text, "s.yaml")
    assert thresholds_of(scenario.report) == Thresholds(900, 7200)
    assert outcome(1800).row(UTC, 900, 7200)["level"] == 2
    assert outcome(9000).row(UTC, 900, 7200)["level"] == 1
    assert outcome(60).row(UTC)["level_coded"] is None
    bad = SMALL + "report: {quick_reply: 2h, slow_reply: 1h}\n"
    from harness.errors import ScenarioError

    with pytest.raises(ScenarioError, match="quick_reply must be shorter than slow_reply"):
        load_scenario_text(bad, "s.yaml")
