"""When things happen: which messages are due, when each channel is next polled, whether a
probe's window has been read to its end, and when the loop should wake next.

Functions of the ledger's state and the clock's time, nothing else: no store, no channel call
(a simulated channel's ``next_activity`` is passed in as ``foresight``: what it will do next
is a fact of its model, not a request), no events. :func:`take_due` is the one that changes
the ledger: it takes what it returns out of the queues, as the loop is about to send it.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Collection, Mapping
from datetime import datetime, timedelta

from harness.plan.probe import Probe
from harness.runner.ledger import ChannelState, Key, Ledger

Foresight = Callable[[str | None], datetime | None]
"""A channel that knows its future (simulated): the moment of its next reply after a cursor."""
Due = tuple[Probe, int, str | None, str]
"""A message to send now: the probe, the step, what it answers, its text."""


def on_grid(state: ChannelState, interval: timedelta, moment: datetime) -> datetime:
    """The first of a channel's poll ticks (every ``interval`` from its last poll) after
    ``moment``; ``moment`` itself if it was never polled."""
    polled_at = state.tried_at or state.polled_at  # the grid goes on through failures
    if polled_at is None:
        return moment
    steps = max(1, math.ceil((moment - polled_at) / interval))
    return polled_at + steps * interval


def poll_at(state: ChannelState, interval: timedelta, now: datetime, *, stopped: bool,
            foresight: Foresight | None) -> datetime | None:
    """When a channel should next be polled, or None if there is no need."""
    if not state.waiting or stopped:
        return None  # nothing open on this channel (follow-ups only go to open probes)
    if foresight is not None:
        activity = foresight(state.cursor)
        return None if activity is None else on_grid(state, interval, activity)
    last = state.tried_at or state.polled_at
    moment = last + interval if last else now
    if state.blocked_until is not None:
        moment = max(moment, state.blocked_until)
    return moment


def seen_until(state: ChannelState, moment: datetime, foresight: Foresight | None) -> bool:
    """Whether every reply created up to ``moment`` on a channel has been polled."""
    seen = state.seen_through or state.polled_at  # the platform's time where it says
    if seen is not None and seen >= moment:
        return True
    if foresight is not None:
        activity = foresight(state.cursor)
        return activity is None or activity > moment
    return False


def channel_free(ledger: Ledger, stopped: Collection[str], channel: str, now: datetime) -> bool:
    """Whether a channel may be sent on now (not stopped, not rate limited)."""
    if channel in stopped:
        return False
    until = ledger.chan[channel].blocked_until
    return until is None or until <= now


def take_due(ledger: Ledger, now: datetime, stopped: Collection[str]) -> list[Due]:
    """Every message due by ``now``: first messages in plan order, then retries by time, then
    follow-ups by time. First messages and follow-ups are taken out of their queues (a
    follow-up whose window ended first is dropped; one on a blocked channel waits in its
    queue); a retry stays in the ledger until the loop records its new attempt."""
    due: list[Due] = []
    while ledger.next < len(ledger.probes) and ledger.probes[ledger.next].scheduled_at <= now:
        probe = ledger.probes[ledger.next]
        if (probe.probe_id, 0) not in ledger.attempts and probe.channel not in stopped:
            due.append((probe, 0, None, probe.text))
        ledger.next += 1
    for (pid, step), (at, in_reply_to) in sorted(ledger.retries.items(), key=_by_time):
        probe = ledger.by_id[pid]
        if at <= now and channel_free(ledger, stopped, probe.channel, now):
            text = probe.text if step == 0 else probe.follow_ups[step - 1].text
            due.append((probe, step, in_reply_to, text))
    blocked = []
    queue = ledger.follow_up_queue
    while queue and queue[0][0] <= now:
        at, pid, step = heapq.heappop(queue)
        if ledger.follow_ups.get((pid, step), (None,))[0] != at:
            continue  # already sent or dropped
        probe = ledger.by_id[pid]
        if pid in ledger.closed or ledger.window_end[pid] <= at:
            del ledger.follow_ups[(pid, step)]  # the window ended first: no follow-up
        elif not channel_free(ledger, stopped, probe.channel, now):
            blocked.append((at, pid, step))
        else:
            in_reply_to = ledger.follow_ups.pop((pid, step))[1]
            due.append((probe, step, in_reply_to, probe.follow_ups[step - 1].text))
    for item in blocked:
        heapq.heappush(queue, item)
    return due


def next_event(ledger: Ledger, now: datetime, polls: Mapping[str, datetime | None],
               poll_every: Mapping[str, timedelta], stopped: Collection[str], *,
               sending: bool = True, virtual: bool = False,
               plan_ends: datetime | None = None) -> datetime | None:
    """When the loop should wake next (None: nothing is left to do): the next first message,
    retry or follow-up (unless ``sending`` is off), the next poll of a channel with open
    probes, the next window to close (on its channel's poll tick), or (unless ``sending`` is
    off) ``plan_ends``, when a repeating schedule's stored plan must be extended. On a
    virtual clock, never before ``now``."""
    candidates = [plan_ends] if sending and plan_ends is not None else []
    position = ledger.next
    while sending and position < len(ledger.probes):
        probe = ledger.probes[position]
        if (probe.probe_id, 0) not in ledger.attempts and probe.channel not in stopped:
            candidates.append(probe.scheduled_at)
            break
        position += 1
    for (pid, _), (at, _) in ledger.retries.items() if sending else ():
        channel = ledger.by_id[pid].channel
        if channel not in stopped:
            candidates.append(max(at, ledger.chan[channel].blocked_until or at))
    queued = [item for item in ledger.follow_up_queue
              if ledger.by_id[item[1]].channel not in stopped] if stopped else \
        ledger.follow_up_queue[:1]
    if queued and sending:
        at, pid, _ = min(queued)
        candidates.append(max(at, ledger.chan[ledger.by_id[pid].channel].blocked_until or at))
    for name, when in polls.items():
        if when is not None and ledger.chan[name].waiting:  # closing may have emptied it
            candidates.append(when)
    first = first_open(ledger, stopped)
    if first is not None and first[0] > now:
        # A window ends: close on the channel's next poll tick, as a live run would.
        end, pid = first
        channel = ledger.by_id[pid].channel
        candidates.append(on_grid(ledger.chan[channel], poll_every[channel], end))
    if not candidates:
        return None
    return max(min(candidates), now) if virtual else min(candidates)


def first_open(ledger: Ledger, stopped: Collection[str]) -> tuple[datetime, str] | None:
    """The open probe whose window ends first, on a channel still running (closed probes and
    stopped channels' are dropped from the front of the heap on the way: housekeeping, not a
    change of state)."""
    heap = ledger.open_heap
    while heap and (heap[0][1] in ledger.closed or ledger.by_id[heap[0][1]].channel in stopped):
        heapq.heappop(heap)
    return heap[0] if heap else None


def _by_time(item: tuple[Key, tuple[datetime, str | None]]) -> tuple[datetime, str]:
    (pid, step), (at, _) = item
    return at, f"{pid}:{step}"
