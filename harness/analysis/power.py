"""Power of a scenario's design: how often its verdicts would be right, and how sure.

The design is drawn many times under its brands' ``simulate:`` profiles
(:mod:`power_model`), and every replicate is judged by the report's rules (:mod:`verdicts`,
:mod:`matchups`): leader against runner-up by the exact test, speed by Mann-Whitney among
replies once each side has ``min_replies``, Holm over the matchups at ``alpha``. The
diagnosands, after DeclareDesign's, compare the verdicts with the truth the profiles define:

- **power**: the share of replicates naming the true leader (faster brand);
- **false winners**: the share naming any winner when the top two are truly equal, or the
  wrong one when not (type S); ``type_s`` is that share among replicates naming a winner;
- the reported difference (observed leader minus runner-up) against the true difference of
  the same two brands: **bias** (mean error), **coverage** of its Newcombe 95% interval and
  its mean **width**;
- the **smallest detectable difference**: exact, by enumeration (:mod:`power_exact`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.analysis.power_exact import TARGET, smallest_detectable
from harness.analysis.power_model import Design, Draws, design, draw
from harness.analysis.power_tests import cell_values, holm_rows, mann_whitney
from harness.scenario.model import Scenario

Array = np.ndarray[Any, Any]
Progress = Callable[[int, int], None]
CHUNK = 2000
WARN_MAX_PROBES = 20_000
EQUAL = 1e-12


@dataclass(frozen=True)
class MatchupPower:
    """The diagnosands of one matchup."""

    brands: tuple[str, ...]
    probes: tuple[int, ...]
    true_rates: tuple[float, ...]
    true_leader: str | None
    """None when the top two true rates are equal."""
    rate_power: float | None
    rate_false_winner: float
    rate_type_s: float | None
    true_difference: float
    """True rate of the true leader minus the true runner-up's."""
    mean_difference: float | None
    bias: float | None
    coverage: float | None
    interval_width: float | None
    smallest_detectable: float | None
    """The difference over the true runner-up's rate detected with 80% power at
    ``alpha / matchups`` (Holm's strictest step), exact; None if not even at 100%."""
    smallest_detectable_alone: float | None
    """The same at ``alpha``, the matchup tested alone."""
    true_faster: str | None
    speed_compared: float
    """Share of replicates in which two brands had enough replies to compare speed."""
    speed_power: float | None
    speed_false_winner: float


@dataclass(frozen=True)
class MentionPower:
    """The mention effect (at against name, all brands): Fisher's test, as the summary."""

    modes: tuple[str, str]
    probes: tuple[int, int]
    true_rates: tuple[float, float]
    power: float | None
    false_rate: float


@dataclass(frozen=True)
class PowerResult:
    """Every diagnosand of a scenario's design."""

    scenario: str
    replicates: int
    alpha: float
    seed: int
    probes: int
    matchups: tuple[MatchupPower, ...]
    mention: MentionPower | None
    rate_any_false_winner: float
    """Share of replicates naming at least one false winner on rate (the family-wise error
    Holm's correction holds at ``alpha`` when rates are equal)."""
    speed_any_false_winner: float
    """The same for speed."""

    def standard_error(self, share: float | None) -> float | None:
        """The Monte-Carlo standard error of a share over the replicates."""
        return None if share is None else float(np.sqrt(share * (1 - share) / self.replicates))


