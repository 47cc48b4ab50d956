"""Checks across a scenario's sections, each problem pinned to its place in the file.

The model has already checked every field on its own; here we check what needs several
fields at once: references between sections, duplicate ids, the calendar, secrets, and that
every template renders, within the channel's length limit, for every persona, brand and
mention mode it will meet.

What needs a higher layer (the adapters' defaults, the size of the plan) comes in as
:class:`Stages`, so this module imports nothing above the scenario.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from harness.errors import Problem
from harness.platforms import PLATFORMS
from harness.scenario import objective_checks, refs, templates
from harness.scenario.located import Located, Path_
from harness.scenario.model import Scenario
from harness.scenario.phases import ordered, phase_start
from harness.scenario.queries import channels_for_brand, is_env_ref, personas_for_channel
from harness.scenario.refs import Report

_SECRET_NAME = re.compile(r"(token|secret|password|passwd|api_?key|credential|bearer)", re.I)
_MAX_RENDER_PROBLEMS = 20


@dataclass(frozen=True)
class Stages:
    """The checks that layers above the scenario add as it loads.

    ``resolve`` fills in each channel from its adapter and checks the channel against it
    (adapters are plug-ins, known to the channel registry, not here); ``calendar`` checks the
    plan the schedule makes (the plan is a layer above). Either may report problems, pinned
    to their place in the file like every other.
    """

    resolve: Callable[[Scenario, Report], Scenario] | None = None
    calendar: Callable[[Scenario, Report], None] | None = None


SCENARIO_ONLY = Stages()  # the scenario layer's own checks, nothing from above


def check(scenario: Scenario, located: Located,
          stages: Stages = SCENARIO_ONLY) -> tuple[Scenario, list[Problem]]:
    """The scenario as ``stages.resolve`` completes it, and every problem found."""
    problems: list[Problem] = []

    def report(path: Path_, message: str, *, key: bool = False) -> None:
        problems.append(located.problem(path, message, key=key))

    _duplicates(scenario, report)
    if stages.resolve is not None:
        scenario = stages.resolve(scenario, report)
    _references(scenario, report)
    if not problems:  # accounts make sense once the channels they name exist
        _accounts(scenario, report)
    from harness.scenario.schedule_checks import schedule_problems  # repeat, until, times

    schedule = schedule_problems(scenario.schedule)
    for path, message, key in schedule:
        report(("schedule", *path), message, key=key)
    if stages.calendar is not None and not schedule:  # a calendar needs a sound schedule
        stages.calendar(scenario, report)
    _design(scenario, report)
    objective_checks.check(scenario, report)
    _phases(scenario, report)
    _secrets(scenario, report)
    if not problems:  # templates only make sense once references hold
        _templates(scenario, report)
    return scenario, problems


def _duplicates(scenario: Scenario, report: Report) -> None:
    for section in ("personas", "brands", "categories", "channels"):
        items: Sequence[Any] = getattr(scenario, section)
        counts = Counter(item.id for item in items)
        first: dict[str, int] = {}
        for index, item in enumerate(items):
            if counts[item.id] > 1:
                if item.id in first:
                    report((section, index, "id"),
                           f"duplicate id {item.id!r} (first used in {section}[{first[item.id]}])")
                else:
                    first[item.id] = index


def _secrets(scenario: Scenario, report: Report) -> None:
    for index, channel in enumerate(scenario.channels):
        for path, value in _walk_settings(channel.settings, ("channels", index, "settings")):
            name = next(str(part) for part in reversed(path) if isinstance(part, str))
            inline = isinstance(value, (str, int, float)) and not isinstance(value, bool)
            if isinstance(value, dict) and "env" in value:
                if not is_env_ref(value):
                    report(path, "an environment reference is {env: VARIABLE_NAME} and nothing "
                                 "else")
            elif inline and _SECRET_NAME.search(name) and value != "":
                report(path, f"{name!r} looks like a secret: write it as {{env: VARIABLE_NAME}} "
                             "and set the variable, never inline")


def _walk_settings(value: Any, path: Path_) -> Iterator[tuple[Path_, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*path, key), item
            if not (isinstance(item, dict) and "env" in item):
                yield from _walk_settings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*path, index), item
            if not (isinstance(item, dict) and "env" in item):
                yield from _walk_settings(item, (*path, index))


def _references(scenario: Scenario, report: Report) -> None:
    persona_ids = {p.id for p in scenario.personas}
    brand_ids = {b.id for b in scenario.brands}
    category_ids = {c.id for c in scenario.categories}
    channel_ids = {c.id for c in scenario.channels}

    def known(path: Path_, value: str, ids: set[str], what: str, *, key: bool = False) -> bool:
        return refs.known(report, path, value, ids, what, key=key)

    for index, persona in enumerate(scenario.personas):
        for channel_id in persona.accounts:
            known(("personas", index, "accounts", channel_id), channel_id, channel_ids,
                  "channel", key=True)
    for index, brand in enumerate(scenario.brands):
        for channel_id, handles in brand.handles.items():
            if known(("brands", index, "handles", channel_id), channel_id, channel_ids,
                     "channel", key=True) and not handles:
                report(("brands", index, "handles", channel_id), "give at least one handle")
        for category_id in brand.simulate.category:
            known(("brands", index, "simulate", "category", category_id), category_id,
                  category_ids, "category", key=True)
        for number, phase in enumerate(brand.simulate.phases):
            for category_id in phase.category or {}:
                known(("brands", index, "simulate", "phases", number, "category", category_id),
                      category_id, category_ids, "category", key=True)
    for index, channel in enumerate(scenario.channels):
        for field, ids, what in (("personas", persona_ids, "persona"),
                                 ("brands", brand_ids, "brand")):
            chosen = getattr(channel, field)
            if chosen != "all":
                for position, item in enumerate(chosen):
                    known(("channels", index, field, position), item, ids, what)
    published = scenario.report.published
    if published is not None:
        where = ("report", "published")
        for section, ids, what in (("replies", brand_ids, "brand"),
                                   ("mean_among_replies", brand_ids, "brand"),
                                   ("category_replies", category_ids, "category")):
            for item in getattr(published, section):
                known((*where, section, item), item, ids, what, key=True)
        for pair in published.differences:
            first, _, second = pair.partition(" vs ")
            if not second:
                report((*where, "differences", pair), "name two brands: 'first vs second'",
                       key=True)
            else:
                for brand_id in (first, second):
                    known((*where, "differences", pair), brand_id, brand_ids, "brand", key=True)
    seen: dict[str, int] = {}
    for index, matchup in enumerate(scenario.matchups or []):
        if len(matchup) < 2:
            report(("matchups", index), "a matchup needs at least two brands")
        for position, brand_id in enumerate(matchup):
            if known(("matchups", index, position), brand_id, brand_ids, "brand"):
                if brand_id in seen:
                    report(("matchups", index, position),
                           f"brand {brand_id!r} is already in matchups[{seen[brand_id]}]")
                seen[brand_id] = index
    # Every brand needs a channel that reaches it and a persona who can use that channel.
    for index, brand in enumerate(scenario.brands):
        channels = channels_for_brand(scenario, brand.id)
        if not channels:
            report(("brands", index, "id"), f"no channel serves brand {brand.id!r}")
        for channel in channels:
            if not personas_for_channel(scenario, channel):
                report(("channels", scenario.channels.index(channel), "personas"),
                       f"no persona has an account on channel {channel.id!r}")
            if not brand.handles.get(channel.id):
                report(("brands", index, "handles"),
                       f"brand {brand.id!r} has no handle on channel {channel.id!r}: its "
                       "replies there could not be told from anyone else's")


def _accounts(scenario: Scenario, report: Report) -> None:
    """Accounts on platforms where an account is one token hold no space; every persona can
    be sent to some brand (an account on a channel that serves one)."""
    from harness.scenario.patterns import HANDLE

    token = re.compile(HANDLE)
    tokens_only = {c.id for c in scenario.channels
                   if PLATFORMS.get(c.platform or "other", PLATFORMS["other"]).accounts_are_tokens}
    rule = ("an account here is one word (no spaces or invisible characters): it is matched "
            "against what the platform says")

    def one_token(path: Path_, value: str) -> None:
        if token.fullmatch(value.strip()) is None:
            report(path, f"{rule} (got {value!r})")

    used: set[str] = set()
    for index, persona in enumerate(scenario.personas):
        for channel_id, account in persona.accounts.items():
            if channel_id in tokens_only:
                one_token(("personas", index, "accounts", channel_id), account)
    for index, brand in enumerate(scenario.brands):
        for channel_id, handles in brand.handles.items():
            for position, handle in enumerate(handles):
                if channel_id in tokens_only:
                    one_token(("brands", index, "handles", channel_id, position), handle)
        for channel in channels_for_brand(scenario, brand.id):
            used.update(personas_for_channel(scenario, channel))
    for index, persona in enumerate(scenario.personas):
        if persona.id not in used:
            report(("personas", index, "accounts"),
                   f"persona {persona.id!r} has no account on any channel that serves a brand: "
                   "no message could ever be sent from it")


def _design(scenario: Scenario, report: Report) -> None:
    modes = scenario.design.mentions
    counts = Counter(modes)
    if scenario.design.type == "counterbalanced":
        if len(counts) < 2:
            report(("design", "mentions"), "a counterbalanced design needs at least two "
                                           "mention modes")
        for position, mode in enumerate(modes):
            if counts[mode] > 1 and modes.index(mode) != position:
                report(("design", "mentions", position), f"mention mode {mode!r} is listed twice")


def _phases(scenario: Scenario, report: Report) -> None:
    """A brand's phases come in order of their start, in the brand's time zone."""
    for index, brand in enumerate(scenario.brands):
        phases = brand.simulate.phases
        starts = [phase_start(p.start, brand.timezone or scenario.timezone) for p in phases]
        for number in ordered(starts):
            report(("brands", index, "simulate", "phases", number, "from"),
                   f"phases must be in increasing date order: phases[{number}] starts at "
                   f"{phases[number].start.isoformat()}, not after phases[{number - 1}] "
                   f"({phases[number - 1].start.isoformat()})")


def _templates(scenario: Scenario, report: Report) -> None:
    """Render every template for every persona x brand x mention mode that can meet it."""
    modes: list[str] = sorted(set(scenario.design.mentions))
    failures = 0
    for c_index, category in enumerate(scenario.categories):
        sources: list[tuple[Path_, str]] = [(("categories", c_index, "templates", i), t)
                                             for i, t in enumerate(category.templates)]
        sources += [(("categories", c_index, "follow_up", i, "template"), f.template)
                    for i, f in enumerate(category.follow_up)]
        for path, source in sources:
            try:
                templates.compile_template(source)
            except templates.TemplateProblem as exc:
                report(path, str(exc))
                continue
            # One line per distinct problem, naming its first (or longest) case and the count.
            found: dict[str, tuple[int, str, str]] = {}
            cases: Counter[str] = Counter()
            for reason, message, where, weight in _render_all(
                    scenario, category.id, category.label, source, modes):
                cases[reason] += 1
                if reason not in found or weight > found[reason][0]:
                    found[reason] = (weight, message, where)
            for reason, (_, message, where) in found.items():
                failures += 1
                if failures <= _MAX_RENDER_PROBLEMS:
                    more = cases[reason] - 1
                    plural = "s" if more > 1 else ""
                    report(path, f"{message} (for {where}"
                                 f"{f', and {more} more case{plural}' if more else ''})")


def _render_all(scenario: Scenario, category_id: str, label: str, source: str,
                modes: Sequence[str]) -> Iterator[tuple[str, str, str, int]]:
    """``(reason, message, where, weight)`` for each failing persona x brand x mention: the
    same reason is the same problem; of its cases, the heaviest (longest) is worth showing."""
    personas = {p.id: p for p in scenario.personas}
    # A template that never reads `persona` renders the same for all of them: try one.
    one_persona = "persona" not in templates.variables_used(source)
    for channel in scenario.channels:
        platform = PLATFORMS[channel.platform or "other"]
        persona_ids = personas_for_channel(scenario, channel)[: 1 if one_persona else None]
        for brand in scenario.brands:
            if channel.brands != "all" and brand.id not in channel.brands:
                continue
            for mode in modes:
                for persona_id in persona_ids:
                    where = f"brand {brand.id!r}, mention {mode!r}"
                    if not one_persona:
                        where = f"persona {persona_id!r}, {where}"
                    try:
                        text = templates.render_message(source, personas[persona_id], brand,
                                                        channel, mode, category_id, label)
                    except templates.TemplateProblem as exc:
                        yield str(exc), str(exc), where, 0
                        continue
                    if platform.max_length is not None:
                        length = platform.length(text)
                        if length > platform.max_length:
                            yield (f"too long for {platform.name}",
                                   f"message is {length} characters, over the {platform.name} "
                                   f"limit of {platform.max_length}", where, length)
