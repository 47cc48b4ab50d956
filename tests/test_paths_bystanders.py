"""Bystander replies: someone who is not one of the brand's official handles replies in a
probe's thread. The reply is kept (matched to the probe, ``from_brand`` false, counted in the
export's ``other_replies``) and never counts as the brand's response: not for the latency, not
for "responded", not to trigger a follow-up, not in the summary or the run's tally.

A live race on the fake X, in a world with a bystander who replies a minute after every first
message (before any brand does), plus :class:`MatchIndex` on its own.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from contextlib import redirect_stdout
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from harness.analysis.outcomes import from_store
from harness.analysis.summary import summarize
from harness.channels.base import IncomingReply
from harness.cli import main
from harness.runner.matching import Match, MatchIndex
from harness.runner.roster import Roster
from harness.scenario.model import Scenario
from harness.session.scenarios import load_scenario_text
from harness.store.sqlite import Store
from tests.fakes import fake_x
from tests.fakes.bystanders import Crowd, new_crowd
from tests.fakes.race import run_race, scenario_yaml

NOSY = "nosy_neighbour"
HELPFUL_TEXT = "have you tried turning it off and on again?"


def test_a_bystander_in_the_thread_is_matched_to_the_probe_but_not_as_the_brand(
        small_scenario: Scenario) -> None:
    roster = Roster.from_scenario(small_scenario)
    sent = datetime(2024, 3, 4, 9, tzinfo=UTC)
    index = MatchIndex()
    index.add_post("x-1", "p-fast", 0, sent, "x", "ana", "fast")

    def reply(author: str, platform_id: str) -> IncomingReply:
        return IncomingReply(platform_id=platform_id, created_at=sent + timedelta(minutes=1),
                             author=author, kind="public_reply", text=HELPFUL_TEXT,
                             in_reply_to="x-1", conversation_id="x-1", to_account="@ana")

    assert index.match("x", reply("@nosy_neighbour", "r-1"), roster) == Match(
        "p-fast", 0, "in_reply_to", False)
    # another brand's official account chiming in is no answer from this brand either
    assert index.match("x", reply("@SlowLtd", "r-2"), roster) == Match(
        "p-fast", 0, "in_reply_to", False)
    # the other persona, too
    assert index.match("x", reply("@ben", "r-3"), roster) == Match(
        "p-fast", 0, "in_reply_to", False)
    assert index.match("x", reply("@fastco", "r-4"), roster) == Match(
        "p-fast", 0, "in_reply_to", True)
    record = index.record("x", reply("@nosy_neighbour", "r-5"), roster, sent)
    assert (record.probe_id, record.from_brand, record.automated) == ("p-fast", False, False)


@pytest.fixture(scope="module")
def race(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The small live race for two days on the fake X, with a bystander in every thread."""
    folder = tmp_path_factory.mktemp("bystanders") / "run"
    world: Crowd = new_crowd(fake_x.kit())
    world.bystander(NOSY, "Nosy Neighbour", after=timedelta(minutes=1), text=HELPFUL_TEXT)
    with fake_x.serve(world) as fake:
        result = run_race(fake.kit, world, folder, days=2, window="4h")
        store = Store.open(folder / "run.sqlite")
        try:
            sends = {(s.probe_id, s.step): s for s in store.sends() if s.state == "sent"}
            by_world_id = {fake.world_id(s.platform_id or ""): key for key, s in sends.items()}
            replies = store.replies()
            outcomes = from_store(store)
            counts = store.counts()
        finally:
            store.close()
        reactions = list(world.reactions)
        bystanders = world.by_bystanders()
        world_ids = {r.platform_id: fake.world_id(r.platform_id) for r in replies}
        scenario = load_scenario_text(scenario_yaml(fake.kit, days=2, window="4h"), "r.yaml")
    return {"folder": folder, "result": result, "sends": sends, "by_world_id": by_world_id,
            "replies": replies, "outcomes": outcomes, "counts": counts,
            "reactions": reactions, "bystanders": bystanders, "world_ids": world_ids,
            "scenario": scenario}


