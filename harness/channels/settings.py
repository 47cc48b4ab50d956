"""Channel settings: what each adapter takes, and how adapters read them.

Each adapter declares its settings as :class:`Setting` values (name, type, help, whether
required or secret, default) in its ``settings_spec``; from those come the secret and required
settings, the "missing setting" reasons of ``not_configured``, :func:`settings_problems` (the
scenario's check of a channel's ``settings``) and the tables in ``docs/channels.md``
(:mod:`harness.channels.docs`).

Scenarios never hold secret values: a secret is written ``{env: VARIABLE_NAME}`` (validation
refuses anything else). Adapters resolve those references here, at the moment they need them,
and everything that shows settings (``shopper channels``, the live-run preflight) goes through
:func:`masked`, which names the variable and says whether it is set, never its value.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from harness.durations import compact_duration, parse_duration
from harness.errors import NotConfigured
from harness.scenario.located import Path_

DEFAULT_TIMEOUT = timedelta(seconds=30)


def is_env_ref(value: Any) -> bool:
    """Whether ``value`` is an ``{env: NAME}`` reference."""
    return isinstance(value, dict) and set(value) == {"env"} and isinstance(value["env"], str)


def env_names(value: Any) -> Iterator[str]:
    """Every environment variable named anywhere in ``value``."""
    if is_env_ref(value):
        yield value["env"]
    elif isinstance(value, dict):
        for item in value.values():
            yield from env_names(item)
    elif isinstance(value, list):
        for item in value:
            yield from env_names(item)


def missing_env(settings: Mapping[str, Any], environ: Mapping[str, str]) -> list[str]:
    """The variables ``settings`` names that are unset or empty, sorted."""
    return sorted({name for name in env_names(dict(settings)) if not environ.get(name)})


def masked(value: Any, environ: Mapping[str, str], secret_keys: frozenset[str] = frozenset(),
           key: str = "") -> Any:
    """``value`` fit to show: env references become ``$NAME (set)`` or ``$NAME (not set)``,
    and plain values under secret keys become ``***``."""
    if is_env_ref(value):
        name = value["env"]
        return f"${name} ({'set' if environ.get(name) else 'not set'})"
    if isinstance(value, dict):
        return {k: masked(v, environ, secret_keys, k) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v, environ, secret_keys, key) for v in value]
    return "***" if key in secret_keys and value not in (None, "") else value


class Settings:
    """One channel's settings, read with clear "not configured" errors."""

    def __init__(self, channel: str, settings: Mapping[str, Any],
                 environ: Mapping[str, str]) -> None:
        self.channel = channel
        self.values = dict(settings)
        self.environ = environ

    def resolve(self, value: Any, where: str) -> Any:
        """``value`` with env references replaced by the variables' values."""
        if is_env_ref(value):
            found = self.environ.get(value["env"])
            if not found:
                raise NotConfigured(f"channel {self.channel!r}: {where} comes from the "
                                    f"environment variable {value['env']}, which is not set")
            return found
        if isinstance(value, dict):
            return {k: self.resolve(v, f"{where}.{k}") for k, v in value.items()}
        return value

    def get(self, key: str, default: Any = None) -> Any:
        """An optional setting, resolved."""
        return self.resolve(self.values[key], key) if key in self.values else default

    def require(self, key: str) -> Any:
        """A setting the adapter cannot work without."""
        if key not in self.values:
            raise NotConfigured(f"channel {self.channel!r}: settings.{key} is required")
        return self.resolve(self.values[key], key)

    def per_persona(self, key: str, persona: str) -> Any:
        """``settings[key][persona]``: per-persona credentials and ids."""
        table = self.values.get(key)
        if not isinstance(table, dict) or persona not in table:
            raise NotConfigured(f"channel {self.channel!r}: settings.{key}.{persona} is "
                                f"required (credentials of persona {persona!r})")
        return self.resolve(table[persona], f"{key}.{persona}")

    def duration(self, key: str, default: timedelta) -> timedelta:
        """A duration setting such as ``15m``."""
        value = self.values.get(key)
        if value is None:
            return default
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            raise NotConfigured(f"channel {self.channel!r}: settings.{key}: {exc}") from None


