"""The Bluesky adapter through the real atproto client against a fake Bluesky on loopback."""

from __future__ import annotations

import json
import stat
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from harness.channels.base import ChannelAdapter, OutgoingMessage
from harness.errors import (
    AccessDenied,
    AuthenticationFailed,
    NotConfigured,
    RateLimited,
    TransientError,
)
from harness.session.runs import build_channels
from harness.session.scenarios import load_scenario_text
from tests.fakes import fake_bluesky
from tests.fakes.fake_bluesky import FakeBluesky
from tests.fakes.platform import FAILURES, RESET_AFTER_S, Failure, Operation
from tests.fakes.race import (
    BRANDS,
    Kit,
    Operator,
    check_against_world,
    new_world,
    run_race,
    scenario_yaml,
)
from tests.fakes.world import Post, World

_ACME = BRANDS["acme"][1]
assert _ACME.at is not None and _ACME.follow_up is not None and _ACME.name is not None
ACME_AT, ACME_FOLLOW_UP, ACME_NAME = _ACME.at, _ACME.follow_up, _ACME.name


@contextmanager
def _fake() -> Iterator[FakeBluesky]:
    world = new_world(fake_bluesky.kit())
    with fake_bluesky.serve(world) as fake:
        yield fake


@contextmanager
def _adapter(kit: Kit, world: World, folder: Path,
             environ: dict[str, str] | None = None) -> Iterator[ChannelAdapter]:
    """The race scenario's Bluesky channel, built as a run builds it."""
    scenario = load_scenario_text(scenario_yaml(kit), "bluesky.yaml")
    adapter = build_channels(scenario, world.clock, folder,
                             environ=kit.environ if environ is None else environ)["live"]
    try:
        yield adapter
    finally:
        adapter.close()


def _message(kit: Kit, text: str = "@acme.test do you deliver on Sundays?", *,
             persona: str = "ana", step: int = 0, in_reply_to: str | None = None,
             not_before: datetime | None = None) -> OutgoingMessage:
    return OutgoingMessage(
        probe_id="p1", step=step, persona_id=persona,
        persona_account=kit.persona_handles[persona], brand_id="acme",
        brand_handles=(kit.brand_handles["acme"],), mention="at", category="question",
        text=text, in_reply_to=in_reply_to, not_before=not_before)


def _wait(world: World, delta: timedelta) -> None:
    world.clock.sleep_until(world.clock.now() + delta)
    world.advance()  # what is due becomes visible


# -- the whole race --------------------------------------------------------------------------


@dataclass
class Race:
    fake: FakeBluesky
    world: World
    folder: Path
    finished: bool


@pytest.fixture(scope="module")
def race(tmp_path_factory: pytest.TempPathFactory) -> Race:
    """The small live race, played once through the adapter against the fake."""
    world = new_world(fake_bluesky.kit())
    folder = tmp_path_factory.mktemp("bluesky") / "run"
    with fake_bluesky.serve(world) as fake:
        result = run_race(fake.kit, world, folder)
    return Race(fake, world, folder, result.finished)


@pytest.mark.slow
def test_a_whole_race_through_bluesky_matches_what_the_brands_did(race: Race) -> None:
    assert race.finished
    rows = check_against_world(race.fake.kit, race.world, race.folder,
                               world_id=race.fake.world_id)
    assert {r["mention"] for r in rows} == {"at", "name"}
    assert any(int(r["follow_ups_sent"]) == 1 for r in rows)
    answered = [r for r in rows if r["responded"] in (True, "true")]
    assert answered and {r["latency_s"] for r in answered} == {ACME_AT.total_seconds()}


@pytest.mark.slow
def test_notifications_are_read_once_per_persona_per_poll(race: Race) -> None:
    reads = Counter(race.fake.read_times())
    assert len(reads) > 100  # many polls...
    assert set(reads.values()) == {len(race.fake.kit.persona_handles)}  # ...each one read each


@pytest.mark.slow
def test_a_run_logs_each_persona_in_once_and_keeps_its_session_private(race: Race) -> None:
    assert race.fake.logins == {"ana.test": 1, "ben.test": 1}
    for persona, password in fake_bluesky.PASSWORDS.items():
        path = race.folder / f"bluesky-live-{persona}.session"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert password not in path.read_text(encoding="utf-8")


# -- posting ---------------------------------------------------------------------------------


