"""The Mastodon adapter through the real Mastodon.py against a fake Mastodon on loopback."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from harness.channels.base import ChannelContext, OutgoingMessage
from harness.channels.mastodon import MastodonChannel, plain_text, same_text
from harness.clock import VirtualClock
from harness.errors import (
    AccessDenied,
    AuthenticationFailed,
    ChannelError,
    NotConfigured,
    RateLimited,
    ScenarioError,
    TransientError,
)
from harness.session.scenarios import load_scenario_text
from harness.store.sqlite import Store
from tests.fakes import fake_mastodon
from tests.fakes.fake_mastodon import FakeMastodon
from tests.fakes.http import FakeServer
from tests.fakes.platform import RESET_AFTER_S, Failure, Operation
from tests.fakes.race import (
    START,
    Operator,
    check_against_world,
    new_world,
    run_race,
    scenario_yaml,
)
from tests.fakes.world import World

ACME_AT = "@AcmeHelp do you deliver on Sundays?"
ACME_ANSWERS = timedelta(minutes=7, seconds=13)  # as tests/fakes/race.py scripts Acme


@dataclass
class Race:
    fake: FakeMastodon
    world: World
    folder: Path


@pytest.fixture(scope="module")
def race(tmp_path_factory: pytest.TempPathFactory) -> Race:
    """The small live race (2 personas x 3 brands x 5 days, polling every 10 min), run once."""
    folder = tmp_path_factory.mktemp("mastodon") / "run"
    world = new_world(fake_mastodon.kit())
    with fake_mastodon.serve(world) as fake:
        assert run_race(fake.kit, world, folder).finished
    return Race(fake, world, folder)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    """One loopback server for the module's small tests (each gets a fresh fake on it)."""
    with FakeServer(VirtualClock(START)) as running:
        yield running


@pytest.fixture
def fake(server: FakeServer) -> FakeMastodon:
    """A fake Mastodon with the race's personas and brands, at the race's start."""
    return fake_mastodon.attach(server, new_world(fake_mastodon.kit()))


def adapter(fake: FakeMastodon, tmp_path: Path, *, environ: dict[str, str] | None = None,
            unchecked: dict[str, Any] | None = None, **settings: Any) -> MastodonChannel:
    """The adapter as a live run builds it for the race's scenario, with ``settings`` added
    (and ``unchecked`` settings added after the scenario's validation)."""
    kit = replace(fake.kit, settings={**fake.kit.settings, **settings})
    scenario = load_scenario_text(scenario_yaml(kit), "live-race.yaml")
    if unchecked:
        channel = scenario.channels[0]
        channel = channel.model_copy(update={"settings": {**channel.settings, **unchecked}})
        scenario = scenario.model_copy(update={"channels": [channel]})
    context = ChannelContext(clock=fake.world.clock, state_dir=tmp_path, seed=1,
                             personas=scenario.personas, brands=scenario.brands,
                             timezone="UTC",
                             environ=fake.kit.environ if environ is None else environ)
    return MastodonChannel(scenario.channels[0], context)


def message(text: str = ACME_AT, *, persona: str = "ana", step: int = 0,
            in_reply_to: str | None = None, not_before: datetime | None = None,
            probe_id: str = "p1") -> OutgoingMessage:
    return OutgoingMessage(
        probe_id=probe_id, step=step, persona_id=persona,
        persona_account=fake_mastodon.kit().persona_handles[persona], brand_id="acme",
        brand_handles=("@AcmeHelp",), mention="at", category="question", text=text,
        in_reply_to=in_reply_to, not_before=not_before)


def later(world: World, **delta: float) -> None:
    world.clock.sleep_until(world.clock.now() + timedelta(**delta))


def sent_posts(folder: Path) -> dict[tuple[str, int], str]:
    store = Store.open(folder / "run.sqlite")
    try:
        return {(s.probe_id, s.step): s.platform_id for s in store.sends()
                if s.state == "sent" and s.platform_id}
    finally:
        store.close()


# -- the whole race -------------------------------------------------------------------------


@pytest.mark.slow
def test_a_whole_race_through_mastodon_matches_what_the_brands_did(race: Race) -> None:
    rows = check_against_world(race.fake.kit, race.world, race.folder)
    assert {r["mention"] for r in rows} == {"at", "name"}
    assert any(r["direct_message"] is True for r in rows)
    assert any(int(str(r["follow_ups_sent"])) == 1 for r in rows)


@pytest.mark.slow
def test_follow_ups_reply_in_the_thread_and_mention_whom_they_answer(race: Race) -> None:
    follow_ups = [race.world.post_by_id(post_id)
                  for (_, step), post_id in sent_posts(race.folder).items() if step == 1]
    assert follow_ups
    for post in follow_ups:
        assert post is not None and post.in_reply_to is not None
        brand = post.in_reply_to.author
        assert brand.script is not None  # it answers the brand's reply...
        assert post.text.startswith(f"@{brand.handle} ")  # ...and notifies the brand


