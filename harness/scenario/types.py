"""Small value types shared by the scenario model: ids, durations, times of day, weekdays
(the weekdays themselves are :mod:`harness.hours`'s)."""

from __future__ import annotations

import re
from datetime import time, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)

from harness.durations import PATTERN as DURATION_PATTERN
from harness.durations import compact_duration, parse_duration
from harness.scenario.patterns import (
    HASHTAG,
    IDENTIFIER,
    SLUG,
    pattern_text,
    schema_pattern,
)

TIME_OF_DAY = r"([01]?[0-9]|2[0-3]):([0-5][0-9])"

MentionMode = Literal["at", "name", "hashtag"]
MENTION_MODES: tuple[MentionMode, ...] = get_args(MentionMode)
MENTION_WORDS: dict[str, str] = {"at": "@handle", "name": "brand name",
                                "hashtag": "#hashtag"}
"""Each mention mode as a page or chart says it."""
Probability = Annotated[float, Field(ge=0.0, le=1.0)]



if TYPE_CHECKING:
    Hashtag = str
    Identifier = str
    Slug = str
else:
    Hashtag = pattern_text(HASHTAG, "a hashtag is '#' then letters, digits or '_'")
    Identifier = pattern_text(IDENTIFIER, "an id is 1-64 ASCII letters, digits, '-', '_' or "
                              "'.', starting with a letter or digit")
    Slug = pattern_text(SLUG, "a name is 1-64 lower-case ASCII letters, digits, '-' or '_', "
                        "starting with a letter or digit (it names the results folder)")


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    duration = parse_duration(value)
    if duration <= timedelta(0):
        raise ValueError("must be longer than zero")
    return duration


Duration = Annotated[
    timedelta,
    BeforeValidator(_duration),
    PlainSerializer(compact_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": schema_pattern(DURATION_PATTERN),
                    "examples": ["90s", "15m", "2h30m", "7d"]}),
]


def _time_of_day(value: Any) -> time:
    if isinstance(value, time):
        return value
    text = str(value)  # as written: the schema's pattern allows no spaces around it either
    match = re.fullmatch(TIME_OF_DAY, text)
    if match:
        return time(int(match[1]), int(match[2]))
    if text == "24:00":
        return time.max
    raise ValueError(f"expected a time of day like '09:00' or '17:30', got {value!r}")


TimeOfDay = Annotated[
    time,
    BeforeValidator(_time_of_day),
    PlainSerializer(lambda t: "24:00" if t == time.max else t.strftime("%H:%M"), return_type=str),
    WithJsonSchema({"type": "string", "pattern": schema_pattern(rf"{TIME_OF_DAY}|24:00")}),
]


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "Europe" is a folder
        raise ValueError(
            f"unknown time zone {value!r} (use an IANA name like 'Europe/Paris')") from None
    return value


TimeZoneName = Annotated[
    str,
    AfterValidator(_check_timezone),
    Field(description="IANA time zone name, e.g. 'America/New_York'."),
]


class Model(BaseModel):
    """Base for all scenario sections: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)
