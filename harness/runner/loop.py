"""The runner: one clock-driven loop for live and simulated races.

Each pass: send what is due (first messages, follow-ups, retries), poll the channels that are
due, close probes whose observation window has ended, then sleep until the next thing is due.
With a virtual clock "sleeping" jumps straight there. A repeating schedule's plan grows at
each pass (:mod:`harness.runner.horizon`); ``run(once=True)`` makes one pass.

Crash safety: a send is committed as *intended* before the platform is called and as *sent*
(with the platform's id and timestamp) after. On start, intents without an outcome are settled
against the platform where it can say (``find_post``) and otherwise marked *uncertain*; they are
never blindly sent again. Replies are committed with the cursor that produced them, in one
transaction. All of the runner's state is rebuilt from the store (:mod:`harness.runner.ledger`),
so a rerun resumes exactly; when things are due is :mod:`harness.runner.schedule`'s to say.

Writes are gathered in a batch and committed together: always before a send (the intents) and
before the loop waits in real time. The loop writes the store itself, rather than leaving it
to a listener of its events, because the order is the safety: an intent must be on disk before
the platform is called, and a listener could not make the call wait for it. On a virtual
clock, waiting takes no time, so outcomes, replies and closes ride along with the next pass's
intents: one commit per pass that sends.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from harness.channels.base import ChannelAdapter, OutgoingMessage
from harness.clock import Clock
from harness.errors import ChannelError, RateLimited
from harness.plan.probe import Probe
from harness.runner import schedule, sending
from harness.runner.events import RunnerEvents, RunStats
from harness.runner.horizon import Horizon
from harness.runner.ledger import Key, Ledger, counts
from harness.runner.limits import Limits
from harness.runner.roster import Roster
from harness.store.records import DEGRADED_AFTER, ChannelHealth, ReplyRecord, SendRecord, WriteBatch
from harness.store.sqlite import Store


class _WakeUp(Exception):
    """Raised into the runner's wait by :meth:`Runner.request_stop`."""


