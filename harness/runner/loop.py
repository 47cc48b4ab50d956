"""The runner: one clock-driven loop for live and simulated races.

Each pass: send what is due (first messages, follow-ups, retries), poll the channels that are
due, close probes whose observation window has ended, then sleep until the next thing is due.
With a virtual clock "sleeping" jumps straight there.

Crash safety: a send is committed as *intended* before the platform is called and as *sent*
(with the platform's id and timestamp) after. On start, intents without an outcome are settled
against the platform where it can say (``find_post``) and otherwise marked *uncertain*; they are
never blindly sent again. Replies are committed with the cursor that produced them, in one
transaction. All of the runner's state is rebuilt from the store, so a rerun resumes exactly.

Writes are gathered in a batch and committed together: always before a send (the intents) and
before the loop waits in real time. On a virtual clock, waiting takes no time, so outcomes,
replies and closes ride along with the next pass's intents: one commit per pass that sends.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from harness.channels.base import ChannelAdapter, OutgoingMessage
from harness.clock import Clock
from harness.errors import ChannelError, RateLimited
from harness.plan.probe import Probe
from harness.runner import sending
from harness.runner.events import RunnerEvents, RunStats
from harness.runner.limits import Limits
from harness.runner.matching import MatchIndex
from harness.runner.roster import Roster
from harness.store.records import (
    DEGRADED_AFTER,
    ChannelHealth,
    ReplyRecord,
    SendRecord,
    WriteBatch,
)
from harness.store.sqlite import Store


@dataclass
class _ChannelState:
    cursor: str | None = None
    polled_at: datetime | None = None  # the last poll that worked: seen up to here
    tried_at: datetime | None = None  # the last poll, whether it worked or not
    seen_through: datetime | None = None  # the platform's time the last good poll covered
    blocked_until: datetime | None = None
    failures: int = 0
    waiting: set[str] = field(default_factory=set)  # open probes on this channel
    health: ChannelHealth | None = None


class Runner:
    """Sends the plan's probes through channels, on a clock, recording everything in a store."""

    def __init__(self, store: Store, channels: Mapping[str, ChannelAdapter], clock: Clock,
                 roster: Roster, *, window: timedelta, poll_every: Mapping[str, timedelta],
                 events: RunnerEvents | None = None, limits: Limits | None = None,
                 kill_switch: Callable[[], bool] | None = None) -> None:
        self.store = store
        self.channels = channels
        self.clock = clock
        self.roster = roster
        self.window = window
        self.poll_every = poll_every
        self.events = events or RunnerEvents()
        self.limits = limits
        self.kill_switch = kill_switch or (lambda: False)
        self.sending_stopped = False  # the kill switch was on when the run ended
        self.stopped: dict[str, str] = {}
        """Channels stopped for good in this run, with why (what retrying cannot cure)."""
        self._capped: dict[tuple[str, int], str] = {}
        self.stop_requested = False
        self.probes = store.probes()
        self.by_id = {p.probe_id: p for p in self.probes}
        self.stats = RunStats(planned=len(self.probes))
        self._batch = WriteBatch()
        self._load()

    # -- state, rebuilt from the store ---------------------------------------------------------

    def _load(self) -> None:
        self.attempts: dict[tuple[str, int], SendRecord] = {}
        self.index = MatchIndex()
        self.window_end: dict[str, datetime] = {}
        self.closed = self.store.closed()
        self.retries: dict[tuple[str, int], tuple[datetime, str | None]] = {}
        self.awaiting: set[tuple[str, int]] = set()  # retries that look for a post by hand
        self.unconfirmed: dict[str, tuple[str, int]] = {}  # uncertain posts' would-be ids
        self._answered: set[str] = set()  # probes with a brand reply within their window
        self.follow_ups: dict[tuple[str, int], tuple[datetime, str]] = {}
        self._follow_up_queue: list[tuple[datetime, str, int]] = []  # by due time
        self.chan = {name: _ChannelState() for name in self.channels}
        for name, health in self.store.channel_health().items():
            if name in self.chan:
                self.chan[name].health = health
        for name, (cursor, polled_at) in self.store.cursors().items():
            if name in self.chan:
                self.chan[name].cursor, self.chan[name].polled_at = cursor, polled_at
        self.failures: Counter[tuple[str, int]] = Counter()  # attempts that count, per message
        for record in self.store.sends():
            self.attempts[(record.probe_id, record.step)] = record
            if sending.counts_as_failure(record):
                self.failures[(record.probe_id, record.step)] += 1
        for record in list(self.attempts.values()):
            self._absorb_attempt(record)
        if self.limits is not None:  # whatever may have reached a platform counts
            self.limits.count_all(
                (self.by_id[r.probe_id].brand, r.sent_at or r.intended_at)
                for r in self.store.sends() if r.state in ("sent", "intended", "uncertain"))
        self._open_heap = [(end, pid) for pid, end in self.window_end.items()
                           if pid not in self.closed]
        heapq.heapify(self._open_heap)
        for pid in self.window_end:
            if pid not in self.closed:
                self.chan[self.by_id[pid].channel].waiting.add(pid)
        for reply in self.store.replies():  # oldest first, as they were first seen
            self.stats.replies += 1
            if reply.probe_id is not None and reply.step is not None:
                self.index.posts.setdefault(reply.platform_id, (reply.probe_id, reply.step))
                if _counts(reply):
                    self.stats.brand_replies += 1
                    self._count_answered(reply)
                    self._maybe_follow_up(reply)
        self.stats.closed = len(self.closed)
        self._next = 0  # first probe that might not have been attempted yet

    def _absorb_attempt(self, record: SendRecord) -> None:
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

    # -- the loop ---------------------------------------------------------------------------

    def run(self) -> bool:
        """Run until every probe is settled and closed (True), or a stop is requested, or
        the kill switch is on and nothing sent is still open (False)."""
        self._reconcile()
        while not self.stop_requested:
            now = self.clock.now()
            may_send = not self.kill_switch()
            if may_send:
                self._send_due(now)
            polls = self._poll_due(now)
            self._close_due(now)
            self.events.tick.fire(now=now, stats=self.stats)
            upcoming = self._next_event(now, polls, sending=may_send)
            if upcoming is None:
                self.store.write(self._batch)
                # with the switch on, the run is over only if nothing was left to send
                done = may_send or self._next_event(now, polls) is None
                self.sending_stopped = not done
                return done and not self.stopped
            if not self.clock.is_virtual:
                self.store.write(self._batch)
            self.clock.sleep_until(upcoming)
        self.store.write(self._batch)
        return False

    # -- sending ----------------------------------------------------------------------------

    def _reconcile(self) -> None:
        """Settle sends a crash left as 'intended' (never resend them blindly)."""
        pending = [r for r in self.attempts.values() if r.state == "intended"]
        if not pending:
            return
        now = self.clock.now()
        settled = []
        for record in pending:
            probe = self.by_id[record.probe_id]
            if probe.channel in self.stopped:
                continue
            message = self._message(probe, record.step, record.text, record.in_reply_to)
            try:
                settled.append(sending.settle(self.channels[probe.channel], message, record,
                                              now))
            except sending.STOPPING_ERRORS as exc:  # the intent waits for a run after the fix
                self._stop(probe.channel, now, f"settle: {type(exc).__name__}: {exc}")
        self._batch.outcomes.extend(settled)
        self.store.write(self._batch)
        for outcome in settled:
            self._record_outcome(outcome)

    def _due(self, now: datetime) -> list[tuple[Probe, int, str | None, str]]:
        due: list[tuple[Probe, int, str | None, str]] = []
        while self._next < len(self.probes) and self.probes[self._next].scheduled_at <= now:
            probe = self.probes[self._next]
            if (probe.probe_id, 0) not in self.attempts and probe.channel not in self.stopped:
                due.append((probe, 0, None, probe.text))
            self._next += 1
        for (pid, step), (at, in_reply_to) in sorted(self.retries.items(), key=_by_time):
            probe = self.by_id[pid]
            if at <= now and self._channel_free(probe.channel, now):
                text = probe.text if step == 0 else probe.follow_ups[step - 1].text
                due.append((probe, step, in_reply_to, text))
        blocked = []
        while self._follow_up_queue and self._follow_up_queue[0][0] <= now:
            at, pid, step = heapq.heappop(self._follow_up_queue)
            if self.follow_ups.get((pid, step), (None,))[0] != at:
                continue  # already sent or dropped
            probe = self.by_id[pid]
            if pid in self.closed or self.window_end[pid] <= at:
                del self.follow_ups[(pid, step)]  # the window ended first: no follow-up
            elif not self._channel_free(probe.channel, now):
                blocked.append((at, pid, step))
            else:
                in_reply_to = self.follow_ups.pop((pid, step))[1]
                due.append((probe, step, in_reply_to, probe.follow_ups[step - 1].text))
        for item in blocked:
            heapq.heappush(self._follow_up_queue, item)
        return due

    def _channel_free(self, channel: str, now: datetime) -> bool:
        if channel in self.stopped:
            return False
        until = self.chan[channel].blocked_until
        return until is None or until <= now

    def _send_due(self, now: datetime) -> None:
        due = self._due(now)
        if not due:
            return
        intents = []
        for probe, step, in_reply_to, text in due:
            previous = self.attempts.get((probe.probe_id, step))
            attempt = previous.attempt + 1 if previous else 1
            # Whatever the adapter fixes before the call (a Message-ID) is stored with the
            # intent: a reply threading to it finds its probe even if a crash follows.
            channel = self.channels[probe.channel]
            planned = (channel.planned_id(self._message(probe, step, text, in_reply_to))
                       if channel.plans_ids else None)
            intents.append(SendRecord(probe.probe_id, step, attempt, "intended", now, None,
                                      planned, in_reply_to, text))
        if self.limits is not None:
            for record in intents:
                brand = self.by_id[record.probe_id].brand
                reason = self.limits.refuse(brand, now)
                if reason is None:
                    self.limits.count(brand, now)
                else:
                    self._capped[(record.probe_id, record.step)] = reason
        self._batch.intents.extend(intents)
        self.store.write(self._batch)  # intents are durable before anything is sent
        for record in intents:
            self.attempts[(record.probe_id, record.step)] = record
            self.retries.pop((record.probe_id, record.step), None)
        outcomes = [self._send_one(record, now) for record in intents]
        self._batch.outcomes.extend(outcomes)
        for outcome in outcomes:
            self._record_outcome(outcome)

    def _send_one(self, record: SendRecord, now: datetime) -> SendRecord:
        probe = self.by_id[record.probe_id]
        state = self.chan[probe.channel]
        capped = self._capped.pop((record.probe_id, record.step), None)
        if capped is not None:  # never handed to the channel
            return sending.capped(record, capped)
        if probe.channel in self.stopped:  # stopped earlier in this batch: after the fix
            return sending.not_attempted(record, "channel_stopped", now)
        if not self._channel_free(probe.channel, now):  # rate-limited earlier in this batch
            return sending.not_attempted(record, "channel_rate_limited",
                                         state.blocked_until)
        message = self._message(probe, record.step, record.text, record.in_reply_to)
        key = (record.probe_id, record.step)
        outcome, blocked_until = sending.attempt(self.channels[probe.channel], message, record,
                                                 now, self.failures[key])
        if sending.counts_as_failure(outcome):
            self.failures[key] += 1
        if blocked_until is not None:
            state.blocked_until = blocked_until
        if outcome.state == "sent":
            self._health(probe.channel, now, None)
        elif sending.stops_channel(outcome):
            self._stop(probe.channel, now, f"send: {outcome.error}")
        elif sending.is_channel_failure(outcome):
            self._health(probe.channel, now, f"send: {outcome.error}")
        return outcome

    def _stop(self, name: str, now: datetime, error: str) -> None:
        """Stop channel ``name`` for the rest of this run: no sends, no polls. What it had to
        do waits in the store for the run that follows the fix."""
        if name in self.stopped:
            return
        self.stopped[name] = error
        self._health(name, now, error)
        self.events.stopped.fire(channel=name, error=error)

    def _health(self, name: str, now: datetime, error: str | None) -> None:
        """Count a failure (``error``) or a success of channel ``name``; a run of failures
        makes it degraded (shown by `shopper status` and the report)."""
        state = self.chan[name]
        old = state.health
        if error is None:
            if old is None or old.failures == 0:
                return
            new = old._replace(failures=0, since=None, updated_at=now)
        else:
            failures = (old.failures if old else 0) + 1
            since = old.since if old and old.failures else now
            new = ChannelHealth(name, failures, since, error[:500],
                                (old.total_failures if old else 0) + 1, now)
            if failures == DEGRADED_AFTER:
                self.events.degraded.fire(channel=name, since=since, error=error)
        state.health = new
        self._batch.health[name] = new

    def _record_outcome(self, outcome: SendRecord) -> None:
        key = (outcome.probe_id, outcome.step)
        self.attempts[key] = outcome
        self._absorb_attempt(outcome)
        probe = self.by_id[outcome.probe_id]
        if outcome.state == "sent" and outcome.step == 0:
            heapq.heappush(self._open_heap, (self.window_end[probe.probe_id], probe.probe_id))
            self.chan[probe.channel].waiting.add(probe.probe_id)
        if outcome.state == "sent":
            self.events.sent.fire(probe_id=outcome.probe_id, step=outcome.step,
                                  sent_at=outcome.sent_at)
        elif outcome.state in ("failed", "not_sent", "uncertain"):
            self.events.send_failed.fire(probe_id=outcome.probe_id, step=outcome.step,
                                         error=outcome.error, retry_at=outcome.retry_at)

    def _message(self, probe: Probe, step: int, text: str,
                 in_reply_to: str | None) -> OutgoingMessage:
        return OutgoingMessage(
            probe_id=probe.probe_id, step=step, persona_id=probe.persona,
            persona_account=self.roster.persona_accounts.get((probe.channel, probe.persona), ""),
            brand_id=probe.brand,
            brand_handles=self.roster.brand_handles.get((probe.channel, probe.brand), ()),
            mention=probe.mention, category=probe.category, text=text, in_reply_to=in_reply_to,
            not_before=probe.scheduled_at if step == 0 else None)

    # -- polling ----------------------------------------------------------------------------

    def _poll_at(self, name: str, now: datetime) -> datetime | None:
        """When channel ``name`` should next be polled, or None if there is no need."""
        adapter, state = self.channels[name], self.chan[name]
        interval = self.poll_every[name]
        if not state.waiting or name in self.stopped:
            return None  # nothing open on this channel (follow-ups only go to open probes)
        if adapter.knows_future:
            activity = adapter.next_activity(state.cursor)
            return None if activity is None else self._on_grid(name, activity)
        last = state.tried_at or state.polled_at
        moment = last + interval if last else now
        if state.blocked_until is not None:
            moment = max(moment, state.blocked_until)
        return moment

    def _on_grid(self, name: str, moment: datetime) -> datetime:
        """The first of channel ``name``'s poll ticks (every ``poll_every`` from its last
        poll) after ``moment``; ``moment`` itself if it was never polled."""
        state = self.chan[name]
        polled_at = state.tried_at or state.polled_at  # the grid goes on through failures
        if polled_at is None:
            return moment
        steps = max(1, math.ceil((moment - polled_at) / self.poll_every[name]))
        return polled_at + steps * self.poll_every[name]

    def _poll_due(self, now: datetime) -> dict[str, datetime | None]:
        """Poll the channels that are due; return when each should next be polled."""
        upcoming = {}
        for name in self.channels:
            when = self._poll_at(name, now)
            if when is not None and when <= now:
                self._look_for_posts_by_hand(name, now)
                self._poll(name, now)
                when = self._poll_at(name, now)
            upcoming[name] = when
        return upcoming

    def _look_for_posts_by_hand(self, name: str, now: datetime) -> None:
        """Before reading a channel's replies, look for the posts people were asked to make
        on it, so a reply is never read before the post it answers is known."""
        keys = [key for key in self.awaiting if self.by_id[key[0]].channel == name
                and self.attempts[key].intended_at < now]  # not looked for this very moment
        if not keys or self.kill_switch():
            return
        for key in keys:
            self.retries[key] = (now, self.retries[key][1])
        self._send_due(now)

    def _poll(self, name: str, now: datetime) -> None:
        adapter, state = self.channels[name], self.chan[name]
        try:
            result = adapter.poll(state.cursor)
        except sending.STOPPING_ERRORS as exc:
            state.tried_at = now
            self._stop(name, now, f"poll: {type(exc).__name__}: {exc}")
            return
        except RateLimited as exc:
            state.blocked_until = exc.reset_at or now + sending.backoff(state.failures + 1)
            state.failures += 1
            state.tried_at = now  # not polled_at: nothing was seen up to now
            self._health(name, now, f"poll: rate limited: {exc}")
            return
        except ChannelError as exc:
            state.failures += 1
            state.tried_at = now
            self._health(name, now, f"poll: {type(exc).__name__}: {exc}")
            return
        self._health(name, now, None)
        records = [self.index.record(name, reply, self.roster, now) for reply in result.replies]
        self._confirm_by_replies(records)
        self._batch.polls.append((name, records, result.cursor, now))
        state.cursor, state.polled_at, state.tried_at, state.failures = (result.cursor, now,
                                                                         now, 0)
        state.seen_through = result.as_of or now
        for record in records:
            self.stats.replies += 1
            if _counts(record) and record.probe_id is not None:
                self.stats.brand_replies += 1
                self._count_answered(record)
                self._maybe_follow_up(record)
            self.events.reply.fire(reply=record)

    def _count_answered(self, reply: ReplyRecord) -> None:
        """A probe is answered once a brand reply to it comes within its window (the export's
        ``responded``): counted once, however many replies and follow-up answers it gets."""
        probe_id = reply.probe_id or ""
        end = self.window_end.get(probe_id)
        if end is not None and reply.created_at <= end and probe_id not in self._answered:
            self._answered.add(probe_id)
            self.stats.answered += 1

    def _confirm_by_replies(self, records: list[ReplyRecord]) -> None:
        """A reply to an uncertain post proves the post went out: it is sent after all."""
        for record in records:
            key = self.unconfirmed.get(record.in_reply_to or "")
            attempt = self.attempts.get(key) if key else None
            if attempt is None or attempt.state != "uncertain":
                continue
            del self.unconfirmed[attempt.platform_id or ""]
            self.stats.uncertain -= attempt.step == 0
            # Without the platform's own time of the post, the moment it was handed over
            # stands in, in whole seconds as the email Date header has it (a send is made in
            # the same pass as its intent).
            outcome = sending.sent(attempt, attempt.platform_id or "", attempt.sent_at
                                   or attempt.intended_at.replace(microsecond=0))
            self._batch.outcomes.append(outcome)
            self._record_outcome(outcome)

    def _maybe_follow_up(self, reply: ReplyRecord) -> None:
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
        heapq.heappush(self._follow_up_queue, (due, probe_id, step + 1))

    # -- closing ----------------------------------------------------------------------------

    def _close_due(self, now: datetime) -> None:
        closing = []
        while self._open_heap and self._open_heap[0][0] <= now:
            end, pid = self._open_heap[0]
            if pid in self.closed or self.by_id[pid].channel in self.stopped:
                heapq.heappop(self._open_heap)  # a stopped channel's stay open, for a rerun
                continue
            if not self._seen_until(self.by_id[pid].channel, end):
                break  # wait for a poll that covers the end of the window
            heapq.heappop(self._open_heap)
            closing.append(pid)
        if closing:
            self._batch.closes.extend((pid, now) for pid in closing)
            for pid in closing:
                self.closed[pid] = now
                self.chan[self.by_id[pid].channel].waiting.discard(pid)
            self.stats.closed += len(closing)
            self.events.closed.fire(probe_ids=closing, at=now)

    def _seen_until(self, name: str, moment: datetime) -> bool:
        """Whether every reply created up to ``moment`` on this channel has been polled."""
        adapter, state = self.channels[name], self.chan[name]
        seen = state.seen_through or state.polled_at  # the platform's time where it says
        if seen is not None and seen >= moment:
            return True
        if adapter.knows_future:
            activity = adapter.next_activity(state.cursor)
            return activity is None or activity > moment
        return False

    # -- what next --------------------------------------------------------------------------

    def _next_event(self, now: datetime, polls: dict[str, datetime | None], *,
                    sending: bool = True) -> datetime | None:
        candidates = []
        position = self._next
        while sending and position < len(self.probes):
            probe = self.probes[position]
            if (probe.probe_id, 0) not in self.attempts and probe.channel not in self.stopped:
                candidates.append(probe.scheduled_at)
                break
            position += 1
        for (pid, _), (at, _) in self.retries.items() if sending else ():
            if self.by_id[pid].channel not in self.stopped:
                candidates.append(max(at, self.chan[self.by_id[pid].channel].blocked_until
                                      or at))
        queued = (self._follow_up_queue[:1] if not self.stopped else
                  [item for item in self._follow_up_queue
                   if self.by_id[item[1]].channel not in self.stopped])
        if queued and sending:
            at, pid, _ = min(queued)
            candidates.append(max(at, self.chan[self.by_id[pid].channel].blocked_until or at))
        for name, when in polls.items():
            if when is not None and self.chan[name].waiting:  # closing may have emptied it
                candidates.append(when)
        while self._open_heap and (self._open_heap[0][1] in self.closed or self.by_id[
                self._open_heap[0][1]].channel in self.stopped):
            heapq.heappop(self._open_heap)
        if self._open_heap and self._open_heap[0][0] > now:
            # A window ends: close on the channel's next poll tick, as a live run would.
            end, pid = self._open_heap[0]
            candidates.append(self._on_grid(self.by_id[pid].channel, end))
        if not candidates:
            return None
        return max(min(candidates), now) if self.clock.is_virtual else min(candidates)


def _counts(reply: ReplyRecord) -> bool:
    """Whether a reply is the brand's own (not a bystander's, not an auto-acknowledgement)."""
    return reply.from_brand and not reply.automated


def _by_time(item: tuple[tuple[str, int], tuple[datetime, str | None]]) -> tuple[datetime, str]:
    (pid, step), (at, _) = item
    return at, f"{pid}:{step}"
