"""Find channel adapters: built-ins and third-party ones, through one entry-point group.

A package adds an adapter by declaring, in its ``pyproject.toml``::

    [project.entry-points."shopper.channels"]
    myplatform = "my_package.module:MyAdapter"

Adapters are imported only when asked for by name, so listing names stays cheap.
"""

from __future__ import annotations

import importlib
from functools import cache
from importlib.metadata import entry_points

from harness.channels.base import ChannelAdapter
from harness.errors import HarnessError
from harness.platforms import PLATFORMS

GROUP = "shopper.channels"
_BUILTIN = {
    "simulated": "harness.channels.simulated:SimulatedChannel",
    "x": "harness.channels.x:XChannel",
    "mastodon": "harness.channels.mastodon:MastodonChannel",
    "bluesky": "harness.channels.bluesky:BlueskyChannel",
    "email": "harness.channels.email:EmailChannel",
    "manual": "harness.channels.manual:ManualChannel",
}


class AdapterError(HarnessError):
    """An adapter could not be loaded or does not follow the channel protocol."""


@cache
def _targets() -> dict[str, str]:
    targets = dict(_BUILTIN)
    for entry in entry_points(group=GROUP):
        targets.setdefault(entry.name, entry.value)
    return targets


def adapter_names() -> list[str]:
    """Names of every registered adapter, without importing any of them."""
    return sorted(_targets())


@cache
def get_adapter(name: str) -> type[ChannelAdapter]:
    """The adapter class registered as ``name``, checked against the protocol."""
    targets = _targets()
    if name not in targets:
        raise AdapterError(f"unknown adapter {name!r} (available: {', '.join(sorted(targets))})")
    module_name, _, attribute = targets[name].partition(":")
    try:
        adapter = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise AdapterError(f"adapter {name!r} ({targets[name]}) cannot be loaded: {exc}") from None
    check_adapter(adapter, name)
    return adapter  # type: ignore[no-any-return]


def check_adapter(adapter: object, name: str) -> None:
    """Raise :class:`AdapterError` naming the class and what is wrong with it."""
    label = getattr(adapter, "__qualname__", repr(adapter))
    if not isinstance(adapter, type) or not issubclass(adapter, ChannelAdapter):
        raise AdapterError(f"adapter {name!r}: {label} is not a ChannelAdapter subclass")
    if getattr(adapter, "name", None) != name:
        raise AdapterError(f"adapter {name!r}: {label}.name is {getattr(adapter, 'name', None)!r}")
    if getattr(adapter, "platform", None) not in PLATFORMS:
        raise AdapterError(f"adapter {name!r}: {label}.platform must be one of "
                           f"{', '.join(PLATFORMS)}")
    if getattr(adapter, "__abstractmethods__", None):
        missing = ", ".join(sorted(adapter.__abstractmethods__))
        raise AdapterError(f"adapter {name!r}: {label} does not implement {missing}")
