"""Questions about a loaded scenario that several layers ask: which channels reach a brand,
which personas post on a channel, when two handles are the same account, and whether a
setting's value comes from the environment.

Here, below the plan, the checks and the channels alike, so none of them imports another for
a one-line answer.
"""

from __future__ import annotations

import re
from typing import Any

from harness.scenario.model import Channel, Scenario

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def channels_for_brand(scenario: Scenario, brand_id: str) -> list[Channel]:
    """The channels whose ``brands`` include this brand, in scenario order."""
    return [c for c in scenario.channels if c.brands == "all" or brand_id in c.brands]


def personas_for_channel(scenario: Scenario, channel: Channel) -> list[str]:
    """Ids of personas listed for the channel that have an account on it."""
    return [p.id for p in scenario.personas
            if (channel.personas == "all" or p.id in channel.personas)
            and p.accounts.get(channel.id)]


def normalise_handle(handle: str) -> str:
    """Handles compare case-insensitively and without the leading '@'."""
    return handle.strip().lstrip("@").lower()


def is_env_ref(value: Any) -> bool:
    """Whether ``value`` is a reference to an environment variable, ``{env: NAME}``."""
    return (isinstance(value, dict) and set(value) == {"env"}
            and isinstance(value["env"], str) and bool(_ENV_NAME.match(value["env"])))


def all_env_refs(value: Any) -> bool:
    """Whether every value in ``value`` (a reference, or mappings and lists of them) comes
    from the environment."""
    if isinstance(value, dict) and "env" not in value:
        return all(all_env_refs(item) for item in value.values())
    if isinstance(value, list):
        return all(all_env_refs(item) for item in value)
    return is_env_ref(value)
