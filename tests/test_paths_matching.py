"""Matching by recency (``matched_by = "recent_probe"``): a brand's message that carries no
thread reference (no in_reply_to, no known conversation: a direct message, an email without
threading headers) is credited to the persona's latest message to that brand on that channel
sent before it, and to nothing when there is none or when its author is no official handle of
a brand.

First :class:`MatchIndex` itself, then a live race on the fake X, whose direct messages carry
only a DM conversation id that is no post of ours.
"""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from harness.channels.base import IncomingReply
from harness.runner.loop import Runner
from harness.runner.matching import Match, MatchIndex
from harness.runner.roster import Roster
from harness.session.runs import execute
from harness.session.scenarios import load_scenario_text
from harness.store.sqlite import Store
from tests.fakes import fake_x
from tests.fakes.race import START, Operator, new_world, scenario_yaml
from tests.fakes.world import Post, World
from tests.simrun import export_rows

ROSTER = Roster.from_scenario(load_scenario_text(textwrap.dedent("""\
    name: matching
    timezone: UTC
    personas:
      - {id: ana, name: Ana, accounts: {x: "@ana", masto: "@ana@social.test"}}
      - {id: ben, name: Ben, accounts: {x: "@ben", masto: "@ben@social.test"}}
    channels:
      - {id: x, adapter: simulated, platform: x}
      - {id: masto, adapter: simulated, platform: mastodon}
    brands:
      - {id: fast, name: Fast Co, industry: Retail,
         handles: {x: ["@FastCo"], masto: ["@fastco@brand.test"]}}
      - {id: bank, name: Bank Plc, industry: Banking,
         handles: {x: ["@BankPlc", "@BankPlcHelp"], masto: ["@bank@brand.test"]}}
    categories:
      - {id: question, label: Question, templates: ["{{ mention }} do you deliver?"]}
    schedule: {start: 2024-03-04, weeks: 1, observation_window: 1d}
    """), "matching.yaml"))

DAY = datetime(2024, 3, 4, tzinfo=UTC)


