"""Matchup verdicts name a winner only when the evidence separates the brands."""

from __future__ import annotations

from datetime import UTC, datetime

from harness.analysis.matchups import TOO_CLOSE, matchup
from harness.analysis.outcomes import Outcome
from harness.plan.probe import Probe

SENT = datetime(2024, 3, 4, 10, 0, tzinfo=UTC)
WEEK = 7 * 86400


def outcomes(brand: str, latencies: list[int | None]) -> list[Outcome]:
    result = []
    for number, latency in enumerate(latencies):
        probe = Probe(f"{brand}-{number}", number, "ana", brand, "Retail", "x", "faq", "at", 1,
                      1, SENT, "hi")
        responded = latency is not None
        result.append(Outcome(probe, SENT, "closed", None, None, latency, responded, False,
                              int(responded), 0, 0, False, False, 0))
    return result


def test_a_clear_winner_on_rate_and_on_time() -> None:
    fast = outcomes("fast", [60, 120, 300, 600, 60, 90, 30, 45, 100, 200] + [None] * 10)
    slow = outcomes("slow", [90000] + [None] * 19)
    result = matchup(["fast", "slow"], fast + slow, WEEK)
    assert result.rate_verdict == "fast"
    assert result.time_verdict == "fast"
    assert result.time_p_value is not None and result.time_p_value < 0.05
    rates = {c.brand: (c.rate.k, c.rate.n) for c in result.contenders}
    assert rates == {"fast": (10, 20), "slow": (1, 20)}


def test_close_rates_are_too_close_to_call() -> None:
    # 4/20 against 3/20: the intervals overlap almost entirely (the 2013 race had many such).
    one = outcomes("one", [600] * 4 + [None] * 16)
    two = outcomes("two", [700] * 3 + [None] * 17)
    result = matchup(["one", "two"], one + two, WEEK)
    assert result.rate_verdict == TOO_CLOSE
    assert result.time_verdict == TOO_CLOSE


def test_two_silent_brands() -> None:
    result = matchup(["a", "b"], outcomes("a", [None] * 20) + outcomes("b", [None] * 20), WEEK)
    assert result.rate_verdict == TOO_CLOSE and result.time_verdict == TOO_CLOSE
    assert result.time_p_value is None
    assert all(c.restricted_mean_s == WEEK for c in result.contenders)


def test_a_rate_winner_needs_both_intervals_to_clear_not_just_one() -> None:
    # 10/20 = 50% (95% CI 30%-70%) against 1/4 = 25% (5%-70%): the leader's lower bound is
    # above 25%, but the other's upper bound is not below 50%.
    leader = outcomes("leader", [600] * 10 + [None] * 10)
    few = outcomes("few", [600] + [None] * 3)
    result = matchup(["leader", "few"], leader + few, WEEK)
    rates = {c.brand: (c.rate.k, c.rate.n) for c in result.contenders}
    assert rates == {"leader": (10, 20), "few": (1, 4)}
    assert result.rate_verdict == TOO_CLOSE
    # 2/3 = 67% (21%-94%) against 100/400 = 25% (21%-29%): the other's upper bound is below
    # 67%, but the leader's lower bound is not above 25%.
    lucky = outcomes("lucky", [600, 600, None])
    many = outcomes("many", [600] * 100 + [None] * 300)
    result = matchup(["many", "lucky"], many + lucky, WEEK)
    rates = {c.brand: (c.rate.k, c.rate.n) for c in result.contenders}
    assert rates == {"lucky": (2, 3), "many": (100, 400)}
    assert result.rate_verdict == TOO_CLOSE
    # both bounds clear: 12/20 = 60% (39%-78%) against 3/20 = 15% (5%-36%)
    ahead = outcomes("ahead", [600] * 12 + [None] * 8)
    behind = outcomes("behind", [600] * 3 + [None] * 17)
    assert matchup(["behind", "ahead"], ahead + behind, WEEK).rate_verdict == "ahead"
