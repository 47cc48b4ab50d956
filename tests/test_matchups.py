"""Matchup verdicts are tests at a stated level: rates by an exact test, speed among replies
only and with enough replies, several matchups under Holm's correction; ties share a rank."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from scipy.stats import boschloo_exact, fisher_exact, mannwhitneyu

from harness.analysis.matchups import judge, matchup
from harness.analysis.outcomes import Outcome
from harness.analysis.rates import Rate
from harness.analysis.verdicts import (
    TOO_CLOSE,
    TOO_FEW,
    competition_ranks,
    difference_interval,
    holm,
    rate_p_value,
    speed_p_value,
)
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


def test_a_clear_rate_winner_and_no_speed_verdict_on_one_reply() -> None:
    fast = outcomes("fast", [60, 120, 300, 600, 60, 90, 30, 45, 100, 200] + [None] * 10)
    slow = outcomes("slow", [90000] + [None] * 19)
    result = judge([matchup(["fast", "slow"], fast + slow, WEEK)])[0]
    rates = {c.brand: (c.rate.k, c.rate.n) for c in result.contenders}
    assert rates == {"fast": (10, 20), "slow": (1, 20)}
    assert result.rate_p_value == pytest.approx(fisher_exact([[10, 10], [1, 19]])[1], rel=1e-12)
    assert result.rate_verdict == "fast" and result.leader == "fast"
    assert result.difference == pytest.approx(0.45)
    # one reply says nothing about a brand's speed: no verdict, not "slower"
    assert result.time_verdict == TOO_FEW and result.speed_p_value is None


def test_close_rates_are_too_close_to_call() -> None:
    one = outcomes("one", [600] * 4 + [None] * 16)
    two = outcomes("two", [700] * 3 + [None] * 17)
    result = judge([matchup(["one", "two"], one + two, WEEK)])[0]
    assert result.rate_verdict == TOO_CLOSE
    assert result.time_verdict == TOO_FEW  # 4 and 3 replies: under the 5 needed


def test_four_of_twenty_against_none_is_not_a_win() -> None:
    """The old rule named a winner here; Fisher's exact test says p = 0.11."""
    four = outcomes("four", [600] * 4 + [None] * 16)
    none = outcomes("none", [None] * 20)
    result = judge([matchup(["none", "four"], four + none, WEEK)])[0]
    assert result.rate_p_value == pytest.approx(fisher_exact([[4, 16], [0, 20]])[1], rel=1e-12)
    assert round(result.rate_p_value or 0.0, 2) == 0.11
    assert result.rate_verdict == TOO_CLOSE


def test_two_silent_brands() -> None:
    result = judge([matchup(["a", "b"], outcomes("a", [None] * 20)
                            + outcomes("b", [None] * 20), WEEK)])[0]
    assert result.rate_verdict == TOO_CLOSE and result.time_verdict == TOO_FEW
    assert result.rate_p_value == 1.0 and result.speed_p_value is None
    assert result.difference == 0.0
    assert all(c.restricted_mean_s == WEEK for c in result.contenders)


def test_speed_is_compared_among_replies_not_mixed_with_the_rate() -> None:
    """10/20 after about 20 hours is not faster than 6/20 within five minutes."""
    many_slow = outcomes("slowpoke", [72000 + 60 * i for i in range(10)] + [None] * 10)
    few_quick = outcomes("quick", [120 + 20 * i for i in range(6)] + [None] * 14)
    result = judge([matchup(["slowpoke", "quick"], many_slow + few_quick, WEEK)])[0]
    assert result.faster == "quick" and result.slower == "slowpoke"
    expected = mannwhitneyu([120.0 + 20 * i for i in range(6)],
                            [72000.0 + 60 * i for i in range(10)]).pvalue
    assert result.speed_p_value == pytest.approx(expected, rel=1e-12)
    assert result.time_verdict == "quick"
    assert result.rate_verdict == TOO_CLOSE  # 10/20 against 6/20: p = 0.33


def test_the_reply_minimum_is_the_scenarios_to_set() -> None:
    a = outcomes("a", [60] * 3 + [None] * 17)
    b = outcomes("b", [6000] * 3 + [None] * 17)
    assert judge([matchup(["a", "b"], a + b, WEEK)])[0].time_verdict == TOO_FEW
    lowered = judge([matchup(["a", "b"], a + b, WEEK, min_replies=3)])[0]
    assert lowered.speed_p_value is not None and lowered.faster == "a"


def test_holm_adjusts_a_family_and_leaves_missing_tests_out() -> None:
    assert holm([0.01, 0.04, 0.03, None]) == pytest.approx([0.03, 0.06, 0.06, None])
    assert holm([]) == []
    assert holm([None, None]) == [None, None]
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # never above 1, never decreasing
    assert holm([0.2, 0.01]) == pytest.approx([0.2, 0.02])
    assert holm([0.6, 0.7, 0.8]) == pytest.approx([1.0, 1.0, 1.0])