def power_analysis(scenario: Scenario, replicates: int = 2000, *, alpha: float | None = None,
                   seed: int | None = None, progress: Progress | None = None) -> PowerResult:
    """Draw ``replicates`` runs of ``scenario``'s design and judge each (``alpha``: the
    report's by default; ``seed``: the scenario's)."""
    if replicates < 1:
        raise ValueError("replicates must be at least 1")
    model = design(scenario)
    level = scenario.report.alpha if alpha is None else alpha
    rng = np.random.default_rng([seed if seed is not None else scenario.seed, 0x706F776572])
    chunks: list[_Judged] = []
    done = 0
    while done < replicates:
        size = min(CHUNK, replicates - done)
        chunks.append(_judge(model, draw(model, size, rng), level))
        done += size
        if progress is not None:
            progress(done, replicates)
    judged = _Judged.concatenate(chunks)
    pooled = chunks[0].latencies
    judged_matchups = [_matchup_power(model, m, i, judged, pooled, level)
                       for i, m in enumerate(model.matchups)]
    wrong_rate = np.zeros(replicates, dtype=bool)
    wrong_speed = np.zeros(replicates, dtype=bool)
    for _, rate_mask, speed_mask in judged_matchups:
        wrong_rate |= rate_mask
        wrong_speed |= speed_mask
    return PowerResult(scenario.name, replicates, level, scenario.seed if seed is None else seed,
                       sum(b.probes for b in model.brands),
                       tuple(m for m, _, _ in judged_matchups),
                       _mention_power(model, judged, level), _share(wrong_rate),
                       _share(wrong_speed))


@dataclass
class _Judged:
    """Per replicate and matchup (columns): the verdicts' inputs and outputs."""

    leader: Array
    runner_up: Array
    difference: Array
    low: Array
    high: Array
    rate_winner: Array
    """Brand index named the winner on rate, -1 for too close."""
    speed_p: Array
    speed_winner: Array
    mention: tuple[Array, Array, Array, Array] | None
    latencies: tuple[Array, ...]

    @staticmethod
    def concatenate(parts: list[_Judged]) -> _Judged:
        def join(name: str) -> Array:
            return np.concatenate([getattr(p, name) for p in parts])

        mention = None
        first = parts[0].mention
        if first is not None:
            mention = (join_mention(parts, 0), join_mention(parts, 1), join_mention(parts, 2),
                       first[3])
        return _Judged(join("leader"), join("runner_up"), join("difference"), join("low"),
                       join("high"), join("rate_winner"), join("speed_p"),
                       join("speed_winner"), mention, parts[0].latencies)


def join_mention(parts: list[_Judged], index: int) -> Array:
    """One of the mention arrays of every chunk, end to end."""
    return np.concatenate([p.mention[index] for p in parts if p.mention is not None])


def _judge(model: Design, draws: Draws, alpha: float) -> _Judged:
    replicates = len(draws.answered[0]) if draws.answered else 0
    columns = len(model.matchups)
    shape = (replicates, columns)
    leader, runner, faster = (np.full(shape, -1) for _ in range(3))
    difference, low, high, rate_p, speed_p = (np.full(shape, np.nan) for _ in range(5))
    needed = max(1, model.min_replies)
    for column, members in enumerate(model.matchups):
        if len(members) < 2:
            continue
        ids = np.array(members)
        k = np.stack([draws.answered[i] for i in members], axis=1)
        n = np.array([model.brands[i].probes for i in members])
        rates = np.where(n > 0, k / np.maximum(n, 1), 0.0)
        order = np.argsort(-rates, axis=1, kind="stable")  # ties: brand id order
        first, second = order[:, 0], order[:, 1]
        rows = np.arange(replicates)
        leader[:, column], runner[:, column] = ids[first], ids[second]
        difference[:, column] = rates[rows, first] - rates[rows, second]
        p, lo, hi = cell_values(k[rows, first], n[first], k[rows, second], n[second],
                                model.rate_test)  # type: ignore[arg-type]
        rate_p[:, column], low[:, column], high[:, column] = p, lo, hi
        medians = np.stack([_median(draws.latencies[i]) for i in members], axis=1)
        medians = np.where(k >= needed, medians, np.inf)
        by_speed = np.argsort(medians, axis=1, kind="stable")
        timed = (k >= needed).sum(axis=1) >= 2
        quick, slow = by_speed[:, 0], by_speed[:, 1]
        chosen = np.full(replicates, np.nan)
        for a, b in itertools.combinations(range(len(members)), 2):
            pick = timed & (((quick == a) & (slow == b)) | ((quick == b) & (slow == a)))
            if pick.any():
                chosen[pick] = mann_whitney(draws.latencies[members[a]][pick],
                                            draws.latencies[members[b]][pick])
        speed_p[:, column] = chosen
        faster[:, column] = np.where(timed, ids[quick], -1)
    rate_adjusted, speed_adjusted = holm_rows(rate_p), holm_rows(speed_p)
    with np.errstate(invalid="ignore"):
        rate_winner = np.where((rate_adjusted < alpha) & (difference > 0), leader, -1)
        speed_winner = np.where(speed_adjusted < alpha, faster, -1)
    mention = None
    if "at" in draws.by_mention and "name" in draws.by_mention:
        n_at = sum(sum(m == "at" for m in b.mention) for b in model.brands)
        n_name = sum(sum(m == "name" for m in b.mention) for b in model.brands)
        p_m, _, _ = cell_values(draws.by_mention["at"], n_at, draws.by_mention["name"],
                                n_name, "fisher")
        mention = (draws.by_mention["at"], draws.by_mention["name"], p_m,
                   np.array([n_at, n_name]))
    return _Judged(leader, runner, difference, low, high, rate_winner, speed_p, speed_winner,
                   mention, draws.latencies)