def test_every_bystander_reply_is_stored_matched_and_marked_not_from_the_brand(
        race: dict[str, Any]) -> None:
    assert race["result"].finished
    first_messages = [key for key in race["sends"] if key[1] == 0]
    assert len(first_messages) == 6 and len(race["bystanders"]) == 6  # one in every thread
    theirs = [r for r in race["replies"] if r.author == f"@{NOSY}"]
    assert len(theirs) == 6
    for reply in theirs:
        assert (reply.from_brand, reply.automated, reply.matched_by, reply.kind) == (
            False, False, "in_reply_to", "public_reply")
        assert reply.text.startswith("@") and reply.text.endswith(" " + HELPFUL_TEXT)
        assert (reply.probe_id, reply.step) in race["sends"]
        sent = race["sends"][(reply.probe_id, reply.step)]
        assert reply.created_at == sent.sent_at.replace(microsecond=0) + timedelta(minutes=1)
    assert {(r.probe_id, r.step) for r in theirs} == set(first_messages)
    # every other reply is the brands' own, and marked so
    assert all(r.from_brand for r in race["replies"] if r.author != f"@{NOSY}")


def test_a_bystander_never_counts_as_the_brands_response(race: dict[str, Any]) -> None:
    brand_answers: dict[str, timedelta] = {}
    for reaction in race["reactions"]:
        if reaction.brand == NOSY or reaction.kind != "post":
            continue
        probe_id, step = race["by_world_id"][reaction.answers]
        if step == 0:
            brand_answers.setdefault(probe_id, reaction.delay)
    assert brand_answers, "some brand answered"
    rows = {o.probe.probe_id: o for o in race["outcomes"]}
    assert len(rows) == 6
    for probe_id, outcome in rows.items():
        assert outcome.other_replies == 1, probe_id
        answered = brand_answers.get(probe_id)
        if answered is None:  # only the bystander answered: unanswered
            assert (outcome.responded, outcome.latency_s, outcome.first_reply_at,
                    outcome.brand_replies, outcome.level()) == (False, None, None, 0, 0)
        else:  # the brand's answer, not the bystander's a minute after the post
            assert outcome.responded and outcome.latency_s == int(answered.total_seconds())
            assert outcome.latency_s > 60
    unanswered = [p for p in rows if p not in brand_answers]
    assert {rows[p].probe.brand for p in unanswered} >= {"initech"}
    # the run's tally and the summary count only brand answers
    assert race["counts"]["answered"] == len(brand_answers)
    assert race["result"].answered == len(brand_answers)
    summary = summarize(race["outcomes"], race["scenario"])
    assert summary.headline.answered.k == len(brand_answers)
    board = {entry.brand: (entry.answered.k, entry.answered.n) for entry in summary.leaderboard}
    assert board["initech"] == (0, 2)


def test_a_bystander_reply_does_not_trigger_the_follow_up(race: dict[str, Any]) -> None:
    follow_ups = {key: s for key, s in race["sends"].items() if key[1] == 1}
    technical = {o.probe.probe_id: o for o in race["outcomes"]
                 if o.probe.category == "technical"}
    assert technical
    for probe_id, outcome in technical.items():
        replies = [r for r in race["replies"] if r.probe_id == probe_id and r.step == 0]
        brand = sorted((r for r in replies if r.from_brand and r.kind == "public_reply"),
                       key=lambda r: r.created_at)
        follow_up = follow_ups.get((probe_id, 1))
        if not brand:  # only the bystander replied in the thread
            assert follow_up is None and outcome.follow_ups_sent == 0, probe_id
        else:  # sent 10 minutes after the brand's reply, in answer to it
            assert follow_up is not None and follow_up.in_reply_to == brand[0].platform_id
            assert follow_up.intended_at == brand[0].created_at + timedelta(minutes=10)
    assert any(o.follow_ups_sent == 0 and o.other_replies for o in technical.values())


def test_the_export_and_status_show_bystanders_apart(race: dict[str, Any]) -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["export", str(race["folder"]), "--format", "json"]) == 0
    rows = json.loads(out.getvalue())
    assert Counter(r["other_replies"] for r in rows) == Counter({1: 6})
    initech = [r for r in rows if r["brand"] == "initech"]
    assert [(r["responded"], r["brand_replies"], r["latency_s"], r["first_reply_at"],
             r["level"]) for r in initech] == [(False, 0, None, None, 0)] * 2
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["status", str(race["folder"])]) == 0
    answered = sum(r["responded"] for r in rows)
    assert f"answered:   {answered} (a brand reply within the window)" in out.getvalue()
    assert answered < 6