@pytest.mark.slow
def test_each_poll_reads_mentions_once_per_persona(race: Race) -> None:
    reads = Counter(race.fake.read_times())
    assert len(reads) > 100  # five days of polls every 10 minutes while probes are open
    assert set(reads.values()) == {len(race.fake.kit.persona_handles)}


@pytest.mark.slow
def test_conversations_are_read_less_often_than_mentions(race: Race) -> None:
    times = sorted({e.at for e in race.fake.server.requests("GET", r"^/api/v1/conversations")})
    assert times and len(times) < len(set(race.fake.read_times())) / 1.5
    assert all(b - a >= timedelta(minutes=15) for a, b in pairwise(times))


@pytest.mark.slow
def test_confirm_mode_posts_nothing_the_operator_declines(tmp_path: Path) -> None:
    world = new_world(fake_mastodon.kit())
    declined = "2025-03-03-acme-1"
    operator = Operator(decline={declined})
    with fake_mastodon.serve(world) as fake:
        assert run_race(fake.kit, world, tmp_path / "run", mode="confirm", operator=operator,
                        days=2).finished
    rows = {r["probe_id"]: r for r in check_against_world(fake.kit, world, tmp_path / "run")}
    assert rows[declined]["sent_at"] is None
    store = Store.open(tmp_path / "run" / "run.sqlite")
    try:
        assert {s.state for s in store.sends() if s.probe_id == declined} == {"not_sent"}
    finally:
        store.close()
    ours = [p for p in world.visible() if p.author.script is None]
    assert len(ours) == len(operator.approved)


class HandPoster(Operator):
    """A person who, when reminded, posts the message from their Mastodon app (which puts the
    @mention of whom a reply answers in front, as Mastodon apps do)."""

    def __init__(self, fake: FakeMastodon) -> None:
        super().__init__()
        self.fake = fake

    def remind(self, channel: str, message: OutgoingMessage) -> None:
        super().remind(channel, message)
        text = message.text
        if message.in_reply_to:
            text = f"{message.brand_handles[0]} {text}"
        self.fake.post_as(message.persona_id, text, in_reply_to=message.in_reply_to)


@pytest.mark.slow
def test_assisted_mode_finds_posts_made_by_hand_and_tracks_their_replies(
        tmp_path: Path) -> None:
    world = new_world(fake_mastodon.kit())
    with fake_mastodon.serve(world) as fake:
        operator = HandPoster(fake)
        # Polls are slower than Acme's answers (7 min 13 s, 5 min to follow-ups): the runner
        # must look for the posts made by hand before it reads replies.
        assert run_race(fake.kit, world, tmp_path / "run", mode="assisted", operator=operator,
                        days=2, poll_every="10m").finished
    rows = check_against_world(fake.kit, world, tmp_path / "run")
    assert not fake.server.requests("POST", r"^/api/v1/statuses$")  # the harness posted none
    assert len(sent_posts(tmp_path / "run")) == len(operator.reminded)
    assert any(r["responded"] is True for r in rows)
    assert any(int(str(r["follow_ups_sent"])) == 1 for r in rows)


# -- reading --------------------------------------------------------------------------------


def test_replies_and_direct_messages_come_with_the_servers_times(fake: FakeMastodon,
                                                                   tmp_path: Path) -> None:
    channel = adapter(fake, tmp_path)
    sent = channel.send(message())
    later(fake.world, minutes=10)
    replies = channel.poll(None).replies
    assert [(r.kind, r.author, r.in_reply_to, r.to_account) for r in replies] == [
        ("public_reply", "@AcmeHelp", sent.platform_id, "@ana_shops"),
        ("direct_message", "@AcmeHelp", None, "@ana_shops")]
    assert replies[0].created_at - sent.created_at == ACME_ANSWERS
    assert replies[1].created_at - replies[0].created_at == timedelta(minutes=1)
    assert replies[0].created_at.utcoffset() == timedelta(0)
    assert replies[0].text == "@ana_shops Hi! Sorry about that, can you tell us more?"
    assert not any(r.automated for r in replies)
    json.dumps(dict(replies[0].raw))  # stored as JSON


def test_each_reply_is_reported_once_though_two_reads_show_direct_messages(
        fake: FakeMastodon, tmp_path: Path) -> None:
    channel = adapter(fake, tmp_path)  # conversations every 15 min, mentions every poll
    cursor = channel.poll(None).cursor
    channel.send(message())
    seen: list[str] = []
    for _ in range(4):  # the DM comes in mentions at 10 min, in conversations at 20 and 40
        later(fake.world, minutes=10)
        result = channel.poll(cursor)
        seen += [r.platform_id for r in result.replies]
        cursor = result.cursor
    assert len(seen) == len(set(seen)) == 2
    conversations = fake.server.requests("GET", r"^/api/v1/conversations")
    assert len(conversations) == 2 * 3  # at 0, 20 and 40 minutes, for both personas