def _median(latencies: Array) -> Array:
    """Per row, the median of the values that are not NaN (inf for none)."""
    ordered = np.sort(latencies, axis=1)  # NaN last
    count = (~np.isnan(latencies)).sum(axis=1)
    if ordered.shape[1] == 0:
        return np.full(len(latencies), np.inf)
    low = np.take_along_axis(ordered, np.maximum(count - 1, 0)[:, None] // 2, axis=1)[:, 0]
    high = np.take_along_axis(ordered, np.minimum(count // 2, ordered.shape[1] - 1)[:, None],
                              axis=1)[:, 0]
    return np.where(count > 0, (low + high) / 2, np.inf)


def _share(mask: Array) -> float:
    return float(mask.mean()) if mask.size else 0.0


def _matchup_power(model: Design, members: tuple[int, ...], column: int, judged: _Judged,
                   pooled: tuple[Array, ...], alpha: float
                   ) -> tuple[MatchupPower, Array, Array]:
    brands = [model.brands[i] for i in members]
    truth = np.array([b.true_rate for b in model.brands])
    ranked = sorted(members, key=lambda i: (-truth[i], model.brands[i].brand))
    top = ranked[0] if ranked else -1
    equal_top = len(ranked) < 2 or abs(truth[ranked[0]] - truth[ranked[1]]) < EQUAL
    winner = judged.rate_winner[:, column]
    named = winner >= 0
    wrong = named & (winner != top) if not equal_top else named
    leader, runner = judged.leader[:, column], judged.runner_up[:, column]
    contested = len(members) >= 2
    true_diff = truth[leader] - truth[runner] if contested else np.zeros(0)
    est = judged.difference[:, column]
    low, high = judged.low[:, column], judged.high[:, column]
    families = sum(1 for m in model.matchups if len(m) >= 2) or 1
    detectable = alone = None
    if contested:
        second = ranked[1]
        n1, n2 = model.brands[top].probes, model.brands[second].probes
        detectable = smallest_detectable(float(truth[second]), n1, n2, alpha / families)
        alone = smallest_detectable(float(truth[second]), n1, n2, alpha)
    true_faster, speed_equal = _true_faster(model, members, pooled)
    s_winner = judged.speed_winner[:, column]
    s_named = s_winner >= 0
    s_wrong = s_named & (s_winner != true_faster) if not speed_equal else s_named
    return (MatchupPower(
        brands=tuple(b.brand for b in brands), probes=tuple(b.probes for b in brands),
        true_rates=tuple(float(truth[i]) for i in members),
        true_leader=None if equal_top or not contested else model.brands[top].brand,
        rate_power=None if equal_top else _share(winner == top),
        rate_false_winner=_share(wrong),
        rate_type_s=float(wrong.sum() / named.sum()) if named.any() else None,
        true_difference=float(truth[ranked[0]] - truth[ranked[1]]) if contested else 0.0,
        mean_difference=float(np.nanmean(est)) if contested else None,
        bias=float(np.nanmean(est - true_diff)) if contested else None,
        coverage=_share((low <= true_diff + 1e-12) & (true_diff - 1e-12 <= high))
        if contested else None,
        interval_width=float(np.nanmean(high - low)) if contested else None,
        smallest_detectable=detectable, smallest_detectable_alone=alone,
        true_faster=None if speed_equal or true_faster < 0 else model.brands[true_faster].brand,
        speed_compared=_share(~np.isnan(judged.speed_p[:, column])),
        speed_power=None if speed_equal or true_faster < 0 else _share(s_winner == true_faster),
        speed_false_winner=_share(s_wrong)), wrong, s_wrong)


def _true_faster(model: Design, members: tuple[int, ...],
                 pooled: tuple[Array, ...]) -> tuple[int, bool]:
    """The brand with the lowest true median among replies (from the pooled draws of the
    first chunk), and whether the two fastest reply equally fast (same latency model)."""
    medians = []
    for i in members:
        values = pooled[i][~np.isnan(pooled[i])]
        if values.size and model.brands[i].true_rate > 0:
            medians.append((float(np.median(values)), model.brands[i].brand, i))
    medians.sort()
    if len(medians) < 2:
        return -1, True
    one, two = model.brands[medians[0][2]], model.brands[medians[1][2]]
    return medians[0][2], one.speed_key == two.speed_key


def _mention_power(model: Design, judged: _Judged, alpha: float) -> MentionPower | None:
    if judged.mention is None:
        return None
    k_at, k_name, p, sizes = judged.mention
    n_at, n_name = int(sizes[0]), int(sizes[1])
    at_rate = sum(float(b.answered[[m == "at" for m in b.mention]].sum())
                  for b in model.brands) / max(n_at, 1)
    name_rate = sum(float(b.answered[[m == "name" for m in b.mention]].sum())
                    for b in model.brands) / max(n_name, 1)
    significant = p < alpha
    observed_up = k_at * n_name > k_name * n_at
    if abs(at_rate - name_rate) < EQUAL:
        return MentionPower(("at", "name"), (n_at, n_name), (at_rate, name_rate), None,
                            _share(significant))
    right = observed_up if at_rate > name_rate else ~observed_up
    return MentionPower(("at", "name"), (n_at, n_name), (at_rate, name_rate),
                        _share(significant & right), _share(significant & ~right))


_WARNINGS: dict[tuple[str, int, int], list[str]] = {}


def low_power_warnings(scenario: Scenario, replicates: int = 500,
                       max_probes: int = WARN_MAX_PROBES) -> list[str]:
    """One line per matchup whose rate verdict has power under 80% (cached per scenario):
    for ``shopper validate``, ``shopper plan`` and the report. Plans of more than
    ``max_probes`` probes are not drawn (``[]``): their power is for `shopper power`."""
    from harness.plan.size import plan_size
    from harness.scenario.model import scenario_hash

    if plan_size(scenario).probes > max_probes:
        return []
    key = (scenario_hash(scenario), replicates, scenario.seed)
    if key not in _WARNINGS:
        result = power_analysis(scenario, replicates)
        lines = []
        for m in result.matchups:
            if m.rate_power is None or m.rate_power >= TARGET or m.true_leader is None:
                continue
            rates = " vs ".join(f"{b} {r:.0%}" for b, r in zip(m.brands, m.true_rates,
                                                                 strict=True))
            needed = (f"80% power needs a difference of {100 * m.smallest_detectable:.0f} "
                      "points"
                      if m.smallest_detectable is not None else
                      "no difference is detectable at this size")
            lines.append(f"matchup {' vs '.join(m.brands)}: power {m.rate_power:.2f} to name "
                         f"the leader on response rate (profiles' true rates {rates}; "
                         f"{min(m.probes)} probes per brand; {needed}); see `shopper power`")
        _WARNINGS[key] = lines
    return list(_WARNINGS[key])
