"""A scenario's design under its brands' ``simulate:`` profiles, drawn many times at once.

:func:`design` expands the scenario's plan and, per probe, takes from
:mod:`harness.scenario.behaviour_model` (the model the simulated channel uses) the chance of
a human reply and the business-hours clock that turns a reply's work into its moment, as
spans of working time within the observation window, from the profile (phase) in force at
the probe's send time, as the channel takes it. :func:`draw` then draws replicates:
per probe a reply with that chance and a log-normal delay with its profile's median, spread
and minimum; the probe counts as answered when the reply lands within the window (as
``analysis.outcomes`` counts it), and its latency is the reply's moment, rounded up to a whole
second, minus the send. Automatic acknowledgements, DMs and emails never change whether or
when a probe is answered, so they are not drawn. The draws come from numpy's generator, not
the channel's per-probe hashes: the distribution is the same, the individual draws are not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from statistics import NormalDist
from typing import Any

import numpy as np

from harness.plan.expand import build_plan
from harness.scenario.behaviour_model import ReplyClock, reply_chance
from harness.scenario.model import Brand, Scenario, resolved_matchups
from harness.scenario.phases import PhasedProfile

Array = np.ndarray[Any, Any]


@dataclass(frozen=True)
class BrandDesign:
    """One brand's probes as the model sees them."""

    brand: str
    chance: Array
    """Per probe: the chance of a human reply (0 when the message is ignored)."""
    mention: tuple[str, ...]
    median_s: Array
    """Per probe: the median reply delay of the profile (phase) in force when it is sent."""
    spread: Array
    minimum_s: Array
    starts: Array
    """Per probe and span: when a span of working time starts, seconds after the send
    (padded with inf)."""
    done: Array
    """Per probe and span: the work done before the span (padded with inf)."""
    capacity: Array
    """Per probe: the work that fits in the observation window."""
    answered: Array
    """Per probe: the chance it is answered within the window."""
    speed_key: str
    """What shapes its reply times; brands with the same key reply equally fast."""

    @property
    def probes(self) -> int:
        """Its probes in the plan."""
        return len(self.chance)

    @property
    def true_rate(self) -> float:
        """Its expected response rate."""
        return float(self.answered.mean()) if self.probes else 0.0


@dataclass(frozen=True)
class Design:
    """The scenario's plan, per brand, with its matchups and the verdicts' settings."""

    brands: tuple[BrandDesign, ...]
    matchups: tuple[tuple[int, ...], ...]
    """Each matchup's brands as indexes into ``brands``, ordered by brand id."""
    window_s: float
    alpha: float
    rate_test: str
    min_replies: int
    seed: int


def design(scenario: Scenario) -> Design:
    """The model of ``scenario``'s plan."""
    window = scenario.schedule.observation_window
    probes = build_plan(scenario)
    by_brand: dict[str, list[Any]] = {b.id: [] for b in scenario.brands}
    for probe in probes:
        by_brand[probe.brand].append(probe)
    brands = tuple(_brand_design(brand, brand.timezone or scenario.timezone,
                                 by_brand[brand.id], window) for brand in scenario.brands)
    index = {b.brand: i for i, b in enumerate(brands)}
    matchups = tuple(tuple(sorted((index[b] for b in set(m)), key=lambda i: brands[i].brand))
                     for m in resolved_matchups(scenario))
    report = scenario.report
    return Design(brands, matchups, window.total_seconds(), report.alpha, report.rate_test,
                  report.min_replies, scenario.seed)


