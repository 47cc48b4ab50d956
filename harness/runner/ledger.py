"""What the runner knows about a run, rebuilt from the store: every attempt, what is due to be
retried or followed up, which probes are open and until when, each channel's cursor, and the
counts.

The ledger only records; it neither calls a channel nor writes the store nor fires events (the
loop does those, :mod:`harness.runner.loop`). Building it from a store and then absorbing each
outcome as it happens give the same state, which is what lets a rerun resume exactly.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from harness.plan.probe import Probe
from harness.runner import sending
from harness.runner.events import RunStats
from harness.runner.matching import MatchIndex
from harness.runner.roster import Roster
from harness.store.records import ChannelHealth, ReplyRecord, SendRecord
from harness.store.sqlite import Store

Key = tuple[str, int]
"""A message: (probe id, step), step 0 being the probe's first message."""


@dataclass
class ChannelState:
    """Where one channel is: its cursor, its last polls, whether it is blocked, what is open."""

    cursor: str | None = None
    polled_at: datetime | None = None  # the last poll that worked: seen up to here
    tried_at: datetime | None = None  # the last poll, whether it worked or not
    seen_through: datetime | None = None  # the platform's time the last good poll covered
    blocked_until: datetime | None = None
    failures: int = 0
    waiting: set[str] = field(default_factory=set)  # open probes on this channel
    health: ChannelHealth | None = None


