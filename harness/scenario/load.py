"""Turn a scenario file into a checked :class:`Scenario`, or into every problem it has."""

from __future__ import annotations

import difflib
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from harness.errors import Problem, ScenarioError
from harness.scenario import checks
from harness.scenario.model import Scenario
from harness.scenario.yamlsafe import Located, load_file, load_text


def load_scenario(path: str | Path) -> Scenario:
    """Load, validate and cross-check a scenario file.

    Raises :class:`ScenarioError` listing every problem, each with file, line, column and
    field path. Nothing is sent or written.
    """
    return check_located(load_file(Path(path)))


def load_scenario_text(text: str, file: str = "<scenario>") -> Scenario:
    """Like :func:`load_scenario`, for text already in memory."""
    return check_located(load_text(text, file))


def check_located(located: Located) -> Scenario:
    """Validate parsed data against the model, then run the cross-section checks."""
    if not isinstance(located.data, dict):
        raise ScenarioError([located.problem((), "a scenario must be a mapping of sections")])
    # Top-level keys starting with `x-` hold YAML anchors for reuse, as in Compose files.
    data = {k: v for k, v in located.data.items() if not str(k).startswith("x-")}
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_translate(exc, located)) from None
    scenario, problems = checks.check(scenario, located)
    if problems:
        raise ScenarioError(problems)
    return scenario


def _translate(error: ValidationError, located: Located) -> list[Problem]:
    problems = []
    for item in error.errors(include_url=False):
        path = tuple(part for part in item["loc"] if isinstance(part, (str, int)))
        kind = item["type"]
        if kind == "extra_forbidden":
            key = str(path[-1])
            allowed = _fields_at(path[:-1])
            hint = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            message = f"unknown key {key!r}"
            if hint:
                message += f" (did you mean {hint[0]!r}?)"
            elif allowed:
                message += f" (expected one of: {', '.join(allowed)})"
            problems.append(located.problem(path, message, key=True))
            continue
        if kind == "missing":
            message = "required field is missing"
        else:
            message = item["msg"].removeprefix("Value error, ")
            if "input" in item and kind not in ("value_error", "assertion_error"):
                value = item["input"]
                if isinstance(value, (str, int, float, bool)) or value is None:
                    message += f" (got {value!r})"
        problems.append(located.problem(path, message))
    return problems


def _fields_at(path: tuple[str | int, ...]) -> list[str]:
    """The keys the model allows at ``path`` (for "did you mean" hints)."""
    annotation: Any = Scenario
    for part in path:
        annotation = _unwrap(annotation, isinstance(part, int))
        if isinstance(part, int):
            continue
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(part)
            if field is None:
                return []
            annotation = field.annotation
        elif typing.get_origin(annotation) is dict:
            annotation = typing.get_args(annotation)[1]
        else:
            return []
    annotation = _unwrap(annotation, False)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return []


def _unwrap(annotation: Any, indexing: bool) -> Any:
    """Strip Optional/Annotated, and list[...] or dict[...] when stepping into an item."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            models = [a for a in members if isinstance(a, type) and issubclass(a, BaseModel)]
            lists = [a for a in members if typing.get_origin(a) in (list, dict)]
            annotation = (models or lists or members)[0]
        elif indexing and origin is list:
            return typing.get_args(annotation)[0]
        else:
            return annotation
