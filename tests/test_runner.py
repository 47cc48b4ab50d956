"""The runner on a virtual clock: sends, polls, follow-ups, closing, errors and resuming."""

from __future__ import annotations

import bisect
import json
import sqlite3
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest

from harness.analysis.outcomes import from_store
from harness.analysis.summary import summarize
from harness.channels.base import (
    ChannelContext,
    IncomingReply,
    OutgoingMessage,
    PollResult,
    SentPost,
)
from harness.channels.sim.platform import Event, Post
from harness.channels.simulated import SimulatedChannel
from harness.cli import main
from harness.errors import AccessDenied, RateLimited, TransientError
from harness.plan.expand import build_plan
from harness.runner.events import RunStats
from harness.runner.loop import Runner
from harness.runner.matching import MatchIndex
from harness.runner.roster import Roster
from harness.scenario.model import Channel, Scenario
from harness.session.runs import RunResult, simulate
from harness.session.scenarios import load_scenario
from harness.store.sqlite import Store

from .conftest import REPLAY
from .simrun import export_rows, journal_posts, run_in_process


def _with(scenario: Scenario, **schedule: Any) -> Scenario:
    return scenario.model_copy(
        update={"schedule": scenario.schedule.model_copy(update=schedule)})


def test_small_race_finishes_and_every_probe_is_sent_once(small_scenario: Scenario,
                                                           tmp_path: Path) -> None:
    assert run_in_process(small_scenario, tmp_path)
    rows = export_rows(tmp_path)
    assert len(rows) == 40
    assert {r["status"] for r in rows} == {"closed"}
    posts = journal_posts(tmp_path)
    assert len(posts) == len(set(posts))
    assert Counter(step for _, step in posts)[0] == 40


def test_same_seed_gives_identical_exports(small_scenario: Scenario, tmp_path: Path) -> None:
    run_in_process(small_scenario, tmp_path / "a")
    run_in_process(small_scenario, tmp_path / "b")
    assert export_rows(tmp_path / "a") == export_rows(tmp_path / "b")
    other = small_scenario.model_copy(update={"seed": 8})
    run_in_process(other, tmp_path / "c")
    assert export_rows(tmp_path / "a") != export_rows(tmp_path / "c")


def test_latency_is_platform_time_not_poll_time(small_scenario: Scenario, tmp_path: Path) -> None:
    run_in_process(small_scenario, tmp_path)
    rows = [r for r in export_rows(tmp_path) if r["responded"]]
    assert rows
    for row in rows:
        sent = datetime.fromisoformat(str(row["sent_at"]))
        first = datetime.fromisoformat(str(row["first_reply_at"]))
        assert row["latency_s"] == int((first - sent).total_seconds())
    db = sqlite3.connect(tmp_path / "run.sqlite")
    gaps = [datetime.fromisoformat(received) - datetime.fromisoformat(created)
            for created, received in db.execute("SELECT created_at, received_at FROM replies")]
    assert any(gap > timedelta(0) for gap in gaps)  # polled later than created...
    assert all(gap >= timedelta(0) for gap in gaps)  # ...and never before


class LiveLikeChannel(SimulatedChannel):
    """The simulated platform behind an adapter that cannot see the future, like a live one."""

    knows_future = False


def test_polling_blind_every_interval_finds_the_same_replies_and_latencies(
        small_scenario: Scenario, tmp_path: Path) -> None:
    run_in_process(small_scenario, tmp_path / "hinted")
    run_in_process(small_scenario, tmp_path / "blind", adapter=LiveLikeChannel)
    def pick(rows: list[dict[str, object]]) -> list[tuple[object, ...]]:
        # What happened within the observation window is the same however often we poll.
        return [(r["probe_id"], r["sent_at"], r["responded"], r["auto_acks"],
                 r["latency_s"] if r["responded"] else None,
                 r["first_reply_kind"] if r["responded"] else None) for r in rows]

    blind = pick(export_rows(tmp_path / "blind"))
    assert pick(export_rows(tmp_path / "hinted")) == blind
    db = sqlite3.connect(tmp_path / "blind" / "run.sqlite")
    closed = [datetime.fromisoformat(c) for (c,) in db.execute("SELECT closed_at FROM probes")]
    assert len(closed) == 40 and all(closed)


