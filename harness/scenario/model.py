"""The scenario model: what a scenario file may say, with a JSON Schema generated from it.

Checks that need only one field live here (types, ranges, time zones). Checks across fields and
sections (references, duplicates, templates, message lengths, secrets) live in ``checks.py``,
where they can point at the file position of each problem.
"""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    SerializerFunctionWrapHandler,
    WithJsonSchema,
    model_serializer,
    model_validator,
)

from harness.hours import Weekday
from harness.platforms import PlatformName, SendMode
from harness.scenario.objectives import Alerts, Maintenance, Objective
from harness.scenario.phase_model import Phase
from harness.scenario.types import (
    Duration,
    Hashtag,
    Identifier,
    MentionMode,
    Model,
    Probability,
    Slug,
    TimeOfDay,
    TimeZoneName,
)

WORKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")
AT_THEN_NAME: tuple[MentionMode, ...] = ("at", "name")


def _clock(value: time) -> str:
    """A time of day as written in scenarios (``time.max`` is ``24:00``)."""
    return "24:00" if value == time.max else f"{value:%H:%M}"


class Persona(Model):
    """A shopper identity with accounts on one or more channels."""

    id: Identifier
    name: str = Field(min_length=1, description="Display name, used in templates and reports.")
    accounts: dict[str, str] = Field(
        default_factory=dict,
        description="Account handle per channel id, e.g. {twitter: '@ana_shops'}.",
    )
    attributes: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description="Free attributes analysis can group by, e.g. {followers: 250}.",
    )


class BusinessHours(Model):
    """When the brand's service team works, in the brand's time zone."""

    days: list[Weekday] = Field(default_factory=lambda: list(WORKDAYS))
    open: TimeOfDay = time(9, 0)
    close: TimeOfDay = time(17, 0)

    @model_validator(mode="after")
    def _open_before_close(self) -> BusinessHours:
        if self.open >= self.close:
            raise ValueError(f"open ({_clock(self.open)}) must be before close "
                             f"({_clock(self.close)})")
        return self


class Latency(Model):
    """A log-normal reply delay: half of replies come faster than ``median``."""

    median: Duration = timedelta(hours=2)
    spread: float = Field(1.0, ge=0.0, le=4.0, description="Sigma of the log of the delay.")
    minimum: Duration = timedelta(seconds=30)


class AutoAck(Model):
    """An automatic acknowledgement sent soon after each message, before any human reply."""

    probability: Probability = 1.0
    after: Duration = timedelta(minutes=1)
    kind: Literal["public_reply", "direct_message", "email"] = "direct_message"
    text: str = "Thanks for reaching out! We'll get back to you as soon as we can."


class SimulateProfile(Model):
    """How a simulated brand behaves: who it answers, how fast, and how."""

    reply: dict[MentionMode, Probability] = Field(
        default_factory=dict,
        description="Chance of a public reply per mention mode (missing modes: 0).",
    )
    category: dict[str, Annotated[float, Field(ge=0.0, le=10.0)]] = Field(
        default_factory=dict,
        description="Multiplier of the reply chance per category id (default 1).",
    )
    latency: Latency = Latency()
    off_hours: Literal["answer", "queue"] = Field(
        "answer", description="'queue': the reply clock runs only in business hours.")
    weekends: Literal["answer", "queue", "ignore"] = Field(
        "queue", description="Messages sent on a non-business day: answer, queue or ignore.")
    direct_message: Probability = Field(
        0.0, description="Chance a reply is followed by a DM asking for contact details.")
    email: Probability = Field(
        0.0, description="Chance a reply is followed by an email to the customer.")
    follow_up_reply: Probability = Field(
        0.8, description="Chance the brand answers a follow-up in the same thread.")
    auto_ack: AutoAck | None = None
    texts: list[str] = Field(
        default_factory=lambda: ["Hi! Sorry to hear that. Could you tell us a bit more?"],
        min_length=1,
    )
    phases: list[Phase] = Field(default_factory=list, description=(
        "Changes from a date on, in date order: each phase's fields replace the profile's "
        "(mappings key by key) for messages sent from its `from` until the next phase."))

    @model_serializer(mode="wrap")
    def _without_no_phases(self, handler: SerializerFunctionWrapHandler) -> Any:
        # A profile without phases serialises as before phases existed: same fingerprint.
        data = handler(self)
        if not self.phases and isinstance(data, dict):
            data.pop("phases", None)
        return data


class Brand(Model):
    """An audited company."""

    id: Identifier
    name: str = Field(min_length=1)
    industry: str = Field(min_length=1)
    handles: Annotated[dict[str, list[str]], WithJsonSchema({
        "type": "object",
        "additionalProperties": {"anyOf": [{"type": "string"},
                                           {"type": "array", "items": {"type": "string"}}]},
    })] = Field(
        default_factory=dict,
        description="Official handles per channel id; several allowed (main and care accounts).",
    )
    hashtag: Hashtag | None = None
    timezone: TimeZoneName | None = Field(
        None, description="Defaults to the scenario's time zone.")
    business_hours: BusinessHours = BusinessHours()
    simulate: SimulateProfile = SimulateProfile()

    @model_validator(mode="before")
    @classmethod
    def _handles_as_lists(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("handles"), dict):
            data = dict(data)
            data["handles"] = {
                key: [value] if isinstance(value, str) else value
                for key, value in data["handles"].items()
            }
        return data