def _brand_design(brand: Brand, zone: str, probes: list[Any],
                  window: timedelta) -> BrandDesign:
    phased = PhasedProfile(brand.simulate, zone)
    clocks = [ReplyClock(brand, zone, p) for p in phased.profiles]
    chances, spans, phase_of = [], [], []
    for probe in probes:
        sent = probe.scheduled_at
        phase = phased.index(sent)
        clock = clocks[phase]
        ignored = clock.ignores(sent)
        chances.append(0.0 if ignored else reply_chance(phased.profiles[phase], probe.mention,
                                                        probe.category))
        spans.append([] if ignored else clock.spans(sent, sent + window))
        phase_of.append(phase)
    width = max([1, *(len(s) for s in spans)])
    starts = np.full((len(probes), width), np.inf)
    done = np.full((len(probes), width), np.inf)
    capacity = np.zeros(len(probes))
    for row, mine in enumerate(spans):
        total = 0.0
        for column, (start, length) in enumerate(mine):
            starts[row, column], done[row, column] = start, total
            total += length
        capacity[row] = total
    latencies = [p.latency for p in phased.profiles]
    per_phase = np.array([[lat.median.total_seconds(), lat.spread, lat.minimum.total_seconds()]
                          for lat in latencies])[np.array(phase_of, dtype=np.int64)]
    median, spread, minimum = (per_phase[:, column].reshape(len(probes)) for column in range(3))
    chance = np.array(chances)
    answered = chance * np.array([_delay_cdf(c, m, s, f) for c, m, s, f
                                  in zip(capacity, median, spread, minimum, strict=True)])
    profile = brand.simulate
    key = "|".join([profile.latency.model_dump_json(), profile.off_hours, profile.weekends,
                    brand.business_hours.model_dump_json(), zone])
    for begins, phase_profile in zip(phased.starts, phased.profiles[1:], strict=True):
        key += "|" + "|".join([begins.isoformat(), phase_profile.latency.model_dump_json(),
                               phase_profile.off_hours, phase_profile.weekends])
    return BrandDesign(brand.id, chance, tuple(p.mention for p in probes), median, spread,
                       minimum, starts, done, capacity, answered, key)


def _delay_cdf(seconds: float, median: float, spread: float, minimum: float) -> float:
    """P(delay <= seconds) for the profile's log-normal delay floored at its minimum."""
    if seconds < minimum:
        return 0.0
    if spread == 0 or median <= 0:
        return 1.0 if max(median, minimum) <= seconds else 0.0
    return NormalDist().cdf(math.log(seconds / median) / spread)


@dataclass(frozen=True)
class Draws:
    """Replicates of the design: per brand, probes answered and the latencies."""

    answered: tuple[Array, ...]
    """Per brand: answered probes per replicate (shape (replicates,))."""
    latencies: tuple[Array, ...]
    """Per brand: latency of each answered probe, NaN where unanswered (replicates, probes)."""
    by_mention: dict[str, Array]
    """Per mention mode: answered probes per replicate, all brands together."""


def draw(model: Design, replicates: int, rng: np.random.Generator) -> Draws:
    """``replicates`` independent runs of the design."""
    answered, latencies = [], []
    modes = sorted({m for b in model.brands for m in b.mention})
    by_mention = {mode: np.zeros(replicates, dtype=np.int64) for mode in modes}
    for brand in model.brands:
        times = _latencies(brand, replicates, model.window_s, rng)
        hit = ~np.isnan(times)
        answered.append(hit.sum(axis=1))
        latencies.append(times)
        for mode in modes:
            columns = np.array([m == mode for m in brand.mention], dtype=bool)
            if columns.any():
                by_mention[mode] += hit[:, columns].sum(axis=1)
    return Draws(tuple(answered), tuple(latencies), by_mention)


def _latencies(brand: BrandDesign, replicates: int, window_s: float,
               rng: np.random.Generator) -> Array:
    shape = (replicates, brand.probes)
    replied = rng.random(shape) < brand.chance[None, :]
    work = brand.median_s * np.exp(brand.spread * rng.standard_normal(shape))
    work = np.maximum(work, brand.minimum_s)
    inside = replied & (work <= brand.capacity[None, :])
    span = (brand.done[None, :, :] <= work[:, :, None]).sum(axis=2) - 1
    span = np.clip(span, 0, brand.done.shape[1] - 1)
    start = np.take_along_axis(np.broadcast_to(brand.starts, (*shape, brand.starts.shape[1])),
                               span[..., None], axis=2)[..., 0]
    before = np.take_along_axis(np.broadcast_to(brand.done, (*shape, brand.done.shape[1])),
                                span[..., None], axis=2)[..., 0]
    with np.errstate(invalid="ignore"):
        latency = np.ceil(start + work - before - 1e-6)
    inside &= latency <= window_s
    return np.where(inside, latency, np.nan)