def test_at_mentions_carry_a_facet_with_the_brands_did_at_utf8_byte_offsets(
        tmp_path: Path) -> None:
    text = "Olá! Café ☕ já frio 🥶 @acme.test do you deliver? (cc @acme.test)"
    with _fake() as fake, _adapter(fake.kit, fake.world, tmp_path) as adapter:
        post = adapter.send(_message(fake.kit, text))
        record = fake.records[fake.world_id(post.platform_id)]
        encoded = text.encode("utf-8")
        first = encoded.index(b"@acme.test")
        second = encoded.index(b"@acme.test", first + 1)
        assert first != text.index("@acme.test")  # the text before it is not ASCII
        assert [(f["index"]["byteStart"], f["index"]["byteEnd"]) for f in record["facets"]] == [
            (first, first + len(b"@acme.test")), (second, second + len(b"@acme.test"))]
        assert {feature["did"] for f in record["facets"] for feature in f["features"]} == {
            fake.did("acme.test")}
        assert record["text"] == text
        assert len(fake.server.requests("GET", "resolveHandle$")) == 1  # resolved once
        _wait(fake.world, ACME_AT)
        post_id = fake.world_id(post.platform_id)
        answers = [r for r in fake.world.reactions if r.answers == post_id]
        assert [r.delay for r in answers] == [ACME_AT]  # the brand was notified


def test_a_mention_without_a_facet_does_not_reach_the_brand() -> None:
    """The fake behaves as Bluesky: an @handle in the text alone notifies no one."""
    with _fake() as fake:
        ana = fake.world.by_handle("ana.test")
        assert ana is not None
        post = fake.create(ana, {"$type": "app.bsky.feed.post", "text": "@acme.test hello?",
                                  "createdAt": "2025-03-03T00:00:00.000Z"})
        assert isinstance(post, Post)
        _wait(fake.world, timedelta(hours=3))
        assert [r.delay for r in fake.world.reactions if r.answers == post.id] == [
            ACME_NAME]  # only as a brand that searches for its name would


def test_a_post_is_timed_by_the_server_and_links_to_the_app(tmp_path: Path) -> None:
    with _fake() as fake, _adapter(fake.kit, fake.world, tmp_path) as adapter:
        fake.world.clock.sleep_until(fake.world.clock.now() + timedelta(seconds=5.75))
        post = adapter.send(_message(fake.kit))
        made = fake.world.post_by_id(fake.world_id(post.platform_id))
        assert made is not None
        assert post.created_at == made.created_at  # indexedAt, whole seconds on this server
        record = fake.records[made.id]
        assert record["createdAt"] == "2025-03-03T00:00:05.750Z"  # ours, not the post's time
        assert post.created_at.tzinfo is not None
        assert post.platform_id.startswith(f"at://{fake.did('ana.test')}/app.bsky.feed.post/")
        assert post.url == ("https://bsky.app/profile/ana.test/post/"
                            + post.platform_id.rsplit("/", 1)[1])


def test_poll_returns_brand_replies_once_with_thread_refs_and_follow_ups_reply_in_thread(
        tmp_path: Path) -> None:
    with _fake() as fake, _adapter(fake.kit, fake.world, tmp_path) as adapter:
        first = adapter.send(_message(fake.kit))
        _wait(fake.world, ACME_AT)
        result = adapter.poll(None)
        [reply] = result.replies
        assert (reply.author, reply.kind, reply.to_account) == (
            "@acme.test", "public_reply", "@ana.test")
        assert reply.in_reply_to == reply.conversation_id == first.platform_id
        assert reply.created_at == first.created_at + ACME_AT
        assert json.loads(json.dumps(dict(reply.raw)))["uri"] == reply.platform_id
        assert adapter.poll(result.cursor).replies == []  # nothing twice

        follow_up = adapter.send(_message(fake.kit, "Still crashing, what next?", step=1,
                                          in_reply_to=reply.platform_id))
        record = fake.records[fake.world_id(follow_up.platform_id)]
        assert record["reply"]["parent"]["uri"] == reply.platform_id
        assert record["reply"]["root"]["uri"] == first.platform_id
        _wait(fake.world, ACME_FOLLOW_UP)
        [answer] = adapter.poll(result.cursor).replies
        assert answer.in_reply_to == follow_up.platform_id
        assert answer.conversation_id == first.platform_id


