"""A phase of a simulated brand's ``simulate:`` profile: from a date on, some fields change.

A :class:`Phase` names only what changes; every field left out (``None``) is the base
profile's. Mappings merge key by key (``reply``, ``category``, ``latency``, ``auto_ack``); lists
(``texts``) and single values are replaced. How a phase is applied, and when, is
:mod:`harness.scenario.phases`; that the phases come in order is checked in ``checks.py``,
which knows each brand's time zone.

The fields mirror :class:`~harness.scenario.model.SimulateProfile`, :class:`Latency` and
:class:`AutoAck` with the same ranges (a test holds them equal).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from harness.scenario.patterns import schema_pattern
from harness.scenario.types import Duration, MentionMode, Probability

INHERIT = "Unset: the base profile's."
START = r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?"
"""A date, or a date and time with an optional offset, as a phase's ``from`` is written."""


def _start(value: Any) -> Any:
    """A date stays a date and a date and time keeps its offset, from YAML or from JSON
    (pydantic would read ``2027-02-01`` as midnight, or ``...T00:00+01:00`` as a date)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        if re.fullmatch(START, text) is None:
            raise ValueError(text)
        return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"expected a date like 2027-02-01 or a date and time like "
                         f"2027-02-01T09:00, got {value!r}") from None


class _Change(BaseModel):
    """Base of the partial models: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    refused_keys: ClassVar[dict[str, str]] = {}
    """Keys refused with a message of their own, not just "unknown key"."""


class LatencyChange(_Change):
    """Fields of the reply delay that change; the others are the base profile's."""

    median: Duration | None = Field(None, description=INHERIT)
    spread: float | None = Field(None, ge=0.0, le=4.0, description=INHERIT)
    minimum: Duration | None = Field(None, description=INHERIT)


class AutoAckChange(_Change):
    """Fields of the automatic acknowledgement that change (onto the base's, or onto the
    defaults if the base has none)."""

    probability: Probability | None = Field(None, description=INHERIT)
    after: Duration | None = Field(None, description=INHERIT)
    kind: Literal["public_reply", "direct_message", "email"] | None = Field(
        None, description=INHERIT)
    text: str | None = Field(None, description=INHERIT)


class Phase(_Change):
    """From ``from`` on (until the next phase), the profile with these fields changed."""

    model_config = ConfigDict(extra="forbid", frozen=True, serialize_by_alias=True)

    refused_keys: ClassVar[dict[str, str]] = {
        "phases": "a phase cannot have phases of its own: list every phase, in date order, "
                  "under the profile's `phases:`",
    }

    start: Annotated[datetime | date, BeforeValidator(_start), WithJsonSchema({
        "type": "string", "pattern": schema_pattern(START),
        "examples": ["2027-02-01", "2027-02-01T09:00", "2027-02-01T09:00:00+01:00"]})] = Field(
        alias="from", description=(
        "When the phase begins: a date (midnight in the brand's time zone) or a date and "
        "time (in the brand's time zone unless it gives an offset). It applies to messages "
        "sent from then on."))
    reply: dict[MentionMode, Probability] | None = Field(
        None, description="Reply chances that change, per mention mode (the others: the "
        "base profile's).")
    category: dict[str, Annotated[float, Field(ge=0.0, le=10.0)]] | None = Field(
        None, description="Category multipliers that change (the others: the base's).")
    latency: LatencyChange | None = None
    off_hours: Literal["answer", "queue"] | None = Field(None, description=INHERIT)
    weekends: Literal["answer", "queue", "ignore"] | None = Field(None, description=INHERIT)
    direct_message: Probability | None = Field(None, description=INHERIT)
    email: Probability | None = Field(None, description=INHERIT)
    follow_up_reply: Probability | None = Field(None, description=INHERIT)
    auto_ack: AutoAckChange | None = Field(
        None, description="Acknowledgement fields that change; {probability: 0} stops them.")
    texts: list[str] | None = Field(None, min_length=1, description="Replaces the base's.")
