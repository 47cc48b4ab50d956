"""The race summary as typed records: every number a report shows, and what it is.

``summarize`` (in :mod:`harness.analysis.summary`) builds a :class:`Summary`; the report reads
its attributes, and :meth:`Summary.to_json` gives the document written to ``summary.json``, a
public interface. Each record's JSON is its fields in order, under their own names, except
that a field marked :data:`FLAT` (a record's own rate) is spread into the record itself: a
leaderboard entry is ``{"brand", "name", "k", "n", "rate", "ci95", ...}``. Tuples become
lists, mappings objects (keys kept as they are), times ISO 8601 text.

Times are in seconds. A share (``answered_within``) is the Kaplan-Meier estimate of the part
of probes answered by then, unanswered probes censored at the observation window; a
restricted mean is the mean time to reply with unanswered probes counted at the window.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import datetime

from harness.analysis.comparisons import Comparison
from harness.analysis.rates import Rate
from harness.store.records import ChannelHealth

FLAT: Mapping[str, bool] = {"flat": True}
"""Field metadata: the field's record is spread into its parent's JSON."""

JsonRecord = dict[str, object]
"""A record as JSON-ready data (what :func:`json.dumps` takes)."""


class _Record:
    """A record that knows its JSON form (see the module docstring)."""

    __slots__ = ()

    def to_json(self) -> JsonRecord:
        """This record as JSON-ready data: fields in order, flat fields spread in."""
        record: JsonRecord = {}
        for name, flat in _layout(type(self)):
            value = _json(getattr(self, name))
            if flat and isinstance(value, dict):
                record.update(value)
            else:
                record[name] = value
        return record


_LAYOUTS: dict[type, tuple[tuple[str, bool], ...]] = {}


def _layout(kind: type) -> tuple[tuple[str, bool], ...]:
    """A record type's fields in order, each with whether it is flat (looked up once: a
    large race's summary has tens of thousands of records)."""
    if kind not in _LAYOUTS:
        _LAYOUTS[kind] = tuple((item.name, bool(item.metadata.get("flat")))
                               for item in fields(kind))
    return _LAYOUTS[kind]