class Ledger:
    """The run's state in memory (see the module docstring)."""

    def __init__(self, probes: list[Probe], window: timedelta, channels: Iterable[str],
                 roster: Roster) -> None:
        self.probes = list(probes)  # its own: a repeating schedule's grows (add_probes)
        self.by_id = {p.probe_id: p for p in probes}
        self.window = window
        self.roster = roster
        self.stats = RunStats(planned=len(probes))
        self.attempts: dict[Key, SendRecord] = {}  # the latest attempt of each message
        self.failures: Counter[Key] = Counter()  # attempts that count, per message
        self.index = MatchIndex()
        self.window_end: dict[str, datetime] = {}
        self.closed: dict[str, datetime] = {}
        self.retries: dict[Key, tuple[datetime, str | None]] = {}  # when, and in reply to
        self.awaiting: set[Key] = set()  # retries that look for a post made by hand
        self.unconfirmed: dict[str, Key] = {}  # uncertain posts' would-be ids
        self.answered: set[str] = set()  # probes with a brand reply within their window
        self.follow_ups: dict[Key, tuple[datetime, str]] = {}  # due, and the reply it answers
        self.follow_up_queue: list[tuple[datetime, str, int]] = []  # by due time
        self.open_heap: list[tuple[datetime, str]] = []  # (window end, probe) of open probes
        self.chan = {name: ChannelState() for name in channels}
        self.next = 0  # the first probe that might not have been attempted yet

    @classmethod
    def from_store(cls, store: Store, window: timedelta, channels: Iterable[str],
                   roster: Roster) -> Ledger:
        """The ledger of the run in ``store``, as it stood when last written."""
        ledger = cls(store.probes(), window, channels, roster)
        for name, health in store.channel_health().items():
            if name in ledger.chan:
                ledger.chan[name].health = health
        for name, (cursor, polled_at) in store.cursors().items():
            if name in ledger.chan:
                ledger.chan[name].cursor, ledger.chan[name].polled_at = cursor, polled_at
        ledger.closed = store.closed()
        for record in store.sends():
            ledger.attempts[(record.probe_id, record.step)] = record
            if sending.counts_as_failure(record):
                ledger.failures[(record.probe_id, record.step)] += 1
        for record in list(ledger.attempts.values()):
            ledger.absorb_attempt(record)
        ledger.open_heap = [(end, pid) for pid, end in ledger.window_end.items()
                            if pid not in ledger.closed]
        heapq.heapify(ledger.open_heap)
        for pid in ledger.window_end:
            if pid not in ledger.closed:
                ledger.chan[ledger.by_id[pid].channel].waiting.add(pid)
        for reply in store.replies():  # oldest first, as they were first seen
            ledger.stats.replies += 1
            if reply.probe_id is not None and reply.step is not None:
                ledger.index.posts.setdefault(reply.platform_id, (reply.probe_id, reply.step))
                if counts(reply):
                    ledger.stats.brand_replies += 1
                    ledger.count_answered(reply)
                    ledger.schedule_follow_up(reply)
        ledger.stats.closed = len(ledger.closed)
        return ledger

    def add_probes(self, probes: Iterable[Probe]) -> None:
        """More of the plan (a repeating schedule's, due after every probe so far)."""
        for probe in probes:
            self.probes.append(probe)
            self.by_id[probe.probe_id] = probe
            self.stats.planned += 1

    def absorb_attempt(self, record: SendRecord) -> None:
        """What one attempt's outcome changes: a post to match replies to, a window that
        opens, a retry to make, a failure to count."""
        probe = self.by_id[record.probe_id]
        key = (record.probe_id, record.step)
        self.awaiting.discard(key)
        if record.state == "sent" and record.sent_at is not None and record.platform_id:
            self.index.add_post(record.platform_id, probe.probe_id, record.step, record.sent_at,
                                probe.channel, probe.persona, probe.brand)
            if record.step == 0:
                self.window_end[probe.probe_id] = record.sent_at + self.window
                self.stats.sent += 1
            self.retries.pop(key, None)
        elif record.state == "uncertain":
            self.stats.uncertain += record.step == 0
            if record.platform_id:  # what it is, if it went (its time: about when intended)
                self.index.add_post(record.platform_id, probe.probe_id, record.step,
                                    record.sent_at or record.intended_at, probe.channel,
                                    probe.persona, probe.brand)
                self.unconfirmed[record.platform_id] = key
        elif record.state in ("failed", "not_sent"):
            if record.retry_at is not None:
                self.retries[key] = (record.retry_at, record.in_reply_to)
                if record.reason == "awaiting_person":
                    self.awaiting.add(key)
            elif record.step == 0:
                self.stats.failed += 1

    def record_outcome(self, outcome: SendRecord) -> None:
        """An attempt's outcome, as it happens: absorbed, and a first message that went out
        opens its probe's window."""
        self.attempts[(outcome.probe_id, outcome.step)] = outcome
        self.absorb_attempt(outcome)
        if outcome.state == "sent" and outcome.step == 0:
            probe = self.by_id[outcome.probe_id]
            heapq.heappush(self.open_heap, (self.window_end[probe.probe_id], probe.probe_id))
            self.chan[probe.channel].waiting.add(probe.probe_id)

    def count_answered(self, reply: ReplyRecord) -> None:
        """A probe is answered once a brand reply to it comes within its window (the export's
        ``responded``): counted once, however many replies and follow-up answers it gets."""
        probe_id = reply.probe_id or ""
        end = self.window_end.get(probe_id)
        if end is not None and reply.created_at <= end and probe_id not in self.answered:
            self.answered.add(probe_id)
            self.stats.answered += 1

    def schedule_follow_up(self, reply: ReplyRecord) -> None:
        """After the brand's first answer in the thread (a public reply; on email channels an
        email), schedule the next step, if any."""
        if (reply.kind != self.roster.thread_kind(reply.channel) or reply.probe_id is None
                or reply.step is None):
            return
        probe_id, step = reply.probe_id, reply.step
        probe = self.by_id[probe_id]
        following = (probe_id, step + 1)
        if (step >= len(probe.follow_ups) or following in self.attempts
                or following in self.follow_ups or probe_id in self.closed):
            return
        due = reply.created_at + timedelta(seconds=probe.follow_ups[step].delay_s)
        self.follow_ups[following] = (due, reply.platform_id)
        heapq.heappush(self.follow_up_queue, (due, probe_id, step + 1))

    def close(self, probe_ids: list[str], now: datetime) -> None:
        """Close probes whose window has ended and been read to its end."""
        for pid in probe_ids:
            self.closed[pid] = now
            self.chan[self.by_id[pid].channel].waiting.discard(pid)
        self.stats.closed += len(probe_ids)


def counts(reply: ReplyRecord) -> bool:
    """Whether a reply is the brand's own (not a bystander's, not an auto-acknowledgement)."""
    return reply.from_brand and not reply.automated
