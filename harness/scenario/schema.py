"""The JSON Schema of scenario files, generated from the model, for editors and other tools.

It describes what the loader accepts: `x-` keys at the top level (anchors for reuse),
`matchups: by_industry`, a single handle as a string, and defaults written the way a scenario
writes them (``5m``, ``09:00``).
"""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

from pydantic.json_schema import GenerateJsonSchema

from harness.durations import compact_duration
from harness.scenario.model import Scenario


class _ScenarioSchema(GenerateJsonSchema):
    def encode_default(self, dft: Any) -> Any:
        if isinstance(dft, timedelta):
            return compact_duration(dft)
        if isinstance(dft, time):
            return "24:00" if dft == time.max else dft.strftime("%H:%M")
        return super().encode_default(dft)


def scenario_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a scenario file."""
    document = Scenario.model_json_schema(schema_generator=_ScenarioSchema)
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "shopper scenario"
    document["patternProperties"] = {"^x-": {}}
    return document