def _json(value: object) -> object:
    if isinstance(value, _Record):
        return value.to_json()
    if isinstance(value, tuple | list):
        return [_json(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _json(item) for key, item in value.items()}
    if isinstance(value, datetime):
        return value.isoformat()
    assert not is_dataclass(value), f"{type(value).__name__} is not a summary record"
    return value


@dataclass(frozen=True, slots=True)
class RateFigure(_Record):
    """k of n answered: never shown without its numerator and denominator."""

    k: int
    n: int
    rate: float | None
    """k / n; None when n is 0."""
    ci95: tuple[float, float] | None
    """The 95% Wilson score interval of the rate; None when n is 0."""

    @classmethod
    def of(cls, rate: Rate) -> RateFigure:
        """The figure of a :class:`Rate`."""
        return cls(rate.k, rate.n, rate.value, rate.interval)


@dataclass(frozen=True, slots=True)
class ScenarioInfo(_Record):
    """Which scenario was run."""

    name: str
    title: str
    seed: int
    window_s: float
    """The observation window: how long after a message a reply still counts."""
    design: str
    """"replay" (every brand named the same way in the same week, as in 2013: the mention
    mode follows the calendar) or "counterbalanced"."""


@dataclass(frozen=True, slots=True)
class Headline(_Record):
    """The race at a glance."""

    planned: int
    """Probes in the plan."""
    sent: int
    """Probes actually sent: the denominator of every rate."""
    answered: RateFigure
    """Sent probes answered by the brand within the window."""
    brands: int
    personas: int
    weeks: int
    """Distinct brands, personas and weeks among sent probes."""
    answered_within: Mapping[str, float]
    """Estimated share answered within "1h", "24h" and the "window"."""
    answered_within_k: Mapping[str, int]
    """How many sent probes were answered within "1h", "24h" and the "window"."""
    restricted_mean_s: float
    """Restricted mean time to reply over all sent probes."""


@dataclass(frozen=True, slots=True)
class LeaderboardEntry(_Record):
    """One brand's place on the leaderboard."""

    brand: str
    """The brand's id."""
    name: str
    """The brand's display name."""
    answered: RateFigure = field(metadata=FLAT)
    median_among_replies_s: float | None
    """Median time to reply among replies only (n = ``replies_n``); None without replies."""
    replies_n: int
    answered_within_1h: float
    """Estimated share of the brand's probes answered within an hour."""
    restricted_mean_s: float
    tier: str
    """'fast responders', 'slow responders', 'no response', or 'too few replies to tell'
    (fewer than the report's ``min_replies``)."""
    rank: int
    """1 for the highest rate; brands with the same rate share a rank (1, 2, 2, 4)."""
    tied: bool
    """Whether another brand has the same rate (and so the same rank)."""


@dataclass(frozen=True, slots=True)
class GroupEntry(_Record):
    """One group of probes (an industry, a category, a mention mode, a week...)."""

    group: str
    answered: RateFigure = field(metadata=FLAT)
    median_among_replies_s: float | None
    """Median time to reply among the group's replies; None without replies."""
    share_of_replies: float | None
    """The group's part of all replies (k / ``replies_total``), not a response rate; None
    when nothing was answered."""
    replies_total: int
    """All replies of the race, across groups."""


@dataclass(frozen=True, slots=True)
class BrandGroupEntry(_Record):
    """One brand's probes in one group (a category, a channel): a cell of brand x group."""

    brand: str
    group: str
    planned: int
    """Probes of this brand and group in the plan (0: the brand was never to be asked)."""
    answered: RateFigure = field(metadata=FLAT)
    """Sent probes (n) answered within the window (k); rate and ci95 None when n is 0."""
    median_among_replies_s: float | None
    """Median time to reply among the cell's replies (n = ``replies_n``); None without."""
    replies_n: int
    answered_within_1h: float | None
    """Estimated share answered within an hour (Kaplan-Meier); None when n is 0."""
    restricted_mean_s: float | None
    """Restricted mean time to reply over the cell's sent probes; None when n is 0."""
    tier: str | None
    """The leaderboard's tier, over the cell's probes; None when n is 0."""
    levels: Mapping[int, int]
    """Sent probes per engagement level 0-5, zeros included, as ``engagement``."""


@dataclass(frozen=True, slots=True)
class RateComparison(_Record):
    """Two rates and a test of their difference."""

    first: RateFigure
    second: RateFigure
    odds_ratio: float | None
    """The (common) odds ratio; None when infinite or 0/0 (``odds_ratio_undefined`` says)."""
    odds_ratio_undefined: str | None
    p_value: float
    test: str
    """The test's name: "Fisher's exact test" or "Mantel-Haenszel"."""

    @classmethod
    def of(cls, comparison: Comparison) -> RateComparison:
        """The figures of a :class:`Comparison`."""
        return cls(RateFigure.of(comparison.first), RateFigure.of(comparison.second),
                   comparison.odds_ratio, comparison.odds_ratio_undefined,
                   comparison.p_value, comparison.test)


@dataclass(frozen=True, slots=True)
class MentionEffect(_Record):
    """@handle against another way of naming the brand (its name, a #hashtag)."""

    fisher: RateComparison
    """Over all probes (Fisher's exact test)."""
    by_brand: RateComparison
    """Within brands (Mantel-Haenszel, stratified by brand)."""


@dataclass(frozen=True, slots=True)
class ReplyCurveRecord(_Record):
    """A Kaplan-Meier reply curve, censored at the window."""

    n: int
    """Probes under the curve."""
    replies: int
    times_s: tuple[float, ...]
    answered: tuple[float, ...]
    """Estimated share answered by ``times_s[i]``, non-decreasing."""
    horizon_s: float
    answered_within: Mapping[str, float]
    """Estimated share answered within "1h", "2h" and "24h"."""
    restricted_mean_s: float


@dataclass(frozen=True, slots=True)
class TimeToReply(_Record):
    """Reply curves: of all sent probes and of each mention mode."""

    overall: ReplyCurveRecord
    by_mention: Mapping[str, ReplyCurveRecord]


@dataclass(frozen=True, slots=True)
class Engagement(_Record):
    """The levels of social CRM and how many sent probes reached each."""

    levels: Mapping[int, str]
    """Each level (0-6) and what it means."""
    distribution: Mapping[int, int]
    """Sent probes per level 0-5, zeros included (6 is only coded by a person)."""


@dataclass(frozen=True, slots=True)
class ContenderEntry(_Record):
    """One brand's evidence in a matchup."""

    brand: str
    answered: RateFigure = field(metadata=FLAT)
    restricted_mean_s: float
    replies_n: int
    """Replies within the window: what its speed is measured on."""
    median_among_replies_s: float | None


@dataclass(frozen=True, slots=True)
class MatchupEntry(_Record):
    """A head-to-head matchup and its verdicts."""

    brands: tuple[str, ...]
    names: tuple[str, ...]
    """The brands' display names, in the order of ``brands``."""
    contenders: tuple[ContenderEntry, ...]
    leader: str | None
    """The brand with the highest rate, tested against ``runner_up``."""
    runner_up: str | None
    difference: float | None
    """The leader's rate minus the runner-up's."""
    difference_ci95: tuple[float, float] | None
    """Its 95% interval (Newcombe's hybrid score interval)."""
    rate_test: str
    rate_p_value: float | None
    rate_p_adjusted: float | None
    """Holm-adjusted over every matchup's rate test: the verdict compares this to alpha."""
    rate_verdict: str
    """The leader, when ``rate_p_adjusted`` is below alpha; else "too close to call"."""
    faster: str | None
    """The brand with the lowest median among replies, of those with enough replies."""
    slower: str | None
    speed_p_value: float | None
    """Mann-Whitney U test of the times among replies; None: too few replies."""
    speed_p_adjusted: float | None
    time_verdict: str
    """``faster`` when ``speed_p_adjusted`` is below alpha; "too close to call"; or "too few
    replies to compare speed"."""


@dataclass(frozen=True, slots=True)
class Rules(_Record):
    """How the verdicts were reached: every verdict is a test at ``alpha``."""

    alpha: float
    rate_test: str
    speed_test: str
    correction: str
    """How several matchups are tested at once (one family per question)."""
    min_replies: int
    """Replies each brand needs before its speed is compared or tiered."""


@dataclass(frozen=True, slots=True)
class HoursSide(_Record):
    """Probes sent inside (or outside) their brand's business hours."""

    answered: RateFigure = field(metadata=FLAT)
    answered_within_1h: float
    """Estimated share answered within an hour."""
    answered_within_1h_k: int
    """How many were answered within an hour."""
    restricted_mean_s: float


@dataclass(frozen=True, slots=True)
class ChannelHealthEntry(_Record):
    """How a channel fared during the run (only channels that ever failed are listed)."""

    channel: str
    degraded: bool
    """Failing again and again now: replies on it may not have been read yet."""
    failures_in_a_row: int
    since: datetime | None
    """When the current run of failures began."""
    last_error: str | None
    total_failures: int
    """Failures over the whole run, recovered ones included."""

    @classmethod
    def of(cls, health: ChannelHealth) -> ChannelHealthEntry:
        """The entry of a store's :class:`ChannelHealth`."""
        return cls(health.channel, health.degraded, health.failures, health.since,
                   health.last_error, health.total_failures)


@dataclass(frozen=True, slots=True)
class Summary(_Record):
    """The race in numbers: what ``summary.json`` holds and the report shows."""

    summary_version: int
    """The shape of ``summary.json`` (docs/export.md); 2 since verdicts became tests."""
    simulated: bool
    """Whether the run was simulated (brand behaviour models on a virtual clock): then
    nothing here is a finding about the real brands."""
    scenario: ScenarioInfo
    headline: Headline
    leaderboard: tuple[LeaderboardEntry, ...]
    """Brands by response rate, highest first (ties share a rank, listed by id)."""
    groups: Mapping[str, tuple[GroupEntry, ...]]
    """Per grouping ("industry", "category", "mention", "persona", "channel", "week"), its
    groups sorted by name."""
    mention_effect: Mapping[str, MentionEffect]
    """Keyed "at_vs_name" and "at_vs_hashtag", where both modes were used."""
    time_to_reply: TimeToReply
    engagement: Engagement
    rules: Rules
    matchups: tuple[MatchupEntry, ...]
    business_hours: Mapping[str, HoursSide]
    """Keyed "inside" and "outside" (a side with no probes is left out)."""
    channel_health: tuple[ChannelHealthEntry, ...]
    brand_groups: Mapping[str, tuple[BrandGroupEntry, ...]]
    """Per grouping ("category", "channel"), every brand x group of the scenario, asked or
    not, by brand id then group id."""