class FollowUp(Model):
    """One more message in the thread, sent after the brand answers the previous one."""

    after: Duration = Field(timedelta(minutes=10), description="Delay after the brand's reply.")
    template: str = Field(min_length=1)


class Category(Model):
    """A kind of question with its message templates (jinja2, sandboxed)."""

    id: Identifier
    label: str = Field(min_length=1)
    templates: list[str] = Field(min_length=1)
    follow_up: list[FollowUp] = Field(default_factory=list)


class Channel(Model):
    """Which adapter serves which personas and brands, with its settings."""

    id: Identifier
    adapter: str = Field(description="Registered adapter name, e.g. 'simulated'.")
    platform: PlatformName | None = Field(
        None, description="Platform whose limits apply; defaults to the adapter's own.")
    mode: SendMode | None = Field(
        None, description="auto: the harness posts; confirm: a person approves each post in "
        "the terminal; assisted: a person posts it and the harness finds it. Defaults to the "
        "adapter's own (assisted for x and manual, auto for the others).")
    personas: Literal["all"] | list[str] = "all"
    brands: Literal["all"] | list[str] = "all"
    poll_every: Duration = timedelta(minutes=5)
    settings: dict[str, Any] = Field(
        default_factory=dict,
        description="Adapter settings; secrets only as {env: VARIABLE_NAME}.",
    )


class SendWindow(Model):
    """The local time window messages are sent in."""

    start: TimeOfDay = time(9, 0)
    end: TimeOfDay = time(17, 0)

    @model_validator(mode="after")
    def _start_before_end(self) -> SendWindow:
        if self.start >= self.end:
            raise ValueError(
                f"start ({_clock(self.start)}) must be before end ({_clock(self.end)})")
        return self