def test_follow_up_goes_in_the_thread_after_the_brand_answers(small_scenario: Scenario,
                                                               tmp_path: Path) -> None:
    run_in_process(small_scenario, tmp_path)
    db = sqlite3.connect(tmp_path / "run.sqlite")
    follow_ups = db.execute(
        "SELECT s.probe_id, s.sent_at, s.in_reply_to, r.created_at FROM sends s"
        " JOIN replies r ON r.platform_id = s.in_reply_to WHERE s.step = 1").fetchall()
    assert follow_ups, "the fast brand answers technical questions, so follow-ups are sent"
    for probe_id, sent_at, _, replied_at in follow_ups:
        assert probe_id.split("-")[3] in ("fast", "slow", "bank")
        delay = datetime.fromisoformat(sent_at) - datetime.fromisoformat(replied_at)
        assert delay == timedelta(minutes=10)
    categories = {c for (c,) in db.execute(
        "SELECT p.category FROM sends s JOIN probes p USING (probe_id) WHERE s.step = 1")}
    assert categories == {"technical"}
    answered = db.execute("SELECT COUNT(*) FROM replies WHERE step = 1 AND from_brand = 1"
                          " AND probe_id LIKE '%-fast-%'").fetchone()[0]
    assert answered > 0  # the fast brand answers every follow-up


def test_auto_acknowledgements_are_kept_but_never_count_as_a_response(
        small_scenario: Scenario, tmp_path: Path) -> None:
    run_in_process(small_scenario, tmp_path)
    slow = [r for r in export_rows(tmp_path) if r["brand"] == "slow"]
    assert all(int(str(r["auto_acks"])) >= 1 for r in slow)  # follow-ups get one too
    for row in slow:
        if row["first_reply_at"]:
            assert int(str(row["latency_s"])) > 120  # not the 2-minute acknowledgement


def test_replies_after_the_window_are_late_not_responses(small_scenario: Scenario,
                                                         tmp_path: Path) -> None:
    scenario = _with(small_scenario, observation_window=timedelta(hours=2))
    run_in_process(scenario, tmp_path)
    rows = export_rows(tmp_path)
    late = [r for r in rows if r["late"]]
    assert late, "the slow brand answers after about 20 working hours"
    for row in late:
        assert not row["responded"]
        assert int(str(row["latency_s"])) > 7200
    assert all(int(str(r["latency_s"])) <= 7200 for r in rows if r["responded"])


def test_dm_and_email_replies_are_matched_to_their_probe(small_scenario: Scenario,
                                                         tmp_path: Path) -> None:
    run_in_process(small_scenario, tmp_path)
    rows = export_rows(tmp_path)
    assert any(r["direct_message"] for r in rows if r["brand"] == "fast")
    assert any(r["email"] for r in rows if r["brand"] == "bank")
    assert not any(r["brand_replies"] for r in rows if r["brand"] == "mute")


def test_a_stopped_run_resumes_to_the_same_result(small_scenario: Scenario,
                                                  tmp_path: Path) -> None:
    run_in_process(small_scenario, tmp_path / "whole")
    folder = tmp_path / "pieces"
    stops = 0
    while not run_in_process(small_scenario, folder, stop_after_ticks=7):
        stops += 1
        assert stops < 500
    assert stops > 5
    assert export_rows(folder) == export_rows(tmp_path / "whole")
    posts = journal_posts(folder)
    assert len(posts) == len(set(posts))