def test_direct_messages_kept_out_of_notifications_are_read_from_conversations(
        fake: FakeMastodon, tmp_path: Path) -> None:
    fake.filter_private_mentions = True  # Mastodon 4.3 filters DMs from people one does not follow
    channel = adapter(fake, tmp_path)
    cursor = channel.poll(None).cursor
    sent = channel.send(message())
    later(fake.world, minutes=10)
    first = channel.poll(cursor)
    assert [r.kind for r in first.replies] == ["public_reply"]  # no DM read for 15 minutes yet
    later(fake.world, minutes=10)
    second = channel.poll(first.cursor)
    assert [(r.kind, r.author) for r in second.replies] == [("direct_message", "@AcmeHelp")]
    assert second.replies[0].created_at - sent.created_at == ACME_ANSWERS + timedelta(minutes=1)
    later(fake.world, minutes=30)
    assert channel.poll(second.cursor).replies == []


def test_a_full_page_of_mentions_is_read_to_the_end(fake: FakeMastodon, tmp_path: Path) -> None:
    chatty = fake.world.account("@chatty", "Chatty")
    channel = adapter(fake, tmp_path)
    cursor = channel.poll(None).cursor
    for n in range(45):
        fake.world.post(chatty, f"@ana_shops hello {n}")
    before = len(fake.read_times())
    replies = channel.poll(cursor).replies
    assert [r.text for r in replies] == [f"@ana_shops hello {n}" for n in range(45)]
    assert len(fake.read_times()) - before == 3  # ana's two pages, ben's one


def test_statuses_from_bot_accounts_are_automated(fake: FakeMastodon, tmp_path: Path) -> None:
    bot = fake.world.account("@acme_autoreply", "Acme auto-reply")
    fake.bots.add(bot.id)
    channel = adapter(fake, tmp_path)
    fake.world.post(bot, "@ana_shops Thanks for your message!")
    (reply,) = channel.poll(None).replies
    assert reply.automated and reply.author == "@acme_autoreply"


def test_direct_visibility_reaches_the_brand_and_its_answer_is_a_direct_message(
        fake: FakeMastodon, tmp_path: Path) -> None:
    channel = adapter(fake, tmp_path, visibility="direct")
    sent = channel.send(message())
    assert fake.visibility[sent.platform_id] == "direct"
    later(fake.world, minutes=8)
    (reply,) = channel.poll(None).replies
    assert (reply.kind, reply.in_reply_to) == ("direct_message", sent.platform_id)
    assert reply.created_at - sent.created_at == ACME_ANSWERS


# -- finding posts --------------------------------------------------------------------------


def test_find_post_finds_what_send_posted_and_only_that(fake: FakeMastodon,
                                                        tmp_path: Path) -> None:
    channel = adapter(fake, tmp_path)
    now = fake.world.now()
    sent = channel.send(message(not_before=now))
    assert channel.find_post(message(not_before=now)) == sent
    assert channel.find_post(message(not_before=now + timedelta(seconds=1))) is None
    assert channel.find_post(message("@AcmeHelp something else", not_before=now)) is None
    assert channel.find_post(message(persona="ben", not_before=now)) is None


def test_find_post_compares_text_not_html(fake: FakeMastodon, tmp_path: Path) -> None:
    text = "@AcmeHelp Tom & Jerry's <order>   arrived\n\nbroken, \"again\""
    post_id = fake.post_as("ana", text)
    found = adapter(fake, tmp_path).find_post(message(text, not_before=fake.world.now()))
    assert found is not None and found.platform_id == post_id
    assert plain_text("<p>a &amp; b<br />c</p><p>d</p>") == "a & b\nc\n\nd"
    assert same_text("@acme@mastodon.social  Hi", "@Acme hi")


def test_a_follow_up_is_found_by_what_it_answers(fake: FakeMastodon, tmp_path: Path) -> None:
    channel = adapter(fake, tmp_path)
    channel.send(message())
    later(fake.world, minutes=10)
    answer = channel.poll(None).replies[0]
    follow_up = message("Still crashing", step=1, in_reply_to=answer.platform_id)
    sent = channel.send(follow_up)
    assert channel.find_post(follow_up) == sent
    assert channel.find_post(follow_up._replace(in_reply_to=sent.platform_id)) is None


# -- errors ---------------------------------------------------------------------------------

EXPECTED: dict[Failure, type[ChannelError]] = {
    "auth": AuthenticationFailed, "denied": AccessDenied, "rate_limited": RateLimited,
    "rate_limited_no_reset": RateLimited, "server_error": TransientError,
    "dropped": TransientError,
}


