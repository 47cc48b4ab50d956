"""Turn a scenario file into a checked :class:`Scenario`, or into every problem it has."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from harness.errors import Problem, ScenarioError
from harness.scenario import checks
from harness.scenario.checks import SCENARIO_ONLY, Stages
from harness.scenario.located import Located, Path_
from harness.scenario.model import Scenario
from harness.scenario.yamlsafe import FAST, load_file, load_text


def read_scenario(path: str | Path, stages: Stages = SCENARIO_ONLY) -> Scenario:
    """Load, validate and cross-check a scenario file, with the checks ``stages`` adds.

    Raises :class:`ScenarioError` listing every problem, each with file, line, column and
    field path. Nothing is sent or written. The application layer's ``load_scenario`` calls
    this with the channel registry and the plan bound as stages.
    """
    return _fast_then_exact(lambda fast: load_file(Path(path), fast=fast), stages)


def read_scenario_text(text: str, file: str = "<scenario>",
                       stages: Stages = SCENARIO_ONLY) -> Scenario:
    """Like :func:`read_scenario`, for text already in memory."""
    return _fast_then_exact(lambda fast: load_text(text, file, fast=fast), stages)


def _fast_then_exact(read: Callable[[bool], Located], stages: Stages) -> Scenario:
    """Load with libyaml's fast parser; if anything at all is wrong, load again with the
    pure-Python parser, whose positions and messages are the ones users see."""
    if FAST:
        try:
            return check_located(read(True), stages)
        except ScenarioError:
            pass
    return check_located(read(False), stages)


def check_located(located: Located, stages: Stages = SCENARIO_ONLY) -> Scenario:
    """Validate parsed data against the model, then run the cross-section checks."""
    if not isinstance(located.data, dict):
        raise ScenarioError([located.problem((), "a scenario must be a mapping of sections")])
    # Top-level keys starting with `x-` hold YAML anchors for reuse, as in Compose files.
    data = {k: v for k, v in located.data.items() if not str(k).startswith("x-")}
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_translate(exc, located)) from None
    scenario, problems = checks.check(scenario, located, stages)
    if problems:
        raise ScenarioError(problems)
    return scenario


def _translate(error: ValidationError, located: Located) -> list[Problem]:
    problems = []
    missing: dict[Path_, Problem] = {}
    suggested: set[Path_] = set()  # a misspelt key's hint already explains the missing field
    # Errors from the members of a union (`str | int`, `'all' | list[str]`), by union place.
    unions: dict[Path_, list[tuple[Path_, dict[str, Any]]]] = {}
    for item in error.errors(include_url=False):
        loc = tuple(part for part in item["loc"] if isinstance(part, (str, int)))
        kind = item["type"]
        path, union_at, key_error = _data_path(loc, located.data, missing=kind == "missing")
        if union_at is not None:
            unions.setdefault(union_at, []).append((path, dict(item)))
            continue
        if kind == "extra_forbidden":
            key = str(path[-1])
            allowed, refused = _fields_at(path[:-1])
            hint = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            message = f"unknown key {key!r}"
            if key in refused:
                message = refused[key]
            elif hint:
                message += f" (did you mean {hint[0]!r}?)"
                suggested.add((*path[:-1], hint[0]))
            elif allowed:
                message += f" (expected one of: {', '.join(allowed)})"
            problems.append(located.problem(path, message, key=True))
            continue
        if kind == "missing":
            missing[path] = located.problem(path, _message(dict(item)))
            continue
        problems.append(located.problem(path, _message(dict(item)), key=key_error))
    problems += [problem for path, problem in missing.items() if path not in suggested]
    for where, errors in unions.items():
        # A member that accepted the value's shape and failed inside it says what is wrong;
        # if every member refused the value outright, say so once, naming what would do.
        inner = [(path, item) for path, item in errors if len(path) > len(where)]
        if inner:
            problems += [located.problem(path, _message(item)) for path, item in inner]
            continue
        wanted = list(dict.fromkeys(item["msg"].removeprefix("Input should be ")
                                    for _, item in errors))
        message = "Input should be " + " or ".join(wanted)
        problems.append(located.problem(where, message + _got(errors[0][1])))
    return problems


def _message(item: dict[str, Any]) -> str:
    if item["type"] == "missing":
        return "required field is missing"
    message: str = item["msg"].removeprefix("Value error, ")
    if item["type"] not in ("value_error", "assertion_error"):
        message += _got(item)
    return message


def _got(item: dict[str, Any]) -> str:
    value = item.get("input")
    if "input" in item and (isinstance(value, (str, int, float, bool)) or value is None):
        return f" (got {value!r})"
    return ""


def _data_path(loc: Path_, data: Any, *, missing: bool) -> tuple[Path_, Path_ | None, bool]:
    """Split pydantic's error location into the path of the value in the data, where a union
    is (if a union member failed: pydantic adds the member's name, e.g. ``'list[str]'``, which
    is no key in the data), and whether the error is about a mapping key (``'[key]'``)."""
    path: list[str | int] = []
    union_at: Path_ | None = None
    key_error = False
    current = data
    for position, part in enumerate(loc):
        if part == "[key]":
            key_error = True
        elif isinstance(part, int):
            path.append(part)
            ok = isinstance(current, list) and 0 <= part < len(current)
            current = current[part] if ok else None
        elif isinstance(current, dict) and part in current:
            path.append(part)
            current = current[part]
        elif missing and position == len(loc) - 1:
            path.append(part)
        elif union_at is None:
            union_at = tuple(path)
    return tuple(path), union_at, key_error


def _fields_at(path: tuple[str | int, ...]) -> tuple[list[str], dict[str, str]]:
    """The keys the model allows at ``path`` (for "did you mean" hints, as a file writes
    them), and those it refuses with a message of their own (a model's ``refused_keys``)."""
    annotation: Any = Scenario
    for part in path:
        annotation = _unwrap(annotation, isinstance(part, int))
        if isinstance(part, int):
            continue
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            fields = {info.alias or name: info for name, info in annotation.model_fields.items()}
            if part not in fields:
                return [], {}
            annotation = fields[part].annotation
        elif typing.get_origin(annotation) is dict:
            annotation = typing.get_args(annotation)[1]
        else:
            return [], {}
    annotation = _unwrap(annotation, False)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return ([info.alias or name for name, info in annotation.model_fields.items()],
                dict(getattr(annotation, "refused_keys", {})))
    return [], {}


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
