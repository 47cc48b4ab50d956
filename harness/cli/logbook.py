"""`shopper log` and `shopper todo`: the person's side of manual and assisted channels.

Both work while a live run is going on in the same folder: they never take the run folder's
lock and open the store read-only. `log` only appends to a manual channel's journal (see
``harness.channels.manual``), where the running adapter picks the record up at its next look.
"""

from __future__ import annotations

import argparse
import difflib
import shlex
import sqlite3
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from harness.channels.manual import Journal, append_record, journal_path, sent_id, utc_text
from harness.cli.output import printable, table
from harness.durations import format_duration
from harness.errors import HarnessError, RunFolderError, UsageError
from harness.plan.probe import Probe
from harness.scenario.model import Channel, Scenario
from harness.store.records import SendRecord
from harness.store.sqlite import STORE_FILE, Store

MANUAL = "manual"
FUTURE_TOLERANCE = timedelta(minutes=10)
"""How far ahead of this computer's clock a recorded time may be (clocks disagree a little)."""
UPCOMING = timedelta(hours=24)
"""How far ahead `todo` lists posts one by one."""


@contextmanager
def read_store(folder: Path) -> Iterator[Store]:
    """The run folder's store, opened read-only and without the folder's lock (a run may be
    writing to it: in WAL mode readers and the writer do not block each other)."""
    path = folder / STORE_FILE
    if not path.is_file():
        raise RunFolderError(f"{folder}: no run here (expected {STORE_FILE})")
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                     isolation_level=None, timeout=10.0)
    except sqlite3.Error as exc:
        raise RunFolderError(f"{path}: cannot be opened ({exc})") from None
    store = Store(connection, path)
    try:
        try:
            store.meta()
        except sqlite3.DatabaseError as exc:
            raise RunFolderError(f"{path}: not a readable run store ({exc})") from None
        yield store
    finally:
        store.close()


