"""Questions about a loaded scenario that several layers ask: which channels reach a brand,
which personas post on a channel, and when two handles are the same account.

Here, below the plan, the checks and the channels alike, so none of them imports another for
a one-line answer.
"""

from __future__ import annotations

from harness.scenario.model import Channel, Scenario


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
