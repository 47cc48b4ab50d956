"""Whether each channel of a scenario can run live: its settings, and (asked to connect)
whether it logs in as each persona, read-only.

Nothing is posted. What a check keeps (a Bluesky session) goes to a scratch folder, so nothing
lands in a run folder before the run is agreed to; secrets are shown by the name of their
environment variable only.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.channels.base import ChannelAdapter, ChannelContext
from harness.channels.registry import get_adapter
from harness.channels.settings import masked
from harness.channels.tls import verification_off
from harness.clock import SystemClock
from harness.errors import ChannelError
from harness.scenario.model import Scenario


@dataclass(frozen=True)
class ChannelStatus:
    """Whether one scenario channel can run live, and how it is set up (secrets masked)."""

    channel: str
    adapter: str
    mode: str
    ready: bool
    status: str
    settings: dict[str, Any]
    estimate: dict[str, Any]
    warnings: tuple[str, ...] = ()


VERIFICATION_OFF = ("TLS CERTIFICATE VERIFICATION IS OFF (settings.verify_tls: false): ANYONE "
                    "BETWEEN HERE AND THE SERVER CAN READ AND CHANGE THIS CHANNEL'S TRAFFIC, "
                    "CREDENTIALS INCLUDED")


def channel_statuses(scenario: Scenario, environ: Mapping[str, str], *,
                     posts: Mapping[str, int] | None = None,
                     polls: Mapping[str, int] | None = None,
                     connect: bool = False) -> list[ChannelStatus]:
    """Each channel's readiness from its settings; with ``connect``, also whether it can
    connect and log in as each persona (read-only)."""
    with tempfile.TemporaryDirectory(prefix="shopper-check-") as scratch:
        # Whatever a check keeps (a Bluesky session) goes to a scratch folder: nothing is
        # written to the run folder before the run is agreed to.
        context = ChannelContext(clock=SystemClock(), state_dir=Path(scratch),
                                 seed=scenario.seed, personas=scenario.personas,
                                 brands=scenario.brands, timezone=scenario.timezone,
                                 environ=environ)
        return _statuses(scenario, context, posts, polls, connect)


def _statuses(scenario: Scenario, context: ChannelContext, posts: Mapping[str, int] | None,
              polls: Mapping[str, int] | None, connect: bool) -> list[ChannelStatus]:
    environ = context.environ
    statuses = []
    for channel in scenario.channels:
        cls = get_adapter(channel.adapter)
        mode = channel.mode or cls.default_mode
        if channel.adapter == "simulated":  # never built here: it would open its journal
            statuses.append(ChannelStatus(
                channel.id, channel.adapter, mode, False,
                "simulated: for --simulate only (it cannot reach a real platform)",
                masked(dict(channel.settings), environ, cls.secret_settings), {}))
            continue
        adapter: ChannelAdapter = cls(channel, context)
        try:
            reason = adapter.not_configured()
            status = "configured" if reason is None else f"not configured: {reason}"
            if reason is None and connect:
                reason, status = _check(adapter)
            estimate = (adapter.usage_estimate(posts.get(channel.id, 0), (polls or {}).get(
                channel.id, 0)) if posts is not None else {})
            warnings = ((VERIFICATION_OFF,) if cls.connects and verification_off(
                adapter.settings) else ())
            statuses.append(ChannelStatus(channel.id, channel.adapter, mode, reason is None,
                                          status, adapter.describe(), estimate, warnings))
        finally:
            adapter.close()
    return statuses


def _check(adapter: ChannelAdapter) -> tuple[str | None, str]:
    """Connect and log in (read-only): why it failed, or ``None``, and the status to show."""
    try:
        said = adapter.check_access()
    except ChannelError as exc:
        return str(exc), f"refused: {type(exc).__name__}: {exc}"
    except Exception as exc:  # an adapter bug: the run would meet it too
        return str(exc), f"check failed: unexpected {type(exc).__name__}: {exc}"
    return None, f"ready: {said}"
