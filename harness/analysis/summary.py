"""Every number a race report shows, with its numerator, denominator and interval.

``summarize`` is a pure function of a run's outcomes, its scenario and its channels' health;
the result is a :class:`~harness.analysis.figures.Summary` (typed records, JSON-ready through
``to_json``). Rates are always a ``RateFigure`` (k, n, rate, ci95); a share of replies, where
shown, is labelled ``share_of_replies`` and never passed off as a rate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from harness.analysis.brand_groups import brand_groups
from harness.analysis.comparisons import fisher, mantel_haenszel
from harness.analysis.dimensions import KEYS, SUMMARY_GROUPS
from harness.analysis.engagement import LEVELS, distribution, thresholds_of, tier
from harness.analysis.figures import (
    ChannelHealthEntry,
    ContenderEntry,
    Engagement,
    GroupEntry,
    Headline,
    HoursSide,
    LeaderboardEntry,
    MatchupEntry,
    MentionEffect,
    RateComparison,
    RateFigure,
    ReplyCurveRecord,
    Rules,
    ScenarioInfo,
    Summary,
    TimeToReply,
)
from harness.analysis.hours_view import business_hours_view
from harness.analysis.leaderboard import GroupResult, group, leaderboard
from harness.analysis.matchups import judge, matchup
from harness.analysis.outcomes import Outcome
from harness.analysis.rates import Rate
from harness.analysis.survival import ReplyCurve, reply_curve
from harness.analysis.verdicts import SPEED_TEST, TEST_NAMES, Ranked, competition_ranks
from harness.hours import Hours
from harness.scenario.model import Scenario, resolved_matchups
from harness.store.records import ChannelHealth

HOUR, DAY = 3600.0, 86400.0


SUMMARY_VERSION = 2
"""Version 2: verdicts are tests (``rules``, each matchup's tests and adjusted p-values),
leaderboard ranks and ties, ``simulated``; ``brand_groups`` added within it (additions keep
the version). See docs/export.md."""


def summarize(outcomes: Sequence[Outcome], scenario: Scenario,
              health: Iterable[ChannelHealth] = (), *, simulated: bool = False) -> Summary:
    """The race in numbers (see the module docstring), with the channels' ``health`` (a
    store's :meth:`~harness.store.sqlite.Store.channel_health`); ``simulated``: the run was
    a simulation, and the summary says so."""
    settings = scenario.report
    window = scenario.schedule.observation_window.total_seconds()
    sent = [o for o in outcomes if o.sent_at is not None]
    answered = sum(o.responded for o in sent)
    names = {b.id: b.name for b in scenario.brands}
    curve = reply_curve(sent, window)
    board = leaderboard(sent)
    by_brand: dict[str, list[Outcome]] = {}
    for outcome in sent:
        by_brand.setdefault(outcome.probe.brand, []).append(outcome)
    ranks = competition_ranks([e.key for e in board], [e.rate.value or 0.0 for e in board])
    return Summary(
        summary_version=SUMMARY_VERSION,
        simulated=simulated,
        scenario=ScenarioInfo(scenario.name, scenario.title, scenario.seed, window,
                              scenario.design.type),
        headline=Headline(
            planned=len(outcomes), sent=len(sent),
            answered=RateFigure.of(Rate(answered, len(sent))),
            brands=len({o.probe.brand for o in sent}),
            personas=len({o.probe.persona for o in sent}),
            weeks=len({o.probe.week for o in sent}),
            answered_within={"1h": curve.answered_within(HOUR),
                             "24h": curve.answered_within(DAY),
                             "window": curve.answered_within(window)},
            answered_within_k={"1h": _within(sent, HOUR), "24h": _within(sent, DAY),
                               "window": _within(sent, window)},
            restricted_mean_s=curve.restricted_mean(),
        ),
        leaderboard=tuple(_brand_entry(entry, names, by_brand[entry.key], window,
                                       scenario, ranked)
                          for entry, ranked in zip(board, ranks, strict=True)),
        groups={name: _group_entries(sent, KEYS[name], answered) for name in SUMMARY_GROUPS},
        mention_effect=_mention_effect(sent),
        time_to_reply=TimeToReply(
            overall=_curve_record(curve),
            by_mention={mode: _curve_record(reply_curve(
                [o for o in sent if o.probe.mention == mode], window))
                for mode in sorted({o.probe.mention for o in sent})},
        ),
        engagement=Engagement(LEVELS, distribution(sent, thresholds_of(scenario.report))),
        rules=Rules(settings.alpha, TEST_NAMES[settings.rate_test], SPEED_TEST,
                    "Holm's step-down correction over all matchups, one family per question",
                    settings.min_replies),
        matchups=_matchup_entries(scenario, sent, window, names),
        business_hours={
            side: HoursSide(RateFigure.of(view.rate), view.answered_within_1h,
                            view.answered_within_1h_k, view.restricted_mean_s)
            for side, view in business_hours_view(sent, _hours(scenario), window).items()},
        channel_health=tuple(ChannelHealthEntry.of(h) for h in health),
        brand_groups=brand_groups(outcomes, scenario, thresholds_of(settings)),
    )


def _brand_entry(entry: GroupResult, names: dict[str, str], mine: Sequence[Outcome],
                 window: float, scenario: Scenario, ranked: Ranked) -> LeaderboardEntry:
    curve = reply_curve(mine, window)
    settings = scenario.report
    return LeaderboardEntry(
        brand=entry.key, name=names.get(entry.key, entry.key),
        answered=RateFigure.of(entry.rate), median_among_replies_s=entry.median_latency_s,
        replies_n=entry.rate.k, answered_within_1h=curve.answered_within(HOUR),
        restricted_mean_s=curve.restricted_mean(),
        tier=tier(entry, settings.fast_tier.total_seconds(), settings.min_replies),
        rank=ranked.rank, tied=ranked.tied)


def _group_entries(sent: Sequence[Outcome], key: Callable[[Outcome], str],
                   answered: int) -> tuple[GroupEntry, ...]:
    return tuple(GroupEntry(group=entry.key, answered=RateFigure.of(entry.rate),
                            median_among_replies_s=entry.median_latency_s,
                            share_of_replies=entry.rate.k / answered if answered else None,
                            replies_total=answered)
                 for entry in sorted(group(sent, key), key=lambda g: g.key))


def _mention_effect(sent: Sequence[Outcome]) -> dict[str, MentionEffect]:
    effect: dict[str, MentionEffect] = {}
    for other in ("name", "hashtag"):
        pair = [[o for o in sent if o.probe.mention == mode] for mode in ("at", other)]
        if not all(pair):
            continue
        rates = [Rate(sum(o.responded for o in group_), len(group_)) for group_ in pair]
        by_brand = [_rates_by_brand(group_) for group_ in pair]
        strata = [(by_brand[0].get(brand, Rate(0, 0)), by_brand[1].get(brand, Rate(0, 0)))
                  for brand in sorted({o.probe.brand for o in sent})]
        effect[f"at_vs_{other}"] = MentionEffect(
            fisher=RateComparison.of(fisher(*rates)),
            by_brand=RateComparison.of(mantel_haenszel(strata)))
    return effect


def _within(sent: Sequence[Outcome], seconds: float) -> int:
    """How many probes were answered within ``seconds`` (in the window)."""
    return sum(1 for o in sent if o.responded and o.latency_s is not None
               and o.latency_s <= seconds)


def _rates_by_brand(outcomes: Sequence[Outcome]) -> dict[str, Rate]:
    counts: dict[str, list[int]] = {}
    for outcome in outcomes:
        k_n = counts.setdefault(outcome.probe.brand, [0, 0])
        k_n[0] += outcome.responded
        k_n[1] += 1
    return {brand: Rate(k, n) for brand, (k, n) in counts.items()}


def _curve_record(curve: ReplyCurve) -> ReplyCurveRecord:
    return ReplyCurveRecord(
        n=curve.n, replies=curve.replies, times_s=curve.times, answered=curve.answered,
        horizon_s=curve.horizon,
        answered_within={"1h": curve.answered_within(HOUR),
                         "2h": curve.answered_within(2 * HOUR),
                         "24h": curve.answered_within(DAY)},
        restricted_mean_s=curve.restricted_mean())


def _matchup_entries(scenario: Scenario, sent: Sequence[Outcome], window: float,
                     names: dict[str, str]) -> tuple[MatchupEntry, ...]:
    settings = scenario.report
    groups = resolved_matchups(scenario)
    results = judge([matchup(brands, sent, window, test=settings.rate_test,
                             min_replies=settings.min_replies) for brands in groups],
                    settings.alpha)
    return tuple(MatchupEntry(
        brands=tuple(brands), names=tuple(names.get(b, b) for b in brands),
        contenders=tuple(ContenderEntry(c.brand, RateFigure.of(c.rate), c.restricted_mean_s,
                                        len(c.reply_times_s), c.median_among_replies_s)
                         for c in result.contenders),
        leader=result.leader, runner_up=result.runner_up, difference=result.difference,
        difference_ci95=result.difference_ci, rate_test=result.rate_test,
        rate_p_value=result.rate_p_value, rate_p_adjusted=result.rate_p_adjusted,
        rate_verdict=result.rate_verdict, faster=result.faster, slower=result.slower,
        speed_p_value=result.speed_p_value, speed_p_adjusted=result.speed_p_adjusted,
        time_verdict=result.time_verdict)
        for brands, result in zip(groups, results, strict=True))


def _hours(scenario: Scenario) -> dict[str, Hours]:
    return {b.id: Hours.of(b.business_hours.days, b.business_hours.open,
                           b.business_hours.close, b.timezone or scenario.timezone)
            for b in scenario.brands}