def test_poll_pages_only_while_pages_are_full_and_new_and_returns_each_once(
        tmp_path: Path) -> None:
    """120 mentions in the same second: three pages of 50, oldest first, none twice."""
    with _fake() as fake, _adapter(fake.kit, fake.world, tmp_path) as adapter:
        acme = fake.world.by_handle("acme.test")
        assert acme is not None
        fake.world.post(acme, "@ana.test before")
        cursor = adapter.poll(None).cursor
        reads = len(fake.read_times())
        for number in range(120):
            fake.world.post(acme, f"@ana.test news {number}")
        result = adapter.poll(cursor)
        assert [r.text for r in result.replies] == [f"@ana.test news {n}" for n in range(120)]
        # ana: 50 + 50 + 20 (the last page reaches what was seen); ben: one empty page
        assert len(fake.read_times()) - reads == 3 + 1
        again = adapter.poll(result.cursor)
        assert again.replies == [] and len(fake.read_times()) - reads == 3 + 1 + 2


def test_find_post_finds_the_persona_post_by_text_time_and_parent(tmp_path: Path) -> None:
    with _fake() as fake, _adapter(fake.kit, fake.world, tmp_path) as adapter:
        start = fake.world.clock.now()
        sent = adapter.send(_message(fake.kit))
        again = _message(fake.kit, "  @ACME.test   do you deliver\non Sundays? ", not_before=start)
        assert adapter.find_post(again) == sent
        later = _message(fake.kit, not_before=start + timedelta(hours=1))
        assert adapter.find_post(later) is None  # an older post with the same text is not it
        assert adapter.find_post(_message(fake.kit, "never posted")) is None
        _wait(fake.world, ACME_AT)
        [reply] = adapter.poll(None).replies
        follow_up = _message(fake.kit, "Still crashing", step=1, in_reply_to=reply.platform_id)
        assert adapter.find_post(follow_up) is None
        made = adapter.send(follow_up)
        assert adapter.find_post(follow_up) == made


# -- sessions --------------------------------------------------------------------------------


def test_a_resumed_run_reuses_the_saved_session_without_logging_in(tmp_path: Path) -> None:
    with _fake() as fake:
        with _adapter(fake.kit, fake.world, tmp_path) as adapter:
            adapter.send(_message(fake.kit))
        assert fake.logins["ana.test"] == 1
        with _adapter(fake.kit, fake.world, tmp_path) as resumed:
            resumed.send(_message(fake.kit, "@acme.test another one"))
            resumed.poll(None)
        assert fake.logins["ana.test"] == 1
        ana = fake.world.by_handle("ana.test")
        assert ana is not None and len(fake.world.timeline(ana)) == 2


@pytest.mark.parametrize("error", ["InvalidToken", "ExpiredToken"])
def test_a_refused_session_leads_to_exactly_one_new_login(tmp_path: Path, error: str) -> None:
    with _fake() as fake:
        with _adapter(fake.kit, fake.world, tmp_path) as adapter:
            adapter.send(_message(fake.kit))
        saved = (tmp_path / "bluesky-live-ana.session").read_text(encoding="utf-8")
        fake.revoke_sessions(error)
        with _adapter(fake.kit, fake.world, tmp_path) as resumed:
            resumed.send(_message(fake.kit, "@acme.test second"))
            resumed.send(_message(fake.kit, "@acme.test third"))
        assert fake.logins["ana.test"] == 2
        assert (tmp_path / "bluesky-live-ana.session").read_text(encoding="utf-8") != saved
        assert len(fake.server.requests("POST", "createRecord$")) == 4  # one refused, redone


def test_refreshed_tokens_are_saved_for_the_next_run(tmp_path: Path) -> None:
    world = new_world(fake_bluesky.kit())
    with fake_bluesky.serve(world, access_ttl_s=60) as fake:  # the client refreshes early
        with _adapter(fake.kit, world, tmp_path) as adapter:
            adapter.send(_message(fake.kit))
            adapter.poll(None)
        assert fake.refreshes >= 1 and fake.logins["ana.test"] == 1
        with _adapter(fake.kit, world, tmp_path) as resumed:
            resumed.poll(None)  # the saved (refreshed) refresh token still works
        assert fake.logins["ana.test"] == 1


# -- assisted mode ---------------------------------------------------------------------------


class PostsByHand(Operator):
    """A persona who makes each post in the Bluesky app when reminded."""

    def __init__(self, fake: FakeBluesky) -> None:
        super().__init__()
        self.fake = fake

    def remind(self, channel: str, message: OutgoingMessage) -> None:
        super().remind(channel, message)
        self.fake.post_as(message.persona_id, message.text, message.in_reply_to)


