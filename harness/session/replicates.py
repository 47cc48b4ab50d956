"""A simulated scenario over many seeds: each brand's figures and each matchup's verdicts as
distributions, and a replay's published figures beside them (`shopper race --replicates N`).

A seed's outcomes come from the simulated brands' behaviour model directly
(:func:`model_outcomes`): every reaction is a pure function of the seed, the probe and the step
(see :mod:`harness.channels.sim.behaviour`), so this gives, probe for probe, what the runner
records on the simulated channel, without a store or a clock; a test holds the two equal.
:func:`runner_outcomes` runs the real thing, for that test and for anyone who wants to check.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.analysis.matchups import judge, matchup
from harness.analysis.outcomes import Outcome, from_store
from harness.analysis.replay import (
    Check,
    Figures,
    Spread,
    against_published,
    distribution,
    figures,
    verdict_counts,
    with_differences,
)
from harness.channels.sim.behaviour import BrandBehaviour, Stimulus
from harness.plan.expand import build_plan
from harness.plan.probe import Probe
from harness.scenario.model import Scenario, resolved_matchups
from harness.store.sqlite import Store


@dataclass(frozen=True)
class Replicates:
    """A scenario over ``seeds``."""

    seeds: tuple[int, ...]
    runs: tuple[Figures, ...]
    spreads: dict[str, Spread]
    verdicts: dict[str, Counter[str]]
    """Per matchup ("a vs b"), how many seeds gave each rate verdict."""
    speed_verdicts: dict[str, Counter[str]]
    checks: tuple[Check, ...]
    """The scenario's published figures beside their ranges (none without ``published``)."""


def replicate(scenario: Scenario, seeds: Sequence[int],
              progress: Callable[[int, int], None] | None = None) -> Replicates:
    """``scenario`` simulated once per seed, as ``shopper race --seed S`` would run it (the
    seed draws the plan's send times and personas as well as the brands' behaviour)."""
    brands = [b.id for b in scenario.brands]
    categories = [c.id for c in scenario.categories]
    published = scenario.report.published
    pairs = list(published.differences) if published else []
    runs: list[Figures] = []
    rates: list[dict[str, str]] = []
    speeds: list[dict[str, str]] = []
    for done, seed in enumerate(seeds, start=1):
        seeded = scenario.model_copy(update={"seed": seed})
        outcomes = model_outcomes(seeded, build_plan(seeded))
        runs.append(with_differences(figures(outcomes, brands, categories), pairs))
        rate, speed = _verdicts(seeded, outcomes)
        rates.append(rate)
        speeds.append(speed)
        if progress is not None:
            progress(done, len(seeds))
    spreads = distribution(runs)
    checks = tuple(against_published(spreads, published)) if published else ()
    return Replicates(tuple(seeds), tuple(runs), spreads, verdict_counts(rates),
                      verdict_counts(speeds), checks)


def _verdicts(scenario: Scenario, outcomes: list[Outcome]) -> tuple[dict[str, str],
                                                                   dict[str, str]]:
    settings = scenario.report
    window = scenario.schedule.observation_window.total_seconds()
    groups = resolved_matchups(scenario)
    judged = judge([matchup(brands, outcomes, window, test=settings.rate_test,
                            min_replies=settings.min_replies) for brands in groups],
                   settings.alpha)
    names = [" vs ".join(brands) for brands in groups]
    return ({name: m.rate_verdict for name, m in zip(names, judged, strict=True)},
            {name: m.time_verdict for name, m in zip(names, judged, strict=True)})


def model_outcomes(scenario: Scenario, probes: Sequence[Probe]) -> list[Outcome]:
    """Each first message's outcome as the simulated brands' model has it: sent at its
    scheduled time, answered when the brand's first public reply (not an automatic
    acknowledgement) comes within the observation window."""
    window = scenario.schedule.observation_window
    personas = {p.id: p.name for p in scenario.personas}
    behaviours = {b.id: BrandBehaviour(b, b.timezone or scenario.timezone, scenario.seed)
                  for b in scenario.brands}
    result = []
    for probe in probes:
        sent = probe.scheduled_at
        reactions = behaviours[probe.brand].react(Stimulus(
            probe.probe_id, 0, probe.mention, probe.category, personas.get(probe.persona, ""),
            sent))
        answers = [r for r in reactions if not r.automated]
        first = answers[0] if answers else None
        latency = int((first.created_at - sent).total_seconds()) if first else None
        responded = first is not None and first.created_at <= sent + window
        result.append(Outcome(
            probe=probe, sent_at=sent, status="closed",
            first_reply_at=first.created_at if first else None,
            first_reply_kind=first.kind if first else None, latency_s=latency,
            responded=responded, late=first is not None and not responded,
            brand_replies=len(answers), auto_acks=len(reactions) - len(answers),
            other_replies=0, direct_message=any(r.kind == "direct_message" for r in answers),
            email=any(r.kind == "email" for r in answers), follow_ups_sent=0))
    return result


def runner_outcomes(scenario: Scenario) -> list[Outcome]:
    """``scenario``'s outcomes through the real runner on the simulated channel (in a
    scratch folder)."""
    from harness.session.runs import simulate

    with tempfile.TemporaryDirectory(prefix="shopper-replicate-") as scratch:
        folder = Path(scratch) / "run"
        simulate(scenario, folder, say=lambda text: None)
        store = Store.open(folder / "run.sqlite")
        try:
            return from_store(store)
        finally:
            store.close()
