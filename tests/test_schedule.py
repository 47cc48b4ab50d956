"""When things happen, on a ledger built in memory (no store, no channel, no clock): the poll
grid, what is due and in which order, when a window may close, and when the loop wakes next.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from harness.plan.probe import FollowUpStep, Probe
from harness.runner import schedule
from harness.runner.ledger import ChannelState, Ledger
from harness.runner.roster import Roster
from harness.store.records import ReplyRecord, SendRecord

T0 = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
FIVE = 5 * MINUTE
WINDOW = timedelta(hours=2)
ROSTER = Roster({}, {}, {}, {})


def _probe(n: int, at: datetime, channel: str = "x", follow_ups: int = 0) -> Probe:
    steps = tuple(FollowUpStep(600, f"follow-up {k}") for k in range(follow_ups))
    return Probe(f"p{n}", n, "ana", "acme", "Retail", channel, "question", "at", 1, 1, at,
                 f"message {n}", steps)


def _ledger(*probes: Probe, channels: tuple[str, ...] = ("x",)) -> Ledger:
    return Ledger(list(probes), WINDOW, channels, ROSTER)


def _sent(probe: Probe, at: datetime, step: int = 0) -> SendRecord:
    return SendRecord(probe.probe_id, step, 1, "sent", at, at, f"post-{probe.probe_id}-{step}",
                      None, probe.text)


@pytest.fixture(autouse=True)
def _no_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing here may open a database."""
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the schedule opened a database")

    monkeypatch.setattr(sqlite3, "connect", refuse)


def test_the_poll_grid_goes_on_from_the_last_poll_through_failures() -> None:
    never = ChannelState()
    assert schedule.on_grid(never, FIVE, T0 + 7 * MINUTE) == T0 + 7 * MINUTE
    polled = ChannelState(polled_at=T0)
    assert schedule.on_grid(polled, FIVE, T0 + 7 * MINUTE) == T0 + 10 * MINUTE
    assert schedule.on_grid(polled, FIVE, T0 + 10 * MINUTE) == T0 + 10 * MINUTE
    assert schedule.on_grid(polled, FIVE, T0) == T0 + FIVE  # never the poll just made
    failed_since = ChannelState(polled_at=T0, tried_at=T0 + 2 * MINUTE)
    assert schedule.on_grid(failed_since, FIVE, T0 + 3 * MINUTE) == T0 + 7 * MINUTE


def test_a_channel_is_polled_only_while_something_on_it_is_open() -> None:
    idle = ChannelState(polled_at=T0)
    assert schedule.poll_at(idle, FIVE, T0, stopped=False, foresight=None) is None
    open_ = ChannelState(polled_at=T0, waiting={"p1"})
    assert schedule.poll_at(open_, FIVE, T0, stopped=False, foresight=None) == T0 + FIVE
    assert schedule.poll_at(open_, FIVE, T0, stopped=True, foresight=None) is None
    fresh = ChannelState(waiting={"p1"})
    assert schedule.poll_at(fresh, FIVE, T0, stopped=False, foresight=None) == T0
    blocked = ChannelState(polled_at=T0, waiting={"p1"}, blocked_until=T0 + 12 * MINUTE)
    assert schedule.poll_at(blocked, FIVE, T0, stopped=False, foresight=None) == T0 + 12 * MINUTE


def test_a_channel_that_knows_its_future_is_polled_on_the_tick_after_its_next_reply() -> None:
    state = ChannelState(polled_at=T0, waiting={"p1"}, cursor="c")
    seen: list[str | None] = []

    def foresight(cursor: str | None) -> datetime | None:
        seen.append(cursor)
        return T0 + 11 * MINUTE

    assert schedule.poll_at(state, FIVE, T0, stopped=False, foresight=foresight) == \
        T0 + 15 * MINUTE
    assert seen == ["c"]
    assert schedule.poll_at(state, FIVE, T0, stopped=False, foresight=lambda c: None) is None


def test_a_window_may_close_once_it_has_been_read_to_its_end() -> None:
    end = T0 + WINDOW
    assert not schedule.seen_until(ChannelState(polled_at=end - MINUTE), end, None)
    assert schedule.seen_until(ChannelState(polled_at=end), end, None)
    # the platform's own time of the last poll counts, not ours
    assert schedule.seen_until(ChannelState(polled_at=end - MINUTE, seen_through=end), end, None)
    quiet = ChannelState(polled_at=T0)
    assert schedule.seen_until(quiet, end, lambda cursor: None)  # nothing more will come
    assert schedule.seen_until(quiet, end, lambda cursor: end + MINUTE)
    assert not schedule.seen_until(quiet, end, lambda cursor: end)