@pytest.mark.slow
def test_assisted_posts_made_by_hand_are_found_and_their_replies_tracked(
        tmp_path: Path) -> None:
    world = new_world(fake_bluesky.kit())
    with fake_bluesky.serve(world) as fake:
        operator = PostsByHand(fake)
        # Polls are slower than Acme's answers (7 min 13 s): the runner must look for the
        # posts made by hand before it reads replies, or replies would go unmatched.
        result = run_race(fake.kit, world, tmp_path / "run", mode="assisted", operator=operator,
                          poll_every="10m", days=3)
        assert fake.server.requests("POST", "createRecord$") == []  # the harness posted nothing
    assert result.finished
    rows = check_against_world(fake.kit, world, tmp_path / "run", world_id=fake.world_id)
    follow_ups = sum(int(r["follow_ups_sent"]) for r in rows)
    assert follow_ups >= 1  # replies by hand in the brand's thread were found too
    assert len(operator.reminded) == len(rows) + follow_ups  # one reminder per post
    assert any(r["responded"] in (True, "true") for r in rows)


# -- errors and configuration ----------------------------------------------------------------


EXPECTED: dict[Failure, type[Exception]] = {
    "auth": AuthenticationFailed, "denied": AccessDenied, "rate_limited": RateLimited,
    "rate_limited_no_reset": RateLimited, "server_error": TransientError,
    "dropped": TransientError,
}


@pytest.fixture(scope="module")
def shared() -> Iterator[FakeBluesky]:
    """One fake for the fault tests (each test spends the faults it sets)."""
    with _fake() as fake:
        yield fake


@pytest.mark.parametrize("operation", ["send", "poll"])
@pytest.mark.parametrize("failure", FAILURES)
def test_failures_map_to_the_harness_errors_and_pass(
        shared: FakeBluesky, tmp_path: Path, operation: Operation, failure: Failure) -> None:
    fake = shared
    ana = fake.world.by_handle("ana.test")
    assert ana is not None
    with _adapter(fake.kit, fake.world, tmp_path) as adapter:
        def act() -> Any:
            return (adapter.send(_message(fake.kit)) if operation == "send"
                    else adapter.poll(None))

        before = len(fake.world.timeline(ana))
        fake.fail(operation, failure)
        with pytest.raises(EXPECTED[failure]) as raised:
            act()
        if failure == "rate_limited":
            assert isinstance(raised.value, RateLimited)
            assert raised.value.reset_at == datetime.fromtimestamp(
                int(fake.world.clock.now().timestamp()) + RESET_AFTER_S, UTC)
        if failure == "rate_limited_no_reset":
            assert isinstance(raised.value, RateLimited) and raised.value.reset_at is None
        assert len(fake.world.timeline(ana)) == before  # nothing was posted
        act()  # the fault is spent: the same call now works
        assert len(fake.world.timeline(ana)) == before + (operation == "send")


def test_a_malformed_answer_is_a_transient_error(shared: FakeBluesky, tmp_path: Path) -> None:
    fake = shared
    with _adapter(fake.kit, fake.world, tmp_path) as adapter:
        fake.server.fail_next(r"listNotifications$", 200, kind="malformed")
        with pytest.raises(TransientError):
            adapter.poll(None)


def test_without_credentials_it_says_which_variable_and_touches_nothing(
        tmp_path: Path) -> None:
    with _fake() as fake:
        environ = {k: v for k, v in fake.kit.environ.items() if "ANA" not in k}
        with _adapter(fake.kit, fake.world, tmp_path, environ=environ) as adapter:
            reason = adapter.not_configured()
            assert reason is not None and "FAKE_BSKY_ANA_APP_PASSWORD" in reason
            with pytest.raises(NotConfigured, match="FAKE_BSKY_ANA_APP_PASSWORD"):
                adapter.send(_message(fake.kit))
        assert fake.server.log == []
        with _adapter(fake.kit, fake.world, tmp_path) as adapter:
            assert adapter.not_configured() is None
            shown = json.dumps(adapter.describe())
            assert "$FAKE_BSKY_ANA_APP_PASSWORD (set)" in shown
            assert not any(password in shown for password in fake_bluesky.PASSWORDS.values())
        assert fake.server.log == []  # building and describing never call the platform
