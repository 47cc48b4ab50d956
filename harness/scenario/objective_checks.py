"""Checks of ``objectives:``, ``maintenance:`` and ``alerts:`` against the rest of the
scenario, each problem pinned to its place in the file.

A selector that names no real brand, channel or category is an error, never an objective
that passes because it matched nothing; an indicator gets exactly the fields its kind uses.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from harness.durations import compact_duration
from harness.hours import Hours
from harness.scenario.model import Scenario
from harness.scenario.objectives import Objective
from harness.scenario.queries import channels_for_brand, is_env_ref
from harness.scenario.refs import Report, known


def check(scenario: Scenario, report: Report) -> None:
    """Report every problem of the monitoring sections."""
    ids = {
        "brands": ({b.id for b in scenario.brands}, "brand"),
        "channels": ({c.id for c in scenario.channels}, "channel"),
        "categories": ({c.id for c in scenario.categories}, "category"),
    }
    names = Counter(objective.name for objective in scenario.objectives)
    for index, objective in enumerate(scenario.objectives):
        where = ("objectives", index)
        if names[objective.name] > 1:
            report((*where, "name"), f"two objectives are named {objective.name!r}")
        for field, (known_ids, what) in ids.items():
            chosen = getattr(objective, field)
            if chosen == "all":
                continue
            if not chosen:
                report((*where, field), f"list at least one {what}, or write 'all'")
            for position, item in enumerate(chosen):
                known(report, (*where, field, position), item, known_ids, what)
        if objective.mentions != "all":
            used = set(scenario.design.mentions)
            for position, mode in enumerate(objective.mentions):
                if mode not in used:
                    report((*where, "mentions", position),
                           f"no message mentions a brand by {mode!r} in this scenario's design "
                           f"(it uses {', '.join(sorted(used))})")
        _indicator(scenario, objective, where, report)
        _reachable(scenario, objective, where, report)
        warning = objective.early_warning
        if warning is not None and warning.unanswered > warning.of_last:
            report((*where, "early_warning", "unanswered"),
                   f"{warning.unanswered} of the last {warning.of_last} cannot happen: "
                   "unanswered is at most of_last")
    zone = ZoneInfo(scenario.timezone)
    for index, period in enumerate(scenario.maintenance):
        start, end = (moment if moment.tzinfo else moment.replace(tzinfo=zone)
                      for moment in (period.start, period.end))
        if end <= start:
            report(("maintenance", index, "end"), "a maintenance period ends after it starts")
    if scenario.alerts is not None:
        for index, url in enumerate(scenario.alerts.urls):
            if isinstance(url, dict) and not is_env_ref(url):
                report(("alerts", "urls", index),
                       "an environment reference is {env: VARIABLE_NAME} and nothing else")
            elif isinstance(url, str) and "://" not in url:
                report(("alerts", "urls", index),
                       f"{url!r} is not an Apprise URL (like json://host/path or "
                       "mailto://user@host)")


def _indicator(scenario: Scenario, objective: Objective, where: tuple[str | int, ...],
               report: Report) -> None:
    indicator = objective.indicator
    at = (*where, "indicator")
    uses = {"replied_within": {"within", "counted_in"}, "engagement": {"at_least"},
            "response_rate": set()}[indicator.kind]
    given = indicator.model_fields_set - {"kind"}
    for field in sorted(given - uses):
        report((*at, field), f"{field!r} does not apply to a {indicator.kind} indicator",
               key=True)
    if indicator.kind == "replied_within":
        window = scenario.schedule.observation_window
        if indicator.within is None:
            report((*at, "kind"), "a replied_within indicator needs 'within' (like 1h or 4h)")
        elif indicator.within > window:
            report((*at, "within"), "longer than the observation window "
                   "(schedule.observation_window): replies after it are not followed")
        elif indicator.counted_in == "business_hours":
            _business_deadlines(scenario, objective, indicator.within, window, at, report)
    if indicator.kind == "engagement" and indicator.at_least is None:
        report((*at, "kind"), "an engagement indicator needs 'at_least' (a level, 1-5)")


def _reachable(scenario: Scenario, objective: Objective, where: tuple[str | int, ...],
               report: Report) -> None:
    """An objective whose brands and channels never meet would be judged on nothing."""
    brands = [b.id for b in scenario.brands
              if objective.brands == "all" or b.id in objective.brands]
    channels = None if objective.channels == "all" else set(objective.channels)
    for brand in brands:
        served = {c.id for c in channels_for_brand(scenario, brand)}
        if channels is not None and not served & channels:
            report((*where, "channels"), f"no channel listed here reaches brand {brand!r} "
                   f"(it is reached on {', '.join(sorted(served)) or 'none'})")


def _business_deadlines(scenario: Scenario, objective: Objective, within: timedelta,
                        window: timedelta, at: tuple[str | int, ...], report: Report) -> None:
    """``within`` business hours can end days after a message sent on a Friday night; the
    reply must still fall inside the observation window, or it is never seen."""
    for brand in scenario.brands:
        if objective.brands != "all" and brand.id not in objective.brands:
            continue
        hours = Hours.of(brand.business_hours.days, brand.business_hours.open,
                         brand.business_hours.close, brand.timezone or scenario.timezone)
        if not hours.days:
            continue
        monday = datetime.combine(scenario.schedule.start, datetime.min.time(), hours.zone)
        longest = max(hours.add(sent, within) - sent
                      for sent in (monday + timedelta(minutes=30 * i) for i in range(7 * 48)))
        if longest > window:
            report((*at, "within"), f"for brand {brand.id!r}, {compact_duration(within)} of "
                   f"business hours can end {compact_duration(longest)} after a message (one "
                   "sent as it closes before its days off), after the observation window "
                   f"({compact_duration(window)}): a reply then would never be seen; "
                   "lengthen schedule.observation_window")
            return
