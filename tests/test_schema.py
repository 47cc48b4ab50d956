"""`shopper schema`: editors checking scenario files with it agree with the loader."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from harness.scenario.schema import scenario_schema
from harness.session.scenarios import load_scenario_text

from .conftest import ROOT, SMALL

SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = scenario_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_scenarios_pass_the_schema(validator: jsonschema.Draft202012Validator,
                                           path: Path) -> None:
    # Editors see YAML dates as strings: the JSON round trip does the same.
    data = json.loads(json.dumps(yaml.safe_load(path.read_text(encoding="utf-8")), default=str))
    assert [e.message for e in validator.iter_errors(data)] == []


def test_the_schema_rejects_what_the_loader_rejects(
        validator: jsonschema.Draft202012Validator) -> None:
    data = yaml.safe_load(SMALL)
    data["brands"][0]["simulat"] = {}
    data["schedule"]["observation_window"] = "a week"
    messages = " ".join(e.message for e in validator.iter_errors(data))
    assert "simulat" in messages and "a week" in messages


def test_defaults_are_written_the_way_scenarios_write_them() -> None:
    definitions = scenario_schema()["$defs"]
    assert definitions["Channel"]["properties"]["poll_every"]["default"] == "5m"
    assert definitions["SendWindow"]["properties"]["start"]["default"] == "09:00"
    assert definitions["Latency"]["properties"]["median"]["default"] == "2h"
    schedule = definitions["Schedule"]["properties"]
    assert schedule["observation_window"]["default"] == "7d"
    # and the defaults load back to the same values
    text = SMALL.replace("  observation_window: 3d\n", "")
    assert text != SMALL
    assert load_scenario_text(text, "s.yaml").schedule.observation_window.days == 7
