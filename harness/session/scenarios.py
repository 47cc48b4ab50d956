"""Load a scenario the way every command does: parsed and checked in the scenario layer,
each channel completed from its adapter, the plan's size bounded, the seed (and the
schedule's start and until: :mod:`harness.session.overrides`) overridden.

The scenario layer cannot ask the channel registry or the plan (both sit above it), so the
two checks that need them are written here and handed to it as stages; their problems are
pinned to file, line and column like every other.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from harness.channels.base import ChannelAdapter
from harness.channels.registry import get_adapter
from harness.errors import HarnessError
from harness.plan.size import MAX_PROBES, plan_size, too_big
from harness.scenario.checks import Stages
from harness.scenario.load import read_scenario, read_scenario_text
from harness.scenario.model import Scenario
from harness.scenario.queries import all_env_refs
from harness.scenario.refs import Report


def load_scenario(path: str | Path, *, max_probes: int | None = None,
                  seed: int | None = None, start: date | None = None,
                  until: date | None = None) -> Scenario:
    """Load, validate and cross-check a scenario file; ``seed`` replaces its seed, ``start``
    and ``until`` its schedule's (:func:`~harness.session.overrides.with_schedule`).

    Raises :class:`~harness.errors.ScenarioError` listing every problem, each with file,
    line, column and field path. Nothing is sent or written. A plan of more than
    ``max_probes`` probes (default :data:`~harness.plan.size.MAX_PROBES`) is a problem.
    """
    from harness.session.overrides import with_schedule

    scenario = _seeded(read_scenario(path, stages(max_probes)), seed)
    return with_schedule(scenario, start=start, until=until, max_probes=max_probes)


def load_scenario_text(text: str, file: str = "<scenario>", *,
                       max_probes: int | None = None, seed: int | None = None,
                       start: date | None = None, until: date | None = None) -> Scenario:
    """Like :func:`load_scenario`, for text already in memory."""
    from harness.session.overrides import with_schedule

    scenario = _seeded(read_scenario_text(text, file, stages(max_probes)), seed)
    return with_schedule(scenario, start=start, until=until, max_probes=max_probes)


def stages(max_probes: int | None = None) -> Stages:
    """The checks this layer adds to the scenario's own."""
    return Stages(resolve=resolve_channels,
                  calendar=lambda scenario, report: bound_plan(scenario, report, max_probes))


def _seeded(scenario: Scenario, seed: int | None) -> Scenario:
    return scenario if seed is None else scenario.model_copy(update={"seed": seed})


def resolve_channels(scenario: Scenario, report: Report) -> Scenario:
    """Each channel with its adapter's platform and send mode filled in where the scenario
    leaves them out, and checked against what the adapter supports: its modes, and its
    settings against the adapter's declarations (unknown keys, wrong types, personas that do
    not exist)."""
    channels = []
    persona_ids = {p.id for p in scenario.personas}
    for index, channel in enumerate(scenario.channels):
        try:
            adapter = get_adapter(channel.adapter)
        except HarnessError as exc:
            report(("channels", index, "adapter"), str(exc))
            channels.append(channel)
            continue
        if channel.platform is None:
            channel = channel.model_copy(update={"platform": adapter.platform})
        if channel.mode is None:
            channel = channel.model_copy(update={"mode": adapter.default_mode})
        elif channel.mode not in adapter.modes:
            report(("channels", index, "mode"),
                   f"adapter {adapter.name!r} supports mode {' or '.join(sorted(adapter.modes))}"
                   f", not {channel.mode!r}")
        elif channel.mode == "assisted" and adapter.find_post is ChannelAdapter.find_post:
            report(("channels", index, "mode"),
                   f"assisted mode needs an adapter that can find posts on the persona's "
                   f"timeline; {adapter.name!r} cannot")
        # Missing settings are the preflight's to report: a scenario written for live
        # channels may still be run with --simulate, which needs none of them.
        for problem in adapter.check_settings(channel.settings, personas=persona_ids,
                                              missing=False):
            report(("channels", index, "settings", *problem.path), problem.message,
                   key=problem.at_key)
        for key in sorted(adapter.secret_settings & set(channel.settings)):
            if not all_env_refs(channel.settings[key]):
                report(("channels", index, "settings", key),
                       "secrets must be written as {env: VARIABLE_NAME}, never inline")
        channels.append(channel)
    return scenario.model_copy(update={"channels": channels})


def bound_plan(scenario: Scenario, report: Report, max_probes: int | None) -> None:
    """The schedule must send on some day, and the plan must stay within ``max_probes``."""
    size = plan_size(scenario)
    if not size.sending_days:
        report(("schedule",), "the schedule has no sending days (check weekdays, weeks and "
                              "exclude_dates)")
    schedule = scenario.schedule
    refused = too_big(size, MAX_PROBES if max_probes is None else max_probes, schedule.weeks,
                      len(set(schedule.weekdays)))
    if refused:
        report(("schedule",), refused, key=True)