@pytest.mark.parametrize("operation", ["send", "poll"])
def test_failures_map_to_the_projects_errors_without_retrying(
        fake: FakeMastodon, tmp_path: Path, operation: Operation) -> None:
    channel = adapter(fake, tmp_path)
    method, route = (("POST", r"^/api/v1/statuses$") if operation == "send"
                     else ("GET", r"^/api/v1/notifications$"))
    for failure, expected in EXPECTED.items():  # one after another, on the same adapter
        before = len(fake.server.requests(method, route))
        fake.fail(operation, failure)
        with pytest.raises(expected) as caught:
            channel.send(message()) if operation == "send" else channel.poll(None)
        error = caught.value
        assert len(fake.server.requests(method, route)) == before + 1, failure  # no retry
        if failure == "rate_limited":
            assert isinstance(error, RateLimited)
            assert error.reset_at == fake.world.now() + timedelta(seconds=RESET_AFTER_S)
        elif failure == "rate_limited_no_reset":
            assert isinstance(error, RateLimited) and error.reset_at is None
        assert not any(token in str(error) for token in fake.kit.tokens.values()), failure
        assert error.__cause__ is None and error.__suppress_context__, failure
    assert not [p for p in fake.world.visible() if p.author.script is None]  # nothing posted
    if operation == "send":
        assert channel.send(message()).platform_id  # and the next attempt goes through
    else:
        assert channel.poll(None).cursor


def test_a_token_the_server_rejects_is_an_authentication_failure(fake: FakeMastodon,
                                                                  tmp_path: Path) -> None:
    wrong = {name: "revoked-token" for name in fake.kit.environ}
    with pytest.raises(AuthenticationFailed):
        adapter(fake, tmp_path, environ=wrong).poll(None)


def test_a_reply_to_a_missing_status_is_refused(fake: FakeMastodon, tmp_path: Path) -> None:
    with pytest.raises(AccessDenied):
        adapter(fake, tmp_path).send(message(step=1, in_reply_to="42"))


def test_a_malformed_answer_is_transient(fake: FakeMastodon, tmp_path: Path) -> None:
    fake.server.fail_next(r"^/api/v1/notifications$", 200, kind="malformed")
    with pytest.raises(TransientError):
        adapter(fake, tmp_path).poll(None)


# -- configuration --------------------------------------------------------------------------


def test_without_credentials_it_says_which_variable_and_never_calls_the_server(
        fake: FakeMastodon, tmp_path: Path) -> None:
    channel = adapter(fake, tmp_path, environ={})
    reason = channel.not_configured()
    assert reason is not None and "FAKE_MASTODON_ANA_TOKEN" in reason
    with pytest.raises(NotConfigured, match="FAKE_MASTODON_ANA_TOKEN"):
        channel.send(message())
    with pytest.raises(NotConfigured):
        channel.poll(None)
    assert fake.server.log == []


def test_a_persona_without_a_token_is_named(fake: FakeMastodon, tmp_path: Path) -> None:
    tokens = {"ana": fake.kit.settings["tokens"]["ana"]}
    reason = adapter(fake, tmp_path, tokens=tokens).not_configured()
    assert reason is not None and "ben" in reason


def test_bad_settings_are_reported_before_anything_runs(fake: FakeMastodon,
                                                        tmp_path: Path) -> None:
    assert adapter(fake, tmp_path).not_configured() is None
    cases: list[tuple[dict[str, Any], str]] = [({"visibility": "everyone"}, "visibility"),
                                                ({"instance": "mastodon.social"}, "instance"),
                                                ({"dm_poll_every": "often"}, "dm_poll_every")]
    for settings, words in cases:
        # the scenario's validation refuses it, at its line ...
        kit = replace(fake.kit, settings={**fake.kit.settings, **settings})
        with pytest.raises(ScenarioError, match=rf"live-race.yaml:\d+:\d+: channels\[0\]"
                                                rf"\.settings\.{words}"):
            load_scenario_text(scenario_yaml(kit), "live-race.yaml")
        # ... and an adapter handed them anyway refuses to run
        reason = adapter(fake, tmp_path, unchecked=settings).not_configured()
        assert reason is not None and words in reason, settings
    assert fake.server.log == []


def test_describe_names_the_variables_and_shows_no_token(fake: FakeMastodon,
                                                         tmp_path: Path) -> None:
    channel = adapter(fake, tmp_path)
    shown = json.dumps(channel.describe())
    assert "$FAKE_MASTODON_ANA_TOKEN (set)" in shown
    channel.send(message())  # a client made with the token is inside now
    for text in (shown, json.dumps(channel.describe()), repr(channel)):
        assert not any(token in text for token in fake.kit.tokens.values())