# -- declarations ---------------------------------------------------------------------------


class SettingProblem(NamedTuple):
    """What is wrong at ``path`` (inside the channel's ``settings``); ``at_key``: the problem
    is the key itself (an unknown setting), not its value."""

    path: Path_
    message: str
    at_key: bool = False


@dataclass(frozen=True)
class _Check:
    personas: Collection[str] | None
    missing: bool


class Kind:
    """A setting's type: what the docs call it, and which values it takes."""

    @property
    def label(self) -> str:
        """The type's name in the docs' tables and in problems."""
        raise NotImplementedError

    def problems(self, value: Any, path: Path_, check: _Check,
                 secret: bool) -> Iterator[SettingProblem]:
        raise NotImplementedError


@dataclass(frozen=True)
class Scalar(Kind):
    """A single value. An environment reference stands for text (what variables hold)."""

    called: str
    takes: Callable[[Any], bool]
    env: bool = True
    """Whether ``{env: NAME}`` may stand for the value (the adapter resolves it)."""

    @property
    def label(self) -> str:
        return self.called

    def problems(self, value: Any, path: Path_, check: _Check,
                 secret: bool) -> Iterator[SettingProblem]:
        if isinstance(value, dict) and "env" in value:
            if self.env:
                return  # its form is checked with every environment reference's
        elif secret or self.takes(value):
            return  # an inline secret is refused where every secret's form is checked
        yield SettingProblem(path, f"must be {self.label}, not {_shown(value, secret)}")


@dataclass(frozen=True)
class OneOf(Kind):
    """One of a few words."""

    choices: tuple[str, ...]

    @property
    def label(self) -> str:
        return "one of " + ", ".join(self.choices)

    def problems(self, value: Any, path: Path_, check: _Check,
                 secret: bool) -> Iterator[SettingProblem]:
        if value in self.choices or (isinstance(value, dict) and "env" in value):
            return
        hint = difflib.get_close_matches(str(value), self.choices, n=1, cutoff=0.6)
        extra = f" (did you mean {hint[0]!r}?)" if hint else ""
        yield SettingProblem(path, f"must be {self.label}, not {_shown(value, secret)}{extra}")


@dataclass(frozen=True)
class Table(Kind):
    """A mapping of settings of its own (a server's host and port, say)."""

    fields: tuple[Setting, ...]

    @property
    def label(self) -> str:
        return "table"

    def problems(self, value: Any, path: Path_, check: _Check,
                 secret: bool) -> Iterator[SettingProblem]:
        if not isinstance(value, dict):
            yield SettingProblem(path, f"must be a table of {', '.join(_names(self.fields))}, "
                                       f"not {_shown(value, secret)}")
            return
        yield from _problems(self.fields, value, path, check, secret)


@dataclass(frozen=True)
class PerPersona(Kind):
    """A mapping from persona ids to one value each (credentials, ids)."""

    of: Kind
    what: str
    """What each persona's value is, in words ("access token"), for messages."""

    @property
    def label(self) -> str:
        return f"persona → {self.of.label}"

    def problems(self, value: Any, path: Path_, check: _Check,
                 secret: bool) -> Iterator[SettingProblem]:
        if not isinstance(value, dict):
            yield SettingProblem(path, f"must map each persona to its {self.what}, not "
                                       f"{_shown(value, secret)}")
            return
        for persona, item in value.items():
            where = (*path, persona)
            if check.personas is not None and persona not in check.personas:
                yield SettingProblem(where, _unknown("persona", str(persona),
                                                     sorted(check.personas), "no personas"),
                                     at_key=True)
            else:
                yield from self.of.problems(item, where, check, secret)


class Described(NamedTuple):
    """A default that depends on other settings, in words (``"587; 465 with ssl"``)."""

    text: str


@dataclass(frozen=True)
class Setting:
    """One setting an adapter takes."""

    name: str
    type: Kind
    help: str
    """What it is, in one line."""
    required: bool = False
    secret: bool = False
    """A secret: only ever ``{env: VARIABLE_NAME}``, masked wherever settings are shown."""
    default: Any = None
    """What the adapter takes when the setting is absent, as a scenario would write it
    (``None``: nothing; :class:`Described`: words)."""


