"""What a QA team promises and how it wants to hear about it: ``objectives:`` (modelled on
OpenSLO: a service-level indicator, a target, a time window), ``maintenance:`` periods and
``alerts:`` (Apprise URLs).

None of these shapes a run: changing a target, adding an objective or muting a maintenance
window never orphans a run in progress (:data:`UNSHAPING` names them for the fingerprint).
Checks that need the rest of the scenario (selectors naming real brands, channels and
categories; ``within`` no longer than the observation window) are in ``objective_checks``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BeforeValidator, Field, PlainSerializer, WithJsonSchema

from harness.durations import PATTERN as DURATION_PATTERN
from harness.durations import compact_duration, parse_duration
from harness.scenario.patterns import pattern_text, schema_pattern
from harness.scenario.types import Duration, MentionMode, Model

UNSHAPING = ("objectives", "maintenance", "alerts")
"""Top-level sections that do not shape a run (left out of its fingerprint)."""

IndicatorKind = Literal["response_rate", "replied_within", "engagement"]
Rule = Literal["estimate", "interval"]
Counting = Literal["wall_clock", "business_hours"]


@dataclass(frozen=True)
class Window:
    """The stretch of time an objective is judged over, ending at the moment of the check:
    ``rolling`` (the last 7 days, say), the calendar ``week`` or ``month`` so far (in the
    scenario's time zone; weeks start on Monday), or the whole ``run``."""

    kind: Literal["rolling", "week", "month", "run"]
    length: timedelta | None = None

    def __str__(self) -> str:
        if self.kind == "rolling" and self.length is not None:
            return compact_duration(self.length)
        return self.kind

    def describe(self) -> str:
        """The window in words (``the last 7d``, ``this calendar week``, ``the whole run``)."""
        return {"rolling": f"the last {self}", "week": "the calendar week so far",
                "month": "the calendar month so far", "run": "the whole run"}[self.kind]


def _window(value: Any) -> Window:
    if isinstance(value, Window):
        return value
    text = str(value).strip()
    if text in ("week", "month", "run"):
        return Window(text)  # type: ignore[arg-type]
    try:
        length = parse_duration(text)
    except ValueError:
        raise ValueError(f"a window is a length like '7d' or '30d' (rolling), 'week' or "
                         f"'month' (calendar), or 'run' (the whole run), got {value!r}") from None
    if length <= timedelta(0):
        raise ValueError("a rolling window must be longer than zero")
    return Window("rolling", length)


if TYPE_CHECKING:
    WindowSpec = Window
else:
    WindowSpec = Annotated[
        Window,
        BeforeValidator(_window),
        PlainSerializer(str, return_type=str),
        WithJsonSchema({"anyOf": [
            {"type": "string", "enum": ["week", "month", "run"]},
            {"type": "string", "pattern": schema_pattern(DURATION_PATTERN)}],
            "examples": ["7d", "30d", "week", "month", "run"]}),
    ]

_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


def _target(value: Any) -> Any:
    if isinstance(value, str):
        match = _PERCENT.match(value)
        if not match:
            raise ValueError(f"a target is a share like 0.9 or '90%', got {value!r}")
        return float(match[1]) / 100
    return value


Target = Annotated[float, BeforeValidator(_target), Field(gt=0.0, le=1.0),
                   WithJsonSchema({"anyOf": [
                       {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
                       {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*%\s*$"}]})]


class Indicator(Model):
    """What is counted as a good probe (the service-level indicator).

    ``response_rate``: the brand answered within the observation window. ``replied_within``:
    the brand's first reply came within ``within``, counted on the wall clock or in the
    brand's ``business_hours``. ``engagement``: the reply reached engagement level
    ``at_least`` (1-5; see the report's engagement scale)."""

    kind: IndicatorKind
    within: Duration | None = Field(None, description="For replied_within: the time allowed.")
    counted_in: Counting = Field(
        "wall_clock", description="For replied_within: wall_clock or business_hours.")
    at_least: int | None = Field(None, ge=1, le=5,
                                 description="For engagement: the lowest level that is good.")

    def describe(self) -> str:
        """The indicator in words."""
        if self.kind == "replied_within" and self.within is not None:
            hours = " business hours" if self.counted_in == "business_hours" else ""
            return f"first reply within {compact_duration(self.within)}{hours}"
        if self.kind == "engagement":
            return f"engagement level {self.at_least} or higher"
        return "answered within the observation window"


if TYPE_CHECKING:
    ObjectiveName = str
else:  # one line of text (no control character) read alike by Python and by editors
    ObjectiveName = pattern_text(r"[^\x00-\x20\x7f][^\x00-\x1f\x7f]{0,79}",
                                 "an objective's name is one line of up to 80 characters, "
                                 "not starting with a space")


class EarlyWarning(Model):
    """Warn (without failing) when ``unanswered`` of the last ``of_last`` decided probes went
    bad: a run of silence shows before a rolling share moves."""

    unanswered: int = Field(ge=1)
    of_last: int = Field(ge=1, le=1000)


class Objective(Model):
    """A promise, judged per brand: the share of good probes in ``window`` is at least
    ``target``, once at least ``min_probes`` probes are decided."""

    name: ObjectiveName = Field(description="Names the objective in every output (escaped).")
    description: str = ""
    brands: Literal["all"] | list[str] = "all"
    channels: Literal["all"] | list[str] = "all"
    categories: Literal["all"] | list[str] = "all"
    mentions: Literal["all"] | list[MentionMode] = "all"
    indicator: Indicator
    target: Target
    window: WindowSpec = Field(default_factory=lambda: Window("run"))
    min_probes: int = Field(5, ge=1, description="Fewer decided probes than this: insufficient.")
    rule: Rule = Field("estimate", description=(
        "estimate: pass when the observed share reaches the target (the interval is shown, "
        "and whether it straddles the target); interval: pass only when the whole 95% "
        "interval is at or above the target, fail only when it is wholly below, else "
        "insufficient."))
    early_warning: EarlyWarning | None = None


class Maintenance(Model):
    """A period in which alerts are muted and probes sent are left out of the objectives
    (they are still sent and measured). Times without an offset are in the scenario's zone."""

    start: datetime
    end: datetime
    reason: str = ""


EnvRef = Annotated[dict[str, str], WithJsonSchema({
    "type": "object", "properties": {"env": {"type": "string"}}, "required": ["env"],
    "additionalProperties": False})]


class Alerts(Model):
    """Where notifications go: Apprise URLs (``json://host/path``, ``mailto://...``,
    ``slack://...``), each a string or ``{env: NAME}``; a variable that is unset sends
    nothing there. Edge-triggered: one message when an objective starts failing, one when it
    recovers, and, with ``remind_every``, a reminder while it stays failing."""

    urls: list[str | EnvRef] = Field(min_length=1)
    remind_every: Duration | None = None
    retries: int = Field(3, ge=0, le=20, description="Attempts after the first, per message.")
    on_insufficient: bool = Field(
        False, description="Also alert when an objective that was passing becomes "
                           "insufficient (too few probes decided).")
