"""`shopper channels` and what a live run shows before it starts.

Both read the scenario, the registry and the environment; the live preflight (and
`shopper channels --check`) also connects and logs in as each persona, read-only, so a rejected
credential or an untrusted certificate stops the run before it starts. Nothing is posted, and
secrets are shown by the name of their environment variable only.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from harness.channels.base import ChannelAdapter, ChannelContext
from harness.channels.registry import AdapterError, adapter_names, get_adapter
from harness.channels.settings import masked
from harness.channels.tls import verification_off
from harness.cli.output import table
from harness.clock import SystemClock
from harness.durations import format_duration
from harness.errors import ChannelError
from harness.plan.probe import Probe
from harness.scenario.model import Scenario


def channels(args: argparse.Namespace) -> int:
    """List the adapters; with a scenario, whether each of its channels is ready."""
    rows = []
    for name in adapter_names():
        try:
            adapter = get_adapter(name)
            rows.append((name, adapter.platform, ", ".join(sorted(adapter.modes)),
                         adapter.summary))
        except AdapterError as exc:
            rows.append((name, "?", "?", f"cannot be loaded: {exc}"))
    print(table(("adapter", "platform", "modes", "what it is"), rows))
    if not args.scenario:
        return 0
    from harness.scenario.load import load_scenario

    scenario = load_scenario(args.scenario)
    statuses = channel_statuses(scenario, os.environ, connect=args.check)
    print()
    print(table(("channel", "adapter", "mode", "status"),
                [(s.channel, s.adapter, s.mode, s.status) for s in statuses]))
    for status in statuses:
        print(f"\n{status.channel} settings: {json.dumps(status.settings, sort_keys=True)}")
        for warning in status.warnings:
            print(f"  {status.channel}: {warning}")
    return 0 if all(s.ready for s in statuses) else 1


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


def preflight(scenario: Scenario, probes: Sequence[Probe], folder: Path,
              environ: Mapping[str, str],
              caps: tuple[int | None, int | None] = (None, None)) -> tuple[str, bool]:
    """What a live run is about to do, as text, and whether every channel is ready."""
    zone = ZoneInfo(scenario.timezone)
    window = scenario.schedule.observation_window
    first, last = probes[0].scheduled_at, probes[-1].scheduled_at
    end = last + window
    follow_ups = sum(len(p.follow_ups) for p in probes)
    polls = {c.id: int((end - first) / c.poll_every) + 1 for c in scenario.channels}
    per_channel: Counter[str] = Counter(p.channel for p in probes)
    posts: Counter[str] = Counter()
    for probe in probes:
        posts[probe.channel] += 1 + len(probe.follow_ups)
    statuses = channel_statuses(scenario, environ, posts=posts, polls=polls, connect=True)
    daily = Counter((p.brand, p.scheduled_at.astimezone(zone).date()) for p in probes)
    lines = [
        f"Live run of {scenario.name!r} into {folder}",
        f"  {len(probes)} probes to {len(scenario.brands)} brands from "
        f"{len(scenario.personas)} personas, plus up to {follow_ups} follow-ups",
        f"  sending {first.astimezone(zone):%Y-%m-%d %H:%M} to "
        f"{last.astimezone(zone):%Y-%m-%d %H:%M} ({scenario.timezone}); replies watched "
        f"for {format_duration(window)} after each, until {end.astimezone(zone):%Y-%m-%d %H:%M}",
        f"  per brand: at most {max(daily.values())} probe"
        f"{'s' * (max(daily.values()) > 1)} a day "
        f"(+ at most {max((len(p.follow_ups) for p in probes), default=0)} follow-ups each)",
        _caps_line(scenario, probes, caps),
        "",
    ]
    rows = []
    for status in statuses:
        rows.append((status.channel, status.adapter, status.mode, per_channel[status.channel],
                     format_duration(next(c.poll_every for c in scenario.channels
                                          if c.id == status.channel)), status.status))
    lines.append(table(("channel", "adapter", "mode", "probes", "polls every", "status"), rows,
                       "llllll"))
    for status in statuses:
        if status.mode == "assisted":
            lines.append(f"  {status.channel}: assisted: a person posts each message when "
                         "reminded (see `shopper todo`); the harness finds it and tracks "
                         "replies")
        elif status.mode == "confirm":
            lines.append(f"  {status.channel}: confirm: each post waits for a yes here")
        if status.estimate:
            figures = ", ".join(f"{key} {value}" for key, value in status.estimate.items())
            lines.append(f"  {status.channel}: API use estimate: {figures}")
        lines.extend(f"  {status.channel}: {warning}" for warning in status.warnings)
    return "\n".join(lines), all(s.ready for s in statuses)


def _caps_line(scenario: Scenario, probes: Sequence[Probe],
               caps: tuple[int | None, int | None]) -> str:
    """The caps, and how many first messages the plan has beyond them."""
    per_day, total = caps
    zones = {b.id: ZoneInfo(b.timezone or scenario.timezone) for b in scenario.brands}
    from harness.runner.limits import Limits

    limits = Limits(per_day, total, zones)
    over = 0
    for probe in probes:
        if limits.refuse(probe.brand, probe.scheduled_at):
            over += 1
        else:
            limits.count(probe.brand, probe.scheduled_at)
    words = (f"at most {per_day} messages per brand per day (its time zone)" if per_day
             else "no cap per brand per day")
    words += f", {total} in all" if total else ", no cap in all"
    warning = (f"; {over} planned first messages are beyond them and will not be sent"
               if over else "")
    return f"  caps (--max-per-brand-per-day, --max-messages): {words}{warning}"