class CrashAfterPosting(SimulatedChannel):
    """Dies (like a killed process) right after the platform accepted the n-th post."""

    crash_at = 5
    count = 0

    def send(self, message: OutgoingMessage) -> SentPost:
        post = super().send(message)
        type(self).count += 1
        if type(self).count == type(self).crash_at:
            raise KeyboardInterrupt("simulated kill between post and record")
        return post


class CrashBeforePosting(SimulatedChannel):
    """Dies after the intent is recorded but before anything reaches the platform."""

    crash_at = 5
    count = 0

    def send(self, message: OutgoingMessage) -> SentPost:
        type(self).count += 1
        if type(self).count == type(self).crash_at:
            raise KeyboardInterrupt("simulated kill before posting")
        return super().send(message)


@pytest.mark.parametrize("crashing", [CrashAfterPosting, CrashBeforePosting])
def test_a_send_interrupted_by_a_crash_is_settled_against_the_platform(
        small_scenario: Scenario, tmp_path: Path, crashing: type[SimulatedChannel]) -> None:
    run_in_process(small_scenario, tmp_path / "whole")
    folder = tmp_path / "crashed"
    crashing.count = 0  # type: ignore[attr-defined]
    with pytest.raises(KeyboardInterrupt):
        run_in_process(small_scenario, folder, adapter=crashing)
    db = sqlite3.connect(folder / "run.sqlite")
    assert db.execute("SELECT COUNT(*) FROM sends WHERE state = 'intended'").fetchone()[0] == 1
    db.close()
    assert run_in_process(small_scenario, folder)
    assert export_rows(folder) == export_rows(tmp_path / "whole")
    posts = journal_posts(folder)
    assert len(posts) == len(set(posts))


class Unfindable(CrashAfterPosting):
    """A platform that cannot be asked whether a post went out."""

    crash_at = 2

    def find_post(self, message: OutgoingMessage) -> SentPost | None:
        raise NotImplementedError

    @property
    def can_find_posts(self) -> bool:
        return False