class Runner:
    """Sends the plan's probes through channels, on a clock, recording everything in a store."""

    def __init__(self, store: Store, channels: Mapping[str, ChannelAdapter], clock: Clock,
                 roster: Roster, *, window: timedelta, poll_every: Mapping[str, timedelta],
                 events: RunnerEvents | None = None, limits: Limits | None = None,
                 kill_switch: Callable[[], bool] | None = None,
                 horizon: Horizon | None = None) -> None:
        self.store = store
        self.channels = channels
        self.clock = clock
        self.roster = roster
        self.poll_every = poll_every
        self.events = events or RunnerEvents()
        self.limits = limits
        self.kill_switch = kill_switch or (lambda: False)
        self.horizon = horizon  # a repeating schedule's plan, extended as time goes on
        self.sending_stopped = False  # the kill switch was on when the run ended
        self.stopped: dict[str, str] = {}
        """Channels stopped for good in this run, with why (what retrying cannot cure)."""
        self._capped: dict[Key, str] = {}
        self.stop_requested = False
        self._waiting = False
        self._batch = WriteBatch()
        self.ledger = Ledger.from_store(store, window, channels, roster)
        if self.limits is not None:  # whatever may have reached a platform counts
            self.limits.count_all(
                (self.ledger.by_id[r.probe_id].brand, r.sent_at or r.intended_at)
                for r in store.sends() if r.state in ("sent", "intended", "uncertain"))

    @property
    def probes(self) -> list[Probe]:
        """The plan, in the order it is sent."""
        return self.ledger.probes

    @property
    def by_id(self) -> dict[str, Probe]:
        """The plan's probes by id."""
        return self.ledger.by_id

    @property
    def attempts(self) -> dict[Key, SendRecord]:
        """The latest attempt of each message."""
        return self.ledger.attempts

    @property
    def stats(self) -> RunStats:
        """The counts shown as progress."""
        return self.ledger.stats

    def flush(self) -> None:
        """Commit what the loop has gathered so far: a listener that reads the store (the
        alerts) calls it first. Always safe; the loop itself commits lazily on a virtual
        clock."""
        self.store.write(self._batch)

    # -- the loop ---------------------------------------------------------------------------

    def run(self, *, once: bool = False) -> bool:
        """Run until every probe is settled and closed (True), or a stop is requested, or
        the kill switch is on and nothing sent is still open (False). ``once``: one pass
        (send what is due, poll every channel with something open, close what is due), then
        return (True only if that finished the run)."""
        self._reconcile()
        while not self.stop_requested:
            now = self.clock.now()
            if self.horizon is not None:  # a repeating schedule: plan what came within reach
                self.ledger.add_probes(self.horizon.extend(now))
            may_send = not self.kill_switch()
            if may_send:
                self._send_due(now)
            polls = self._poll_due(now, every=once)
            if once and may_send:  # what the replies just read made due (follow-ups)
                self._send_due(now)
            self._close_due(now)
            self.events.tick.fire(now=now, stats=self.stats)
            upcoming = self._next_event(now, polls, sending=may_send)
            if upcoming is None or once:
                self.store.write(self._batch)
                # with the switch on, the run is over only if nothing was left to send
                done = upcoming is None and (may_send or self._next_event(now, polls) is None)
                self.sending_stopped = not may_send and not done
                return done and not self.stopped
            if not self.clock.is_virtual:
                self.store.write(self._batch)
            self._wait(upcoming)
        self.store.write(self._batch)
        return False

    def request_stop(self) -> None:
        """Stop at the next safe point: after the send under way, or at once while waiting
        (everything is written before a wait). For a signal handler: it cuts a wait short."""
        self.stop_requested = True
        if self._waiting:
            self._waiting = False
            raise _WakeUp

    def _wait(self, moment: datetime) -> None:
        try:
            self._waiting = True  # inside the try: a wake-up from here on lands below
            if not self.stop_requested:  # asked for just before: no wake-up came
                self.clock.sleep_until(moment)
            self._waiting = False
        except _WakeUp:
            pass

    # -- sending ----------------------------------------------------------------------------

    def _reconcile(self) -> None:
        """Settle sends a crash left as 'intended' (never resend them blindly)."""
        pending = [r for r in self.ledger.attempts.values() if r.state == "intended"]
        if not pending:
            return
        now = self.clock.now()
        settled = []
        for record in pending:
            probe = self.ledger.by_id[record.probe_id]
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

    def _send_due(self, now: datetime) -> None:
        due = schedule.take_due(self.ledger, now, self.stopped)
        if not due:
            return
        intents = []
        for probe, step, in_reply_to, text in due:
            previous = self.ledger.attempts.get((probe.probe_id, step))
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
                brand = self.ledger.by_id[record.probe_id].brand
                reason = self.limits.refuse(brand, now)
                if reason is None:
                    self.limits.count(brand, now)
                else:
                    self._capped[(record.probe_id, record.step)] = reason
        self._batch.intents.extend(intents)
        self.store.write(self._batch)  # intents are durable before anything is sent
        for record in intents:
            self.ledger.attempts[(record.probe_id, record.step)] = record
            self.ledger.retries.pop((record.probe_id, record.step), None)
        outcomes = [sending.not_attempted(record, "stopping", now) if self.stop_requested
                    else self._send_one(record, now) for record in intents]
        self._batch.outcomes.extend(outcomes)
        for outcome in outcomes:
            self._record_outcome(outcome)

    def _send_one(self, record: SendRecord, now: datetime) -> SendRecord:
        probe = self.ledger.by_id[record.probe_id]
        state = self.ledger.chan[probe.channel]
        capped = self._capped.pop((record.probe_id, record.step), None)
        if capped is not None:  # never handed to the channel
            return sending.capped(record, capped)
        if probe.channel in self.stopped:  # stopped earlier in this batch: after the fix
            return sending.not_attempted(record, "channel_stopped", now)
        if not schedule.channel_free(self.ledger, self.stopped, probe.channel, now):
            # rate-limited earlier in this batch
            return sending.not_attempted(record, "channel_rate_limited",
                                         state.blocked_until)
        message = self._message(probe, record.step, record.text, record.in_reply_to)
        key = (record.probe_id, record.step)
        outcome, blocked_until = sending.attempt(self.channels[probe.channel], message, record,
                                                 now, self.ledger.failures[key])
        if sending.counts_as_failure(outcome):
            self.ledger.failures[key] += 1
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
        state = self.ledger.chan[name]
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
        self.ledger.record_outcome(outcome)
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

    def _foresight(self, name: str) -> schedule.Foresight | None:
        adapter = self.channels[name]
        return adapter.next_activity if adapter.knows_future else None

    def _poll_at(self, name: str, now: datetime) -> datetime | None:
        return schedule.poll_at(self.ledger.chan[name], self.poll_every[name], now,
                                stopped=name in self.stopped, foresight=self._foresight(name))

    def _poll_due(self, now: datetime, *, every: bool = False) -> dict[str, datetime | None]:
        """Poll the channels that are due (``every``: each one with something open that may
        be polled now); return when each should next be polled."""
        upcoming = {}
        for name in self.channels:
            when = self._poll_at(name, now)
            if when is not None and (when <= now or (every and schedule.channel_free(
                    self.ledger, self.stopped, name, now))):
                self._look_for_posts_by_hand(name, now)
                self._poll(name, now)
                when = self._poll_at(name, now)
            upcoming[name] = when
        return upcoming

    def _look_for_posts_by_hand(self, name: str, now: datetime) -> None:
        """Before reading a channel's replies, look for the posts people were asked to make
        on it, so a reply is never read before the post it answers is known."""
        ledger = self.ledger
        keys = [key for key in ledger.awaiting if ledger.by_id[key[0]].channel == name
                and ledger.attempts[key].intended_at < now]  # not looked for this very moment
        if not keys or self.kill_switch():
            return
        for key in keys:
            ledger.retries[key] = (now, ledger.retries[key][1])
        self._send_due(now)

    def _poll(self, name: str, now: datetime) -> None:
        adapter, state = self.channels[name], self.ledger.chan[name]
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
        records = [self.ledger.index.record(name, reply, self.roster, now)
                   for reply in result.replies]
        self._confirm_by_replies(records)
        self._batch.polls.append((name, records, result.cursor, now))
        state.cursor, state.polled_at, state.tried_at, state.failures = (result.cursor, now,
                                                                         now, 0)
        state.seen_through = result.as_of or now
        for record in records:
            self.ledger.stats.replies += 1
            if counts(record) and record.probe_id is not None:
                self.ledger.stats.brand_replies += 1
                self.ledger.count_answered(record)
                self.ledger.schedule_follow_up(record)
            self.events.reply.fire(reply=record)

    def _confirm_by_replies(self, records: list[ReplyRecord]) -> None:
        """A reply to an uncertain post proves the post went out: it is sent after all."""
        ledger = self.ledger
        for record in records:
            key = ledger.unconfirmed.get(record.in_reply_to or "")
            attempt = ledger.attempts.get(key) if key else None
            if attempt is None or attempt.state != "uncertain":
                continue
            del ledger.unconfirmed[attempt.platform_id or ""]
            ledger.stats.uncertain -= attempt.step == 0
            # Without the platform's own time of the post, the moment it was handed over
            # stands in, in whole seconds as the email Date header has it (a send is made in
            # the same pass as its intent).
            outcome = sending.sent(attempt, attempt.platform_id or "", attempt.sent_at
                                   or attempt.intended_at.replace(microsecond=0))
            self._batch.outcomes.append(outcome)
            self._record_outcome(outcome)

    # -- closing ----------------------------------------------------------------------------

    def _close_due(self, now: datetime) -> None:
        ledger, heap, closing = self.ledger, self.ledger.open_heap, []
        while heap and heap[0][0] <= now:
            end, pid = heap[0]
            channel = ledger.by_id[pid].channel
            if pid in ledger.closed or channel in self.stopped:
                heapq.heappop(heap)  # a stopped channel's stay open, for a rerun
                continue
            if not schedule.seen_until(ledger.chan[channel], end, self._foresight(channel)):
                break  # wait for a poll that covers the end of the window
            heapq.heappop(heap)
            closing.append(pid)
        if closing:
            self._batch.closes.extend((pid, now) for pid in closing)
            ledger.close(closing, now)
            self.events.closed.fire(probe_ids=closing, at=now)

    # -- what next --------------------------------------------------------------------------

    def _next_event(self, now: datetime, polls: dict[str, datetime | None], *,
                    sending: bool = True) -> datetime | None:
        return schedule.next_event(self.ledger, now, polls, self.poll_every, self.stopped,
                                   sending=sending, virtual=self.clock.is_virtual,
                                   plan_ends=self.horizon.next_at() if self.horizon else None)