def test_due_takes_first_messages_in_plan_order_then_retries_then_follow_ups() -> None:
    first, second, later = _probe(1, T0), _probe(2, T0 + MINUTE, follow_ups=1), \
        _probe(3, T0 + timedelta(hours=1))
    ledger = _ledger(first, second, later)
    ledger.record_outcome(_sent(second, T0 + MINUTE))
    ledger.attempts[("p1", 0)] = SendRecord("p1", 0, 1, "failed", T0, None, None, None, "m",
                                            "transient: 502", T0 + 3 * MINUTE, "transient")
    ledger.absorb_attempt(ledger.attempts[("p1", 0)])
    reply = ReplyRecord("x", "r1", "p2", 0, "in_reply_to", "@acme", True, "public_reply",
                        False, "hi", T0 + 2 * MINUTE, T0 + 2 * MINUTE, "post-p2-0", "{}")
    ledger.schedule_follow_up(reply)  # due ten minutes after the reply
    assert ledger.follow_ups == {("p2", 1): (T0 + 12 * MINUTE, "r1")}

    assert schedule.take_due(ledger, T0 + 2 * MINUTE, stopped={}) == []  # p1, p2 attempted
    assert ledger.next == 2
    due = schedule.take_due(ledger, T0 + 12 * MINUTE, stopped={})
    assert [(p.probe_id, step, answering) for p, step, answering, _ in due] == [
        ("p1", 0, None), ("p2", 1, "r1")]
    assert due[1][3] == "follow-up 0"
    assert ledger.follow_ups == {}  # taken
    # a rate-limited channel keeps its retries and follow-ups for later
    ledger.chan["x"].blocked_until = T0 + timedelta(hours=1)
    assert schedule.take_due(ledger, T0 + 30 * MINUTE, stopped={}) == []
    # first messages come first; a retry stays in the ledger until its new attempt is made
    assert [p.probe_id for p, *_ in schedule.take_due(ledger, T0 + timedelta(hours=1),
                                                      stopped={})] == ["p3", "p1"]


def test_a_follow_up_due_after_its_window_is_dropped_and_a_stopped_channel_sends_nothing() -> None:
    probe = _probe(1, T0, follow_ups=1)
    ledger = _ledger(probe)
    ledger.record_outcome(_sent(probe, T0))
    reply = ReplyRecord("x", "r1", "p1", 0, "in_reply_to", "@acme", True, "public_reply",
                        False, "hi", T0 + WINDOW - MINUTE, T0, "post-p1-0", "{}")
    ledger.schedule_follow_up(reply)  # due 9 minutes after the window ends
    assert schedule.take_due(ledger, T0 + 3 * WINDOW, stopped={}) == []
    assert ledger.follow_ups == {}
    waiting = _ledger(_probe(2, T0))
    assert schedule.take_due(waiting, T0, stopped={"x": "AuthenticationFailed"}) == []
    assert waiting.next == 1  # passed over: a rerun after the fix sends it


def test_the_loop_wakes_for_the_next_message_poll_or_window_end_and_not_before_now() -> None:
    first, second = _probe(1, T0), _probe(2, T0 + timedelta(hours=5))
    ledger = _ledger(first, second)
    every = {"x": FIVE}
    assert schedule.next_event(ledger, T0 - MINUTE, {}, every, {}) == T0
    ledger.record_outcome(_sent(first, T0))
    ledger.next = 1
    polls = {"x": T0 + FIVE}
    assert schedule.next_event(ledger, T0, polls, every, {}) == T0 + FIVE
    # with sending off only polls and window ends count
    assert schedule.next_event(ledger, T0, {"x": None}, every, {}, sending=False) == \
        T0 + WINDOW  # closes on the grid: never polled, so at the end itself
    ledger.chan["x"].polled_at = T0 + 3 * MINUTE
    assert schedule.next_event(ledger, T0, {"x": None}, every, {}, sending=False) == \
        T0 + WINDOW + 3 * MINUTE
    # on a virtual clock a moment already past is now
    assert schedule.next_event(ledger, T0 + timedelta(hours=9), {"x": None}, every, {},
                               virtual=True) == T0 + timedelta(hours=9)
    ledger.close(["p1"], T0 + WINDOW)
    ledger.next = 2
    assert schedule.next_event(ledger, T0 + WINDOW, {"x": None}, every, {}) is None


def test_nothing_on_a_stopped_channel_wakes_the_loop() -> None:
    probe = _probe(1, T0, channel="x")
    ledger = _ledger(probe, _probe(2, T0 + MINUTE, channel="y"), channels=("x", "y"))
    ledger.record_outcome(_sent(probe, T0))
    ledger.next = 1
    every = {"x": FIVE, "y": FIVE}
    assert schedule.next_event(ledger, T0, {"x": None, "y": None}, every, {"y": "stopped"}) \
        == T0 + WINDOW
    assert schedule.first_open(ledger, {"x": "stopped"}) is None
    assert ledger.open_heap == []  # dropped from the front on the way