class Schedule(Model):
    """When messages go out and how long replies are awaited. Checks across its fields
    (``repeat``, ``until``, ``times``) are in ``scenario/schedule_checks.py``."""

    start: date
    weeks: int = Field(4, ge=1, le=520)
    weekdays: list[Weekday] = Field(default_factory=lambda: list(WORKDAYS), min_length=1)
    send_window: SendWindow = SendWindow()
    messages_per_brand_per_day: int = Field(1, ge=1, le=100)
    observation_window: Duration = timedelta(days=7)
    exclude_dates: list[date] = Field(default_factory=list)
    repeat: bool = Field(False, description="Repeat week after week, without end or until "
                         "`until` (then `weeks` is not given): for monitoring.")
    until: date | None = Field(None, description="With repeat: the last day that may send.")
    times: list[TimeOfDay] | None = Field(
        None, min_length=1, max_length=100, description="Fixed send times, each sending day, "
        "in each brand's time zone; instead of a random time in send_window. "
        "messages_per_brand_per_day is then the number of times.")

    @model_validator(mode="before")
    @classmethod
    def _one_message_per_time(cls, data: Any) -> Any:
        if (isinstance(data, dict) and isinstance(data.get("times"), list)
                and "messages_per_brand_per_day" not in data):
            data = {**data, "messages_per_brand_per_day":
                    min(100, max(1, len(data["times"])))}
        return data

    @model_serializer(mode="wrap")
    def _unused_keys_left_out(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Keys added after runs were first fingerprinted are left out while unused, so a
        # scenario that does not use them keeps the fingerprint (and its run) it had.
        data: dict[str, Any] = handler(self)
        for key in ("repeat", "until", "times"):
            if data.get(key) in (None, False):
                data.pop(key, None)
        return data


class Design(Model):
    """How mention modes (and categories and personas) are spread over the calendar."""

    type: Literal["replay", "counterbalanced"] = "replay"
    mentions: list[MentionMode] = Field(
        default_factory=lambda: list(AT_THEN_NAME),
        min_length=1,
        description="replay: the mode of week 1, 2, ... (cycled) for every brand. "
        "counterbalanced: the modes to rotate; half the brands start with each.",
    )


class Published(Model):
    """Figures a past study published, to set beside a replay's (all optional)."""

    source: str = Field("", description="Where the figures come from.")
    answered: int | None = Field(None, ge=0, description="Messages the brands answered.")
    answered_without_at: int | None = Field(
        None, ge=0, description="Of those, messages that named the brand without its @handle.")
    replies: dict[str, Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict, description="Messages each brand (by id) answered.")
    mean_among_replies: dict[str, Duration] = Field(
        default_factory=dict, description="Each brand's mean time to reply among its replies.")
    category_replies: dict[str, Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict, description="Replies per category id.")
    differences: dict[str, int] = Field(
        default_factory=dict, description="'brand vs other': how many more messages the first "
        "brand answered than the second (negative: fewer).")


class ReportSettings(Model):
    """Thresholds the report uses (engagement levels and response tiers)."""

    quick_reply: Duration = Field(
        timedelta(hours=1), description="A reply within this is engagement level 3.")
    slow_reply: Duration = Field(
        timedelta(hours=24), description="A reply later than this is engagement level 1.")
    fast_tier: Duration = Field(
        timedelta(hours=1),
        description="Brands whose median time among replies is within this are fast responders.")
    alpha: float = Field(0.05, gt=0.0, lt=1.0, description=(
        "The level of every verdict: with equal true rates, a winner is named in at most this "
        "share of studies (matchups as one family, Holm's correction)."))
    rate_test: Literal["fisher", "boschloo"] = Field(
        "fisher", description="The exact test of two rates: Fisher's, or Boschloo's (more "
        "powerful, slower).")
    min_replies: int = Field(
        5, ge=1, le=1000, description="Replies a brand needs before its speed is compared or "
        "it is put in a speed tier.")
    published: Published | None = Field(
        None, description="A past study's published figures: a replay's report and "
        "`shopper race --replicates` set them beside the simulated ones.")

    @model_validator(mode="after")
    def _quick_before_slow(self) -> ReportSettings:
        if self.quick_reply >= self.slow_reply:
            raise ValueError("quick_reply must be shorter than slow_reply")
        return self


def _matchups(value: Any) -> Any:
    return None if value == "by_industry" else value


class Scenario(Model):
    """One experiment: who asks whom what, when, and where."""

    name: Annotated[Slug, Field(description="Short slug; names the default results folder.")]
    title: str = ""
    description: str = ""
    seed: int = Field(0, ge=0, le=2**63 - 1)
    timezone: TimeZoneName = "UTC"
    personas: list[Persona] = Field(min_length=1)
    brands: list[Brand] = Field(min_length=1)
    matchups: Annotated[list[list[str]] | None, BeforeValidator(_matchups), WithJsonSchema({
        "anyOf": [{"const": "by_industry"},
                  {"type": "array", "items": {"type": "array", "items": {"type": "string"}}}],
    })] = Field(
        None, description="'by_industry' (default) or explicit lists of brand ids.")
    categories: list[Category] = Field(min_length=1)
    channels: list[Channel] = Field(min_length=1)
    schedule: Schedule
    design: Design = Design()
    report: ReportSettings = ReportSettings()
    objectives: list[Objective] = Field(default_factory=list, description=(
        "Service-level objectives, judged per brand by `shopper check` (docs/monitoring.md)."))
    maintenance: list[Maintenance] = Field(default_factory=list, description=(
        "Periods that mute alerts and leave their probes out of the objectives."))
    alerts: Alerts | None = None


def resolved_matchups(scenario: Scenario) -> list[list[str]]:
    """The matchups as lists of brand ids: the explicit ones, or one per industry that has
    at least two brands (in order of first appearance)."""
    if scenario.matchups is not None:
        return [list(m) for m in scenario.matchups]
    by_industry: dict[str, list[str]] = {}
    for brand in scenario.brands:
        by_industry.setdefault(brand.industry, []).append(brand.id)
    return [ids for ids in by_industry.values() if len(ids) >= 2]


def scenario_json(scenario: Scenario) -> str:
    """The scenario as JSON, the form its fingerprint is taken of."""
    return scenario.model_dump_json()


def settings_only_change(stored_json: str, new_json: str) -> list[str]:
    """The channels whose ``settings`` alone differ between two :func:`scenario_json` forms,
    if nothing else does (else ``[]``). Settings (credentials, CA files, timeouts) do not
    shape the plan: fixing them must not orphan a run."""
    import json

    from harness.scenario.objectives import UNSHAPING

    try:
        old, new = json.loads(stored_json), json.loads(new_json)
        for section in UNSHAPING:
            old.pop(section, None)
            new.pop(section, None)
        old_settings = [c.pop("settings", None) for c in old["channels"]]
        new_settings = [c.pop("settings", None) for c in new["channels"]]
    except (ValueError, KeyError, TypeError, AttributeError):
        return []
    if old != new or old_settings == new_settings:
        return []
    return [channel["id"] for channel, before, after in zip(
        new["channels"], old_settings, new_settings, strict=True) if before != after]


def scenario_hash(scenario: Scenario) -> str:
    """A fingerprint of everything that shapes a run (comments and layout do not count; the
    order of keys in a mapping does). Objectives, maintenance and alerts do not shape a run
    and are left out, so a run's fingerprint is the one it had before they existed."""
    import hashlib

    from harness.scenario.objectives import UNSHAPING

    text = scenario.model_dump_json(exclude=set(UNSHAPING))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