def at(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return DAY + timedelta(hours=hour, minutes=minute, seconds=second)


def dm(author: str, created_at: datetime, *, to: str = "@ana", platform_id: str = "dm-1",
       in_reply_to: str | None = None, conversation_id: str | None = None) -> IncomingReply:
    """A message with no thread reference (unless given)."""
    return IncomingReply(platform_id=platform_id, created_at=created_at, author=author,
                         kind="direct_message", text="Please DM us your order number",
                         in_reply_to=in_reply_to, conversation_id=conversation_id,
                         to_account=to)


@pytest.fixture
def index() -> MatchIndex:
    """On x, Ana wrote to Fast Co at 9:00 and 11:00 and to Bank Plc at 10:00, Ben to Fast Co
    at 12:00; on masto, Ana wrote to Fast Co at 11:30."""
    index = MatchIndex()
    index.add_post("x-1", "p-ana-fast-1", 0, at(9), "x", "ana", "fast")
    index.add_post("x-2", "p-ana-bank-1", 0, at(10), "x", "ana", "bank")
    index.add_post("x-3", "p-ana-fast-2", 0, at(11), "x", "ana", "fast")
    index.add_post("x-4", "p-ben-fast-1", 0, at(12), "x", "ben", "fast")
    index.add_post("m-1", "p-ana-fast-m", 0, at(11, 30), "masto", "ana", "fast")
    return index


def test_a_brand_dm_is_credited_to_the_personas_latest_earlier_probe_to_that_brand(
        index: MatchIndex) -> None:
    match = index.match("x", dm("@FastCo", at(13)), ROSTER)
    # not Ben's later probe to Fast Co, not Ana's later one on masto, not her Bank Plc one
    assert match == Match("p-ana-fast-2", 0, "recent_probe", True)


def test_with_two_earlier_probes_the_dm_between_them_goes_to_the_first(
        index: MatchIndex) -> None:
    assert index.match("x", dm("@FastCo", at(10, 59, 59)), ROSTER) == Match(
        "p-ana-fast-1", 0, "recent_probe", True)
    # a reply stamped the very second of the second probe already follows it
    assert index.match("x", dm("@FastCo", at(11), platform_id="dm-2"), ROSTER) == Match(
        "p-ana-fast-2", 0, "recent_probe", True)


def test_probes_are_told_apart_by_channel_persona_and_brand(index: MatchIndex) -> None:
    assert index.match("masto", dm("@fastco@brand.test", at(13), to="@ana@social.test"),
                       ROSTER) == Match("p-ana-fast-m", 0, "recent_probe", True)
    assert index.match("x", dm("@FastCo", at(13), to="@ben", platform_id="dm-b"),
                       ROSTER) == Match("p-ben-fast-1", 0, "recent_probe", True)
    # any official handle of the brand, written in any case
    assert index.match("x", dm("@bankplchelp", at(10, 30), platform_id="dm-bank"),
                       ROSTER) == Match("p-ana-bank-1", 0, "recent_probe", True)


def test_the_latest_earlier_message_may_be_a_follow_up(index: MatchIndex) -> None:
    index.add_post("x-3f", "p-ana-fast-2", 1, at(11, 20), "x", "ana", "fast")
    assert index.match("x", dm("@FastCo", at(11, 25)), ROSTER) == Match(
        "p-ana-fast-2", 1, "recent_probe", True)


def test_a_reply_created_before_any_probe_to_that_brand_is_unmatched(
        index: MatchIndex) -> None:
    assert index.match("x", dm("@FastCo", at(8, 59, 59)), ROSTER) == Match(
        None, None, "none", True)
    # Ana's first Bank Plc probe is at 10:00; her Fast Co probe at 9:00 is no excuse
    assert index.match("x", dm("@BankPlc", at(9, 30)), ROSTER) == Match(
        None, None, "none", True)
    # Ben wrote to Fast Co only at 12:00
    assert index.match("x", dm("@FastCo", at(11, 59), to="@ben"), ROSTER) == Match(
        None, None, "none", True)
    # nobody: on a channel where nothing was sent
    assert MatchIndex().match("x", dm("@FastCo", at(13)), ROSTER) == Match(
        None, None, "none", True)


def test_a_reply_without_a_reference_from_someone_who_is_no_brand_is_unmatched(
        index: MatchIndex) -> None:
    for author in ("@nosy_neighbour", "@ana", "@ben", "FastCo_fan", ""):
        assert index.match("x", dm(author, at(13)), ROSTER) == Match(
            None, None, "none", False), author
    # a brand's handle on another channel is no brand's handle here
    assert index.match("x", dm("@fastco@brand.test", at(13)), ROSTER) == Match(
        None, None, "none", False)


def test_a_dm_to_an_account_that_is_no_personas_is_unmatched(index: MatchIndex) -> None:
    for to in ("@someone_else", None):
        reply = dm("@FastCo", at(13))._replace(to_account=to)
        assert index.match("x", reply, ROSTER) == Match(None, None, "none", True)


def test_references_win_over_recency_and_unknown_ones_fall_back_to_it(
        index: MatchIndex) -> None:
    # the platform says it answers the 9:00 probe: recency (11:00) does not override that
    assert index.match("x", dm("@FastCo", at(13), in_reply_to="x-1"), ROSTER) == Match(
        "p-ana-fast-1", 0, "in_reply_to", True)
    assert index.match("x", dm("@FastCo", at(13), platform_id="dm-c", conversation_id="x-1"),
                       ROSTER) == Match("p-ana-fast-1", 0, "conversation", True)
    # a DM conversation id is no post of ours: recency decides
    assert index.match("x", dm("@FastCo", at(13), platform_id="dm-d",
                               conversation_id="1111-2222"), ROSTER) == Match(
        "p-ana-fast-2", 0, "recent_probe", True)


def test_a_reply_to_a_dm_credited_by_recency_follows_it_to_the_same_probe(
        index: MatchIndex) -> None:
    assert index.match("x", dm("@FastCo", at(11, 10), platform_id="dm-1"), ROSTER).probe_id \
        == "p-ana-fast-2"
    index.add_post("x-5", "p-ana-fast-3", 0, at(14), "x", "ana", "fast")
    # later the brand answers its own DM: still the 11:00 probe, not the 14:00 one
    assert index.match("x", dm("@FastCo", at(15), platform_id="dm-9", in_reply_to="dm-1"),
                       ROSTER) == Match("p-ana-fast-2", 0, "in_reply_to", True)


def test_the_stored_record_says_how_it_was_matched(index: MatchIndex) -> None:
    record = index.record("x", dm("@FastCo", at(13)), ROSTER, received_at=at(13, 5))
    assert (record.probe_id, record.step, record.matched_by, record.from_brand,
            record.kind, record.created_at, record.received_at) == (
        "p-ana-fast-2", 0, "recent_probe", True, "direct_message", at(13), at(13, 5))
    stray = index.record("x", dm("@nosy", at(13), platform_id="dm-n"), ROSTER, at(13, 5))
    assert (stray.probe_id, stray.step, stray.matched_by, stray.from_brand) == (
        None, None, "none", False)


# -- end to end: direct messages on the fake X ---------------------------------------------


def _one_persona_two_probes(url: str) -> str:
    """Ana asks Acme twice in one day (09:58:22 and 15:55:31, by name): Acme answers each
    publicly after 2 h and sends a DM a minute after each public answer."""
    scenario = yaml.safe_load(scenario_yaml(fake_x.kit(url), days=1, per_day=2, window="3h"))
    scenario["personas"] = [p for p in scenario["personas"] if p["id"] == "ana"]
    for channel in scenario["channels"]:  # credentials for Ana alone: the others are gone
        for key, value in channel["settings"].items():
            if isinstance(value, dict) and "ben" in value:
                channel["settings"][key] = {"ana": value["ana"]}
    scenario["brands"] = [b for b in scenario["brands"] if b["id"] == "acme"]
    scenario["categories"] = [c for c in scenario["categories"] if c["id"] == "question"]
    return yaml.safe_dump(scenario, sort_keys=False)


def test_direct_messages_on_x_are_credited_by_recency_end_to_end(tmp_path: Path) -> None:
    world: World = new_world(fake_x.kit())
    ana = world.by_handle(fake_x.PERSONA_HANDLES["ana"])
    acme = world.by_handle(fake_x.BRAND_HANDLES["acme"])
    assert ana is not None and acme is not None
    nosy = world.account("nosy_neighbour", "Nosy Neighbour")
    # a DM from Acme hours before Ana ever wrote to it (a marketing blast)
    early = world.post(acme, "Spring sale! 20% off", kind="dm", to=ana)
    assert early.created_at == START
    strangers: list[Post] = []

    def a_stranger_writes_after_the_last_probe(runner: Runner) -> None:
        def sent(probe_id: str, step: int, **_: object) -> None:
            if probe_id == "2025-03-03-acme-2":
                strangers.append(world.post(nosy, "same problem here, DM me", kind="dm",
                                            to=ana))

        runner.events.sent.add_listener(sent)

    folder = tmp_path / "run"
    with fake_x.serve(world) as fake:
        scenario = load_scenario_text(_one_persona_two_probes(fake.server.url), "dm.yaml")
        result = execute(scenario, folder, live=True, clock=world.clock,
                         environ=fake.kit.environ, operator=Operator(), caps=(None, None),
                         on_runner=a_stranger_writes_after_the_last_probe)
        assert result.finished
        store = Store.open(folder / "run.sqlite")
        try:
            ours = {fake.world_id(s.platform_id or ""): s.probe_id
                    for s in store.sends() if s.state == "sent"}
            replies = {fake.world_id(r.platform_id): r for r in store.replies()}
        finally:
            store.close()
    assert sorted(ours.values()) == ["2025-03-03-acme-1", "2025-03-03-acme-2"]
    dms = [r for r in world.reactions if r.kind == "dm"]
    public = [r for r in world.reactions if r.kind == "post"]
    assert len(dms) == 2 and len(public) == 2  # Acme answered each probe, then sent a DM
    assert len(strangers) == 1
    expected: dict[str, tuple[str | None, int | None, str, bool]] = {
        early.id: (None, None, "none", True),
        strangers[0].id: (None, None, "none", False)}
    for reaction in public:
        expected[reaction.post_id] = (ours[reaction.answers], 0, "in_reply_to", True)
    for reaction in dms:  # each DM after its own probe's answer: the later one to the later
        expected[reaction.post_id] = (ours[reaction.answers], 0, "recent_probe", True)
    assert {pid: (r.probe_id, r.step, r.matched_by, r.from_brand)
            for pid, r in replies.items()} == expected
    assert {r.kind for r in replies.values() if r.matched_by == "recent_probe"} == {
        "direct_message"}
    # the export: each probe answered, and moved to DM
    rows = export_rows(folder)
    assert [(r["probe_id"], r["responded"], r["brand_replies"], r["direct_message"])
            for r in rows] == [("2025-03-03-acme-1", True, 2, True),
                               ("2025-03-03-acme-2", True, 2, True)]