def test_an_unknown_send_is_marked_uncertain_and_never_resent(
        small_scenario: Scenario, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Unfindable.count = 0
    with pytest.raises(KeyboardInterrupt):
        run_in_process(small_scenario, tmp_path, adapter=Unfindable)
    Unfindable.count = -10_000  # no more crashes
    assert run_in_process(small_scenario, tmp_path, adapter=Unfindable)
    rows = export_rows(tmp_path)
    uncertain = [r for r in rows if r["status"] == "uncertain"]
    assert len(uncertain) == 1
    posts = journal_posts(tmp_path)
    assert len(posts) == len(set(posts))  # posted once, before the crash; never again
    from harness.cli import main

    assert main(["status", str(tmp_path)]) == 0
    shown = capsys.readouterr().out
    assert "uncertain:  1" in shown and str(uncertain[0]["probe_id"]) in shown


class Flaky(SimulatedChannel):
    """Fails in the ways platforms do, for chosen probes."""

    transient: ClassVar[set[str]] = set()
    denied: ClassVar[set[str]] = set()
    limited_once = True
    calls: ClassVar[list[tuple[str, datetime]]] = []
    reset_at: datetime | None = None

    def send(self, message: OutgoingMessage) -> SentPost:
        now = self.context.clock.now()
        type(self).calls.append((message.probe_id, now))
        if message.probe_id in self.transient:
            self.transient.discard(message.probe_id)
            raise TransientError("503 Service Unavailable")
        if message.probe_id in self.denied:
            raise AccessDenied("403 Forbidden")
        if type(self).limited_once and message.step == 0 and len(type(self).calls) == 3:
            type(self).limited_once = False
            type(self).reset_at = now + timedelta(minutes=30)
            raise RateLimited("429 Too Many Requests", reset_at=type(self).reset_at)
        return super().send(message)

    def poll(self, cursor: str | None) -> PollResult:
        return super().poll(cursor)


def test_platform_errors_are_retried_denied_or_waited_out(small_scenario: Scenario,
                                                          tmp_path: Path) -> None:
    from harness.plan.expand import build_plan

    plan = build_plan(small_scenario)
    Flaky.transient = {plan[0].probe_id}
    Flaky.denied = {plan[5].probe_id}
    Flaky.calls = []
    Flaky.limited_once = True
    assert run_in_process(small_scenario, tmp_path, adapter=Flaky)
    rows = {r["probe_id"]: r for r in export_rows(tmp_path)}
    assert rows[plan[0].probe_id]["status"] == "closed"  # retried after the 503
    assert rows[plan[5].probe_id]["status"] == "failed"  # 403 is not retried
    assert sum(1 for pid, _ in Flaky.calls if pid == plan[5].probe_id) == 1
    retry_times = [t for pid, t in Flaky.calls if pid == plan[0].probe_id]
    assert len(retry_times) == 2 and retry_times[1] - retry_times[0] == timedelta(minutes=1)
    # after the 429, nothing is sent on the channel before its reset time
    limited_at = Flaky.calls[2][1]
    assert Flaky.reset_at is not None
    assert not [t for _, t in Flaky.calls[3:] if limited_at <= t < Flaky.reset_at]
    assert rows[Flaky.calls[2][0]]["status"] == "closed"
    posts = journal_posts(tmp_path)
    assert len(posts) == len(set(posts))


@pytest.fixture(scope="module")
def replay_exports(tmp_path_factory: pytest.TempPathFactory) -> dict[int, list[dict[str, Any]]]:
    scenario = load_scenario(REPLAY)
    exports = {}
    for seed in (2013, 1, 2):
        folder = tmp_path_factory.mktemp(f"replay{seed}")
        run_in_process(scenario.model_copy(update={"seed": seed}), folder)
        exports[seed] = export_rows(folder)
    return exports


def test_simulated_replay_lands_near_the_published_results(
        replay_exports: dict[int, list[dict[str, Any]]]) -> None:
    for seed, rows in replay_exports.items():
        answered = [r for r in rows if r["responded"]]
        assert 28 <= len(answered) <= 55, (seed, len(answered))  # published: 40 of 280
        without_at = [r for r in answered if r["mention"] == "name"]
        assert len(without_at) <= 8, seed  # published: 3 of 140
        assert {r["brand"] for r in without_at} <= {"bankofamerica", "homedepot"}
        brands = {r["brand"] for r in answered}
        assert not brands & {"starbucks", "visa", "apple"}, seed


def test_simulated_replay_keeps_the_fast_and_slow_brands_apart(
        replay_exports: dict[int, list[dict[str, Any]]]) -> None:
    latencies: dict[str, list[int]] = {}
    for rows in replay_exports.values():
        for row in rows:
            if row["responded"]:
                latencies.setdefault(row["brand"], []).append(int(row["latency_s"]))

    def mean_hours(brand: str) -> float:
        return sum(latencies[brand]) / len(latencies[brand]) / 3600

    assert mean_hours("pepsi") < 1 and mean_hours("mastercard") < 1.5
    assert mean_hours("mcdonalds") > 12 and mean_hours("hp") > 12


STRANGER = "@nosy_neighbour"
COMPETITOR = "@FastCo"  # Fast Co's own account, chiming in under messages to Mute Inc


class Bystanders(SimulatedChannel):
    """The simulated platform with bystanders in the threads: a stranger answers every first
    message publicly five minutes after it (before any brand could), and Fast Co's official
    account answers every message to Mute Inc an hour after it."""

    def __init__(self, config: Channel, context: ChannelContext) -> None:
        super().__init__(config, context)
        for post in list(self.sim.posts.values()):  # replayed from the journal on a resume
            self._bystanders_answer(post)

    def send(self, message: OutgoingMessage) -> SentPost:
        sent = super().send(message)
        post = self.sim.find(message.probe_id, message.step)
        assert post is not None
        self._bystanders_answer(post)
        return sent

    def _bystanders_answer(self, post: Post) -> None:
        if post.step != 0:
            return
        voices = [(STRANGER, timedelta(minutes=5), "Same here! Did they ever answer you?")]
        if post.brand == "mute":
            voices.append((COMPETITOR, timedelta(hours=1), "We deliver on Sundays, try us!"))
        for number, (author, delay, text) in enumerate(voices):
            event = Event(post.created_at + delay, f"{post.platform_id}-b{number}", post,
                          author, "public_reply", text, False)
            bisect.insort(self.sim.events, (event.created_at, event.platform_id, event))


def _run_watched(scenario: Scenario, folder: Path, adapter: type[SimulatedChannel],
                 stats: list[RunStats], stop_after_ticks: int | None = None) -> RunResult:
    def watch(runner: Runner) -> None:
        stats.append(runner.stats)
        ticks = [0]

        def tick(**_: object) -> None:
            ticks[0] += 1
            if stop_after_ticks is not None and ticks[0] >= stop_after_ticks:
                runner.stop_requested = True

        runner.events.tick.add_listener(tick)

    return simulate(scenario, folder, adapter=adapter, on_runner=watch)


def _summary_of(folder: Path, scenario: Scenario) -> tuple[dict[str, Any], dict[str, int]]:
    store = Store.open(folder / "run.sqlite")
    try:
        return (json.loads(json.dumps(summarize(from_store(store), scenario).to_json())),
                store.counts())
    finally:
        store.close()


def test_a_bystanders_reply_in_the_thread_is_kept_labelled_and_never_counts_as_the_brands(
        small_scenario: Scenario, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plain_stats: list[RunStats] = []
    crowded_stats: list[RunStats] = []
    plain = _run_watched(small_scenario, tmp_path / "plain", SimulatedChannel, plain_stats)
    crowded = _run_watched(small_scenario, tmp_path / "crowded", Bystanders, crowded_stats)
    assert plain.finished and crowded.finished
    mute_probes = [p for p in build_plan(small_scenario) if p.brand == "mute"]
    assert len(mute_probes) == 10

    # stored, matched to the probe whose thread they are in, and labelled as not the brand's
    store = Store.open(tmp_path / "crowded" / "run.sqlite")
    try:
        voices = [r for r in store.replies() if r.platform_id.rsplit("-", 1)[-1][0] == "b"]
    finally:
        store.close()
    assert len(voices) == 40 + len(mute_probes)
    for reply in voices:
        assert reply.platform_id.startswith(f"x-{reply.probe_id}-s0-b")
        assert (reply.step, reply.matched_by, reply.from_brand, reply.automated,
                reply.kind) == (0, "in_reply_to", False, False, "public_reply")
    assert {r.author for r in voices if r.probe_id in {p.probe_id for p in mute_probes}} == {
        STRANGER, COMPETITOR}
    assert {r.author for r in voices} == {STRANGER, COMPETITOR}

    # the export: the same as without bystanders, but for the other replies it counts
    extra = {p.probe_id: 2 for p in mute_probes}
    expected = [{**row, "other_replies": int(str(row["other_replies"]))
                 + extra.get(str(row["probe_id"]), 1)}
                for row in export_rows(tmp_path / "plain")]
    crowded_rows = export_rows(tmp_path / "crowded")
    assert crowded_rows == expected
    for row in crowded_rows:
        if row["brand"] == "mute":
            assert (row["status"], row["responded"], row["late"], row["brand_replies"],
                    row["first_reply_at"], row["latency_s"], row["follow_ups_sent"],
                    row["level"], row["other_replies"]) == (
                "closed", False, False, 0, None, None, 0, 0, 2)
    # no follow-up went after a bystander's reply: the same posts, no more
    assert sorted(journal_posts(tmp_path / "crowded")) == sorted(
        journal_posts(tmp_path / "plain"))

    # the summary's rates, the store's counts and the run's result
    plain_summary, plain_counts = _summary_of(tmp_path / "plain", small_scenario)
    crowded_summary, crowded_counts = _summary_of(tmp_path / "crowded", small_scenario)
    assert crowded_summary == plain_summary
    mute_row = next(r for r in crowded_summary["leaderboard"] if r["brand"] == "mute")
    assert (mute_row["k"], mute_row["n"], mute_row["tier"]) == (0, 10, "no response")
    assert crowded_counts == plain_counts
    assert crowded.answered == plain.answered == plain_counts["answered"]
    assert plain.answered == sum(1 for r in expected if r["responded"])

    # the runner's own counters: every reply seen, only the brands' counted as theirs
    (plain_run,), (crowded_run,) = plain_stats, crowded_stats
    assert crowded_run.brand_replies == plain_run.brand_replies
    assert crowded_run.answered == plain_run.answered == plain.answered
    assert crowded_run.replies == plain_run.replies + len(voices)
    assert crowded_run.closed == plain_run.closed == 40

    # `shopper status` counts replied probes alike
    def replied(folder: Path) -> list[str]:
        assert main(["status", str(folder)]) == 0
        return [line for line in capsys.readouterr().out.splitlines() if "replied" in line]

    assert replied(tmp_path / "crowded") == replied(tmp_path / "plain")

    # resumed from the store again and again, the runner still never counts them
    folder = tmp_path / "pieces"
    pieces: list[RunStats] = []
    while not _run_watched(small_scenario, folder, Bystanders, pieces, stop_after_ticks=7
                           ).finished:
        assert len(pieces) < 500
    assert len(pieces) > 5
    assert export_rows(folder) == crowded_rows
    assert pieces[-1].brand_replies == plain_run.brand_replies
    assert pieces[-1].replies == crowded_run.replies


def test_a_reply_from_an_account_that_is_not_the_probes_brand_is_not_the_brands() -> None:
    from harness.session.scenarios import load_scenario_text

    from .conftest import SMALL

    roster = Roster.from_scenario(load_scenario_text(SMALL, "small.yaml"))
    index = MatchIndex()
    sent = datetime(2024, 3, 4, 10, tzinfo=UTC)
    index.add_post("p-mute", "probe-mute", 0, sent, "x", "ana", "mute")
    index.add_post("p-fast", "probe-fast", 0, sent, "x", "ana", "fast")

    def reply(author: str, in_reply_to: str | None, minutes: int) -> IncomingReply:
        return IncomingReply(f"r-{author}-{minutes}", sent + timedelta(minutes=minutes),
                             author, "public_reply", "hello", in_reply_to=in_reply_to,
                             to_account="@ana")

    found = {name: index.match("x", r, roster) for name, r in {
        "the brand": reply("@muteinc", "p-mute", 1),
        "a stranger": reply(STRANGER, "p-mute", 2),
        "another brand": reply("@BankPlcHelp", "p-mute", 3),
        "the brand, by recency": reply("@FastCo", None, 4),
        "a stranger's DM": reply(STRANGER, None, 5),
    }.items()}
    assert {name: (m.probe_id, m.matched_by, m.from_brand) for name, m in found.items()} == {
        "the brand": ("probe-mute", "in_reply_to", True),
        "a stranger": ("probe-mute", "in_reply_to", False),
        "another brand": ("probe-mute", "in_reply_to", False),
        "the brand, by recency": ("probe-fast", "recent_probe", True),
        "a stranger's DM": (None, "none", False),
    }
    record = index.record("x", reply(STRANGER, "p-mute", 6), roster, sent + timedelta(hours=1))
    assert (record.probe_id, record.author, record.from_brand) == ("probe-mute", STRANGER,
                                                                   False)
