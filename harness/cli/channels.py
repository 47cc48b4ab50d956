"""`shopper channels` and what a live run shows before it starts.

Both show :func:`harness.session.readiness.channel_statuses`: what the scenario, the registry
and the environment say about each channel, and with ``--check`` (always, before a live run)
whether it can log in as each persona, read-only. Nothing is posted, and secrets are shown by
the name of their environment variable only.
"""

from __future__ import annotations

import argparse
import json
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

from harness.channels.registry import AdapterError, adapter_names, get_adapter
from harness.cli.output import table
from harness.durations import format_duration
from harness.errors import UsageError
from harness.plan.probe import Probe
from harness.scenario.model import Scenario
from harness.session.readiness import channel_statuses


def channels(args: argparse.Namespace) -> int:
    """List the adapters; with a scenario, whether each of its channels is ready; with
    ``--settings ADAPTER``, the settings that adapter takes."""
    if args.settings:
        return _settings(args.settings)
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
    from harness.session.scenarios import load_scenario

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


def _settings(name: str) -> int:
    """The settings an adapter declares, as `docs/channels.md` shows them."""
    from harness.channels.docs import setting_rows
    from harness.channels.settings import Described

    try:
        adapter = get_adapter(name)
    except AdapterError as exc:
        raise UsageError(f"--settings {name}: {exc}") from None
    if adapter.settings_spec is None:
        print(f"{name}: takes any settings, and reads none")
        return 0
    rows = []
    for setting_name, setting, secret in setting_rows(adapter.settings_spec):
        default = setting.default
        shown = (default.text if isinstance(default, Described) else "" if default is None
                 else json.dumps(default))
        rows.append((setting_name, setting.type.label, "yes" if setting.required else "",
                     shown, "yes ({env: NAME})" if secret else "", setting.help))
    print(f"Settings of adapter {name!r} (channels[].settings):")
    print(table(("setting", "type", "required", "default", "secret", "what it is"), rows))
    return 0


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