def _is_duration(value: Any) -> bool:
    try:
        parse_duration(str(value))
    except ValueError:
        return False
    return True


def _is_web_url(value: str) -> bool:
    """An http(s) URL with a host, or nothing (``""``: the adapter's default)."""
    parts = urlsplit(value)
    return not value or (parts.scheme in ("http", "https") and bool(parts.hostname))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


TEXT = Scalar("text", lambda value: isinstance(value, str))
URL = Scalar("URL", lambda value: isinstance(value, str) and _is_web_url(value))
"""An http or https URL with a host (whether it answers is for the adapter to find out)."""
PATH = Scalar("path", lambda value: isinstance(value, str))
BOOLEAN = Scalar("true or false", lambda value: isinstance(value, bool), env=False)
NUMBER = Scalar("number", _is_number, env=False)
INTEGER = Scalar("integer", lambda value: isinstance(value, int) and not isinstance(value, bool))
IDENTIFIER = Scalar("id", lambda value: isinstance(value, str) or (
    isinstance(value, int) and not isinstance(value, bool)))
DURATION = Scalar("duration", _is_duration, env=False)

TIMEOUT = Setting("timeout", DURATION, "the longest any one request to the platform may take",
                  default=compact_duration(DEFAULT_TIMEOUT))


def secret_names(spec: Sequence[Setting]) -> frozenset[str]:
    """The settings of ``spec`` that hold secrets."""
    return frozenset(setting.name for setting in spec if setting.secret)


def required_names(spec: Sequence[Setting]) -> tuple[str, ...]:
    """The settings of ``spec`` an adapter cannot work without, in declared order."""
    return tuple(setting.name for setting in spec if setting.required)


def settings_problems(spec: Sequence[Setting] | None, settings: Mapping[str, Any], *,
                      personas: Collection[str] | None = None,
                      missing: bool = True) -> list[SettingProblem]:
    """What is wrong with a channel's ``settings`` for an adapter declaring ``spec``:
    unknown settings (with the closest known name), values of the wrong type, and, when
    ``missing``, required settings that are absent (a scenario run only ``--simulate`` may
    leave those out). Given ``personas`` (the scenario's persona ids), per-persona tables
    naming anyone else are wrong too. Paths are inside ``settings``.

    ``spec=None`` (an adapter that declares nothing) takes anything. The form of secrets
    (``{env: NAME}`` only) and of environment references is not checked here: the scenario
    checks it for every adapter's settings alike."""
    if spec is None:
        return []
    return list(_problems(spec, settings, (), _Check(personas, missing), False))


def _problems(fields: Sequence[Setting], values: Mapping[str, Any], path: Path_,
              check: _Check, secret: bool) -> Iterator[SettingProblem]:
    by_name = {field.name: field for field in fields}
    for key, value in values.items():
        field = by_name.get(key)
        if field is None:
            yield SettingProblem((*path, key), _unknown("setting", str(key), _names(fields),
                                                        "this adapter takes no settings"),
                                 at_key=True)
        else:
            yield from field.type.problems(value, (*path, key), check, secret or field.secret)
    if check.missing:
        for field in fields:
            if field.required and field.name not in values:
                yield SettingProblem((*path, field.name),
                                     f"required setting is missing: {field.help}")


def _names(fields: Sequence[Setting]) -> list[str]:
    return [field.name for field in fields]


def _unknown(what: str, key: str, known: Sequence[str], none: str) -> str:
    hint = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if hint:
        return f"unknown {what} {key!r} (did you mean {hint[0]!r}?)"
    if known:
        return f"unknown {what} {key!r} (expected one of: {', '.join(known)})"
    return f"unknown {what} {key!r} ({none})"


def _shown(value: Any, secret: bool) -> str:
    """``value`` as a problem names it: as YAML writes it, but only its kind for a secret."""
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if secret:
        return "a number" if _is_number(value) else "text"
    return repr(value) if isinstance(value, str) else str(value)