class _Run:
    """What `log` and `todo` need to know about a run: its scenario snapshot and plan."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        with read_store(folder) as store:
            meta = store.meta()
            if "scenario_json" not in meta:
                raise RunFolderError(f"{folder}: the store holds no scenario")
            self.probes = store.probes()
            self.sends = store.sends()
            self.closed = store.closed()
        self.meta = meta
        self.scenario = Scenario.model_validate_json(meta["scenario_json"])
        self.zone = ZoneInfo(meta.get("timezone") or self.scenario.timezone)
        self.channels = {c.id: c for c in self.scenario.channels}
        self.by_id = {p.probe_id: p for p in self.probes}

    def brand_handles(self, channel: str, brand_id: str) -> list[str]:
        brand = next((b for b in self.scenario.brands if b.id == brand_id), None)
        return list(brand.handles.get(channel, [])) if brand else []

    def brand_name(self, brand_id: str) -> str:
        return next((b.name for b in self.scenario.brands if b.id == brand_id), brand_id)

    def account(self, channel: str, persona_id: str) -> str:
        persona = next((p for p in self.scenario.personas if p.id == persona_id), None)
        return persona.accounts.get(channel, persona_id) if persona else persona_id

    def journal(self, channel: str) -> Journal:
        return Journal(journal_path(self.folder, channel)).refresh()


def _mode(channel: Channel) -> str:
    if channel.mode is not None:
        return channel.mode
    from harness.channels.registry import get_adapter

    try:
        return get_adapter(channel.adapter).default_mode
    except HarnessError:
        return "auto"


def _step_text(probe: Probe, step: int) -> str:
    return probe.text if step == 0 else probe.follow_ups[step - 1].text


def _local(moment: datetime, zone: tzinfo) -> str:
    return moment.astimezone(zone).isoformat()


def parse_time(text: str, zone: tzinfo) -> datetime:
    """``now`` or ISO 8601; a time without a zone is in ``zone``. In UTC."""
    if text.strip().lower() == "now":
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"--at: expected 'now' or an ISO 8601 time such as 2025-03-03T09:15 "
                         f"or 2025-03-03T09:15+01:00, not {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


# -- shopper log ----------------------------------------------------------------------------


def log(args: argparse.Namespace) -> int:
    """Record that a probe step was sent, or that a reply came back, on a manual channel."""
    run = _Run(Path(args.folder))
    probe = _known_probe(run, args.probe, args.folder)
    channel = run.channels.get(probe.channel)
    if channel is None or channel.adapter != MANUAL:
        adapter = channel.adapter if channel else "?"
        raise UsageError(f"probe {probe.probe_id} is on channel {probe.channel!r} (adapter "
                         f"{adapter!r}), not a manual one; its posts and replies are found by "
                         "the run itself")
    steps = len(probe.follow_ups)
    if not 0 <= args.step <= steps:
        allowed = "only step 0" if steps == 0 else f"steps 0 to {steps}"
        raise UsageError(f"probe {probe.probe_id} has {allowed}, not step {args.step}")
    at = parse_time(args.at, run.zone)
    if at > datetime.now(UTC) + FUTURE_TOLERANCE:
        raise UsageError(f"--at {args.at} is in the future ({_local(at, run.zone)}); times "
                         f"without a zone are read in {run.zone}")
    journal = run.journal(channel.id)
    if args.sent:
        return _log_sent(run, journal, probe, channel, args, at)
    return _log_reply(run, journal, probe, channel, args, at)


def _known_probe(run: _Run, probe_id: str, folder: str) -> Probe:
    probe = run.by_id.get(probe_id)
    if probe is not None:
        return probe
    close = difflib.get_close_matches(probe_id, list(run.by_id), n=3, cutoff=0.6)
    hint = (f"; did you mean {' or '.join(close)}?" if close
            else f"; see `shopper todo {shlex.quote(folder)}`")
    raise UsageError(f"no probe {probe_id!r} in this run{hint}")


def _log_sent(run: _Run, journal: Journal, probe: Probe, channel: Channel,
              args: argparse.Namespace, at: datetime) -> int:
    key = (probe.probe_id, args.step)
    if args.author is not None or args.automated:
        raise UsageError("--author and --automated describe a reply; use them with --reply")
    if key in journal.found:
        found = journal.found[key]
        raise UsageError(f"probe {probe.probe_id} step {args.step} was already recorded as sent "
                         f"and the run has picked it up (id {found.id}); it cannot be changed")
    if args.step > 0 and (probe.probe_id, args.step - 1) not in journal.sent:
        raise UsageError(f"step {args.step} is a follow-up: record step {args.step - 1} of "
                         f"probe {probe.probe_id} as sent first")
    earlier = [r for r in journal.replies.get(key, []) if r.at < at]
    if earlier:
        raise UsageError(f"a reply to probe {probe.probe_id} step {args.step} is already "
                         f"recorded at {_local(earlier[0].at, run.zone)}, before {args.at}")
    record: dict[str, Any] = {
        "type": "sent", "probe": probe.probe_id, "step": args.step, "at": utc_text(at),
        "id": args.url or sent_id(probe.probe_id, args.step),
        "text": args.text or _step_text(probe, args.step), "url": args.url,
        "account": run.account(channel.id, probe.persona), "brand": probe.brand,
    }
    append_record(journal.path, record)
    replaced = " (replaces the earlier record)" if key in journal.sent else ""
    print(f"recorded: probe {probe.probe_id} step {args.step} sent at {_local(at, run.zone)} "
          f"on {channel.id} (id {record['id']}){replaced}")
    if args.step == 0 and at < probe.scheduled_at - timedelta(hours=1):
        print(f"note: that is {format_duration(probe.scheduled_at - at)} before its scheduled "
              f"time, {_local(probe.scheduled_at, run.zone)}", file=sys.stderr)
    return 0


def _log_reply(run: _Run, journal: Journal, probe: Probe, channel: Channel,
               args: argparse.Namespace, at: datetime) -> int:
    key = (probe.probe_id, args.step)
    found = journal.found.get(key)  # once the run has the post, that one is what is answered
    sent = journal.posts.get(found.id) if found else journal.sent.get(key)
    if sent is None:
        raise UsageError(f"probe {probe.probe_id} step {args.step} is not recorded as sent; "
                         f"record it first: shopper log {shlex.quote(args.folder)} --probe "
                         f"{shlex.quote(probe.probe_id)} --step {args.step} --sent --at TIME")
    if at < sent.at:
        raise UsageError(f"the reply ({_local(at, run.zone)}) cannot come before the message "
                         f"it answers ({_local(sent.at, run.zone)})")
    if args.url and args.url in journal.reply_ids:
        raise UsageError(f"a reply with URL {args.url} is already recorded")
    author = args.author
    if not author:
        handles = run.brand_handles(channel.id, probe.brand)
        if not handles:
            raise UsageError(f"brand {probe.brand!r} has no handle on channel {channel.id!r}; "
                             "say who answered with --author")
        author = handles[0]
    record: dict[str, Any] = {
        "type": "reply", "id": args.url or f"manual:{uuid.uuid4()}", "probe": probe.probe_id,
        "step": args.step, "at": utc_text(at), "kind": args.kind, "author": author,
        "text": args.text, "url": args.url, "automated": bool(args.automated),
    }
    append_record(journal.path, record)
    automatic = ", automated" if args.automated else ""
    print(f"recorded: {args.kind}{automatic} from {printable(author)} to probe "
          f"{probe.probe_id} step {args.step} at {_local(at, run.zone)} "
          f"({format_duration(at - sent.at)} after the message)")
    return 0


# -- shopper todo ---------------------------------------------------------------------------


def _awaiting(record: SendRecord) -> bool:
    """Whether the run is waiting for a person to make this post."""
    if record.state == "intended":
        return True
    return record.state == "not_sent" and record.reason == "awaiting_person"


def todo(args: argparse.Namespace) -> int:
    """List the posts waiting for a person, with their text and how to record them."""
    folder = Path(args.folder)
    run = _Run(folder)
    if "finished_at" in run.meta:
        print("nothing to do: the run has finished")
        return 0
    assisted = {c.id: c for c in run.scenario.channels if _mode(c) == "assisted"}
    if not assisted:
        print("nothing to do: no channel of this run is assisted or manual")
        return 0
    journals = {c: run.journal(c) for c, ch in assisted.items() if ch.adapter == MANUAL}
    latest: dict[tuple[str, int], SendRecord] = {}
    for send in run.sends:
        latest[(send.probe_id, send.step)] = send
    follow_ups: dict[str, list[SendRecord]] = {}
    for (pid, step), send in sorted(latest.items()):
        if step > 0:
            follow_ups.setdefault(pid, []).append(send)
    now = datetime.now(UTC)
    items: list[tuple[datetime, bool, Probe, int]] = []  # (when, due, probe, step)
    later: list[datetime] = []
    for probe in run.probes:
        if probe.channel not in assisted or probe.probe_id in run.closed:
            continue
        steps: list[tuple[int, datetime, SendRecord | None]] = [
            (0, probe.scheduled_at, latest.get((probe.probe_id, 0)))]
        steps += [(send.step, send.intended_at, send)
                  for send in follow_ups.get(probe.probe_id, [])]
        for step, when, record in steps:
            if record is not None and not _awaiting(record):
                continue  # sent, or given up on
            if step > 0 and record is None:
                continue
            journal = journals.get(probe.channel)
            if journal is not None and (probe.probe_id, step) in journal.sent:
                continue  # recorded; the run picks it up at its next look
            due = record is not None or when <= now
            if not due and when > now + UPCOMING:
                later.append(when)
                continue
            items.append((when, due, probe, step))
    items.sort(key=lambda item: (item[0], item[2].seq, item[3]))
    if not items:
        more = f"; the next post is due {_local(min(later), run.zone)}" if later else ""
        print(f"nothing to do{more}")
        return 0
    rows = [("due" if due else "upcoming", f"{when.astimezone(run.zone):%a %Y-%m-%d %H:%M %Z}",
             probe.channel, run.account(probe.channel, probe.persona),
             _brand_label(run, probe), probe.probe_id, step, _step_text(probe, step))
            for when, due, probe, step in items]
    print(table(("status", "time", "channel", "account", "to", "probe", "step", "text"), rows,
                "llllllrl"))
    manual = [(probe, step) for _, _, probe, step in items if probe.channel in journals]
    if manual:
        print("\nOnce posted on a manual channel, record it (add --url URL if it has one):")
        for probe, step in manual:
            step_arg = f" --step {step}" if step else ""
            print(f"  shopper log {shlex.quote(args.folder)} --probe "
                  f"{shlex.quote(probe.probe_id)}{step_arg} --sent --at now")
    due_count = sum(due for _, due, _, _ in items)
    hours = int(UPCOMING.total_seconds() // 3600)
    summary = f"\n{due_count} due, {len(items) - due_count} upcoming in the next {hours} h"
    if later:
        summary += f"; {len(later)} more later, the next {_local(min(later), run.zone)}"
    print(summary)
    return 0


def _brand_label(run: _Run, probe: Probe) -> str:
    handles = run.brand_handles(probe.channel, probe.brand)
    name = run.brand_name(probe.brand)
    return f"{name} ({handles[0]})" if handles else name
