"""Channel settings as adapters read them: secrets resolved from the environment, masked when
shown.

Scenarios never hold secret values: a secret is written ``{env: VARIABLE_NAME}`` (validation
refuses anything else). Adapters resolve those references here, at the moment they need them,
and everything that shows settings (``shopper channels``, the live-run preflight) goes through
:func:`masked`, which names the variable and says whether it is set, never its value.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

from harness.errors import NotConfigured


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
        from harness.durations import parse_duration

        value = self.values.get(key)
        if value is None:
            return default
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            raise NotConfigured(f"channel {self.channel!r}: settings.{key}: {exc}") from None