def test_a_winner_alone_is_not_a_winner_among_seven() -> None:
    clear = outcomes("hd", [600] * 7 + [None] * 13) + outcomes("wm", [None] * 20)
    alone = judge([matchup(["wm", "hd"], clear, WEEK)])[0]
    assert alone.rate_p_value == pytest.approx(0.0083, abs=1e-4)
    assert alone.rate_verdict == "hd"
    others = [matchup([f"x{i}", f"y{i}"], outcomes(f"x{i}", [600] * 2 + [None] * 18)
                      + outcomes(f"y{i}", [600] * 2 + [None] * 18), WEEK) for i in range(6)]
    family = judge([matchup(["wm", "hd"], clear, WEEK), *others])
    assert family[0].rate_p_adjusted == pytest.approx(7 * alone.rate_p_value)  # type: ignore
    assert family[0].rate_verdict == TOO_CLOSE


def test_brands_of_equal_rates_get_a_winner_in_at_most_alpha_of_studies() -> None:
    """Seven matchups of 20 v 20 at equal true rates: a study names any winner at most 5%
    of the time (Monte Carlo over 2,000 studies; three standard errors of slack)."""
    draw = random.Random(11)
    studies, with_winner = 2000, 0
    for _ in range(studies):
        rate = draw.choice((0.1, 0.25, 0.45))
        family = []
        for index in range(7):
            k = [sum(draw.random() < rate for _ in range(20)) for _ in range(2)]
            family.append(matchup([f"a{index}", f"b{index}"],
                                  outcomes(f"a{index}", [600] * k[0] + [None] * (20 - k[0]))
                                  + outcomes(f"b{index}", [600] * k[1] + [None] * (20 - k[1])),
                                  WEEK))
        with_winner += any(m.rate_verdict != TOO_CLOSE for m in judge(family))
    assert with_winner / studies <= 0.05 + 3 * (0.05 * 0.95 / studies) ** 0.5


def test_boschloo_is_there_for_more_power() -> None:
    first, second = Rate(7, 20), Rate(1, 20)
    fisher = rate_p_value(first, second)
    boschloo = rate_p_value(first, second, "boschloo")
    expected = boschloo_exact([[7, 13], [1, 19]], alternative="two-sided").pvalue
    assert boschloo == pytest.approx(expected, rel=1e-9)
    assert fisher is not None and boschloo is not None and boschloo < fisher
    assert rate_p_value(Rate(0, 20), Rate(0, 20), "boschloo") == 1.0  # scipy says NaN
    assert rate_p_value(Rate(0, 0), Rate(3, 20)) is None
    result = judge([matchup(["a", "b"], outcomes("a", [60] * 7 + [None] * 13)
                            + outcomes("b", [60] + [None] * 19), WEEK, test="boschloo")])[0]
    assert result.rate_test == "Boschloo's exact test"


def test_the_difference_interval_is_newcombes() -> None:
    """Method 10 of Newcombe (1998), his examples (a) and (b), and the edges."""
    low, high = difference_interval(Rate(56, 70), Rate(48, 80)) or (0.0, 0.0)
    assert (round(low, 4), round(high, 4)) == (0.0524, 0.3339)
    low, high = difference_interval(Rate(9, 10), Rate(3, 10)) or (0.0, 0.0)
    assert (round(low, 4), round(high, 4)) == (0.1705, 0.8090)
    low, high = difference_interval(Rate(10, 10), Rate(0, 10)) or (0.0, 0.0)
    assert round(low, 4) == 0.6075 and high == 1.0  # exact at the edge
    none = difference_interval(Rate(0, 10), Rate(0, 10))
    assert none is not None and none[0] == pytest.approx(-none[1])
    assert difference_interval(Rate(0, 0), Rate(1, 2)) is None


def test_speed_needs_enough_replies_on_both_sides() -> None:
    assert speed_p_value([1.0] * 5, [2.0] * 4) is None
    assert speed_p_value([1.0] * 5, [1.0] * 5) == 1.0  # every time the same
    assert speed_p_value([1.0, 2, 3, 4, 5], [10.0, 20, 30, 40, 50]) == pytest.approx(
        mannwhitneyu([1, 2, 3, 4, 5], [10, 20, 30, 40, 50]).pvalue)


def test_ties_share_a_rank() -> None:
    ranked = competition_ranks(["a", "b", "c", "d", "e"], [0.6, 0.1, 0.1, 0.1, 0.0])
    assert [(r.key, r.rank, r.tied) for r in ranked] == [
        ("a", 1, False), ("b", 2, True), ("c", 2, True), ("d", 2, True), ("e", 5, False)]
    assert competition_ranks([], []) == []
    assert [r.rank for r in competition_ranks(["x", "y"], [0.0, 0.0])] == [1, 1]
