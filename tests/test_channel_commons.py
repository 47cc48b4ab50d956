"""The adapter commons: telling our own posts on a timeline, times, error text, session files.

The matching rules are checked against the three adapters' rules as they were written before
they shared one implementation (kept here, verbatim, as the oracle): the move must not have
changed which posts count as ours on any platform.
"""

from __future__ import annotations

import json
import os
import re
import stat
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.channels.base import OutgoingMessage
from harness.channels.bluesky import BLUESKY_POSTS, CLOCK_SKEW
from harness.channels.commons import (
    ERROR_TEXT_MAX,
    OwnPosts,
    SessionFile,
    iso,
    normal_text,
    parse_time,
    scrub,
)
from harness.channels.mastodon import MASTODON_POSTS
from harness.channels.x import X_POSTS

T0 = datetime(2025, 3, 3, 9, 0, 0, 250_000, tzinfo=UTC)


def message(text: str = "Hi @Acme, my order never came", *, in_reply_to: str | None = None,
            not_before: datetime | None = T0) -> OutgoingMessage:
    return OutgoingMessage(probe_id="p1", step=1 if in_reply_to else 0, persona_id="ana",
                           persona_account="@ana", brand_id="acme", brand_handles=("@Acme",),
                           mention="at", category="q", text=text, in_reply_to=in_reply_to,
                           not_before=not_before)


# -- the rules as each adapter wrote them before (the oracle) -------------------------------

_X_LEADING = re.compile(r"^(?:@\w+\s+)+")
_M_REMOTE = re.compile(r"(@[\w.-]+)@[\w-]+(?:\.[\w-]+)+")
_M_LEADING = re.compile(r"^(?:@[\w.-]+\s+)+")


def _old_normal(text: str) -> str:
    return " ".join(text.split()).casefold()


def old_x_same_text(posted: str, intended: str) -> bool:
    posted, intended = _old_normal(posted), _old_normal(intended)
    if posted == intended:
        return True
    return posted.endswith(intended) and bool(
        _X_LEADING.fullmatch(posted[: len(posted) - len(intended)]))


def old_mastodon_same_text(posted: str, intended: str, *, reply: bool = False) -> bool:
    def normal(text: str) -> str:
        return " ".join(_M_REMOTE.sub(r"\1", text).split()).casefold()

    posted, intended = normal(posted), normal(intended)
    if posted == intended:
        return True
    return reply and _M_LEADING.sub("", posted) == _M_LEADING.sub("", intended)


def old_bluesky_same_text(posted: str, intended: str) -> bool:
    return _old_normal(posted) == _old_normal(intended)


words = st.lists(st.sampled_from(["@acme", "@Acme@mastodon.social", "@ana.bsky.social", "hi",
                                  "Hi", "order", "\n", "  ", "\t", "@b_c", "é", "ß", "SS",
                                  "x.y", "@", "-", "@x-y.z"]), max_size=7).map(" ".join)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(posted=words, intended=words, reply=st.booleans())
def test_text_matching_is_what_each_adapter_did_before(posted: str, intended: str,
                                                       reply: bool) -> None:
    assert X_POSTS.same_text(posted, intended, reply=reply) == old_x_same_text(posted, intended)
    assert MASTODON_POSTS.same_text(posted, intended, reply=reply) == old_mastodon_same_text(
        posted, intended, reply=reply)
    assert BLUESKY_POSTS.same_text(posted, intended, reply=reply) == old_bluesky_same_text(
        posted, intended)


@pytest.mark.parametrize(("posted", "intended", "x", "mastodon", "bluesky"), [
    ("Hi  there\n", "hi there", True, True, True),            # whitespace and case aside
    ("@acme hi there", "hi there", True, False, False),       # X puts a reply's mentions first
    ("@Acme@mastodon.social hi", "@acme hi", False, True, False),  # a remote mention, bare
    ("hi there!", "hi there", False, False, False),
    ("hi there @acme", "hi there", False, False, False),      # only in front
])
def test_each_platform_shows_our_text_its_own_way(posted: str, intended: str, x: bool,
                                                  mastodon: bool, bluesky: bool) -> None:
    assert X_POSTS.same_text(posted, intended) is x
    assert MASTODON_POSTS.same_text(posted, intended) is mastodon
    assert BLUESKY_POSTS.same_text(posted, intended) is bluesky


def test_mastodon_ignores_leading_mentions_on_both_sides_of_a_reply_only() -> None:
    assert MASTODON_POSTS.same_text("@acme @other thanks", "@acme thanks", reply=True)
    assert MASTODON_POSTS.same_text("@other thanks", "@acme thanks", reply=True)
    assert not MASTODON_POSTS.same_text("@other thanks", "@acme thanks", reply=False)
    assert not X_POSTS.same_text("@other thanks", "@acme thanks", reply=True)
    assert X_POSTS.same_text("@other @acme thanks", "@acme thanks")


def test_an_empty_text_matches_only_an_empty_post() -> None:
    for rules in (X_POSTS, MASTODON_POSTS, BLUESKY_POSTS):
        assert rules.same_text("  ", "")
        assert not rules.same_text("hello", "")
    assert not X_POSTS.same_text("@acme ", "")  # a bare mention is no post of ours


def test_normal_text() -> None:
    assert normal_text("  Straße\tIS\n\nhere ") == "strasse is here"
    assert normal_text("") == ""
    assert MASTODON_POSTS.normal("Hi @Ana@Social.Example  x") == "hi @ana x"
    assert X_POSTS.normal("Hi @Ana@Social.Example") == "hi @ana@social.example"


def test_what_a_post_replies_to() -> None:
    first, follow_up = message(), message("still broken", in_reply_to="99")
    for rules in (X_POSTS, MASTODON_POSTS):  # a first message: whatever the post answers
        assert rules.same_thread(None, first) and rules.same_thread("12", first)
        assert rules.same_thread("99", follow_up)
        assert not rules.same_thread("98", follow_up) and not rules.same_thread(None, follow_up)
    assert BLUESKY_POSTS.same_thread(None, first)
    assert not BLUESKY_POSTS.same_thread("at://x/post/1", first)  # exact: replying to nothing
    assert BLUESKY_POSTS.same_thread("99", follow_up)
    assert not BLUESKY_POSTS.same_thread(None, follow_up)


def test_how_old_a_post_may_be() -> None:
    sent = message()
    assert X_POSTS.floor(sent) == T0
    assert MASTODON_POSTS.floor(sent) == T0.replace(microsecond=0)  # times to the second
    assert BLUESKY_POSTS.floor(sent) == T0 - CLOCK_SKEW
    assert X_POSTS.floor(message(not_before=None)) is None
    assert X_POSTS.in_time(T0, sent) and not X_POSTS.in_time(T0 - timedelta(microseconds=1),
                                                              sent)
    assert MASTODON_POSTS.in_time(T0.replace(microsecond=0), sent)
    assert not MASTODON_POSTS.in_time(T0.replace(microsecond=0) - timedelta(seconds=1), sent)
    assert BLUESKY_POSTS.in_time(T0 - CLOCK_SKEW, sent)
    assert not BLUESKY_POSTS.in_time(T0 - CLOCK_SKEW - timedelta(milliseconds=1), sent)
    assert X_POSTS.in_time(datetime(2000, 1, 1, tzinfo=UTC), message(not_before=None))


def test_matches_asks_all_three_questions() -> None:
    rules = OwnPosts()
    follow_up = message("Still broken", in_reply_to="99")
    assert rules.matches(follow_up, text="still  broken", replying_to="99", created=T0)
    assert not rules.matches(follow_up, text="still broken!", replying_to="99", created=T0)
    assert not rules.matches(follow_up, text="still broken", replying_to="98", created=T0)
    assert not rules.matches(follow_up, text="still broken", replying_to="99",
                             created=T0 - timedelta(seconds=1))


# -- times ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [
    ("2025-03-03T09:00:00Z", datetime(2025, 3, 3, 9, tzinfo=UTC)),
    ("2025-03-03T09:00:00.123Z", datetime(2025, 3, 3, 9, 0, 0, 123_000, tzinfo=UTC)),
    ("2025-03-03T10:00:00+01:00", datetime(2025, 3, 3, 9, tzinfo=UTC)),
    ("2025-03-03T09:00:00", datetime(2025, 3, 3, 9, tzinfo=UTC)),  # no zone: UTC
    (datetime(2025, 3, 3, 9), datetime(2025, 3, 3, 9, tzinfo=UTC)),
    (datetime(2025, 3, 3, 4, tzinfo=timezone(timedelta(hours=-5))),
     datetime(2025, 3, 3, 9, tzinfo=UTC)),
])
def test_parse_time(value: str | datetime, expected: datetime) -> None:
    parsed = parse_time(value)
    assert parsed == expected and parsed.tzinfo is UTC


@pytest.mark.parametrize("value", ["", "yesterday", "2025-13-01T00:00:00Z", 1741000000, None])
def test_parse_time_refuses_what_is_no_time(value: object) -> None:
    with pytest.raises(ValueError):
        parse_time(value)  # type: ignore[arg-type]


def test_iso_writes_utc_milliseconds_and_z() -> None:
    moment = datetime(2025, 3, 3, 10, 0, 0, 123_456, tzinfo=timezone(timedelta(hours=1)))
    assert iso(moment) == "2025-03-03T09:00:00.123Z"
    assert parse_time(iso(moment)) == moment.replace(microsecond=123_000)


# -- error text -----------------------------------------------------------------------------


def test_scrub_removes_secrets_and_query_strings() -> None:
    said = ValueError("GET https://api.example/x?token=s3cr3t&b=1 failed for s3cr3t")
    assert scrub(said) == str(said)
    assert scrub(said, queries=True) == "GET https://api.example/x?… failed for s3cr3t"
    assert scrub(said, ["s3cr3t"]) == "GET https://api.example/x?token=***&b=1 failed for ***"
    assert scrub(said, ["", "s3cr3t"], queries=True) == ("GET https://api.example/x?… failed "
                                                          "for ***")


def test_scrub_edge_cases() -> None:
    assert scrub(ValueError()) == ""
    assert scrub(ValueError(), name_if_empty=True) == "ValueError"
    assert scrub(ValueError("x"), name_if_empty=True) == "x"
    assert scrub("a\r\n  b\tc", one_line=True) == "a b c"
    assert scrub("a\r\n  b", one_line=False) == "a\r\n  b"
    assert scrub("x" * 1000) == "x" * ERROR_TEXT_MAX
    assert scrub("pw pw", ["pw"]) == "*** ***"
    assert scrub(None) == "None"
    assert scrub(b"bytes") == "b'bytes'"
    # a secret that only shows once the text is on one line is still cut out before
    assert scrub("token: abc\ndef", ["abc\ndef"], one_line=True) == "token: ***"


# -- session files --------------------------------------------------------------------------


def test_a_session_file_is_private_and_read_back_only_for_its_account(tmp_path: Path) -> None:
    path = tmp_path / "run" / "bluesky-live-ana.session"
    saved = SessionFile(path, "https://bsky.social", "ana.bsky.social")
    assert saved.load() is None
    saved.save("tokens-123")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text(encoding="utf-8")) == {
        "service": "https://bsky.social", "handle": "ana.bsky.social", "session": "tokens-123"}
    assert saved.load() == "tokens-123"
    assert SessionFile(path, "https://other.example", "ana.bsky.social").load() is None
    assert SessionFile(path, "https://bsky.social", "ben.bsky.social").load() is None
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no staging file left
    saved.forget()
    assert not path.exists()
    saved.forget()  # twice is fine


@pytest.mark.parametrize("content", ["", "not json", "[]", '{"service": "s", "handle": "h"}',
                                     '{"service": "s", "handle": "h", "session": ""}',
                                     '{"service": "s", "handle": "h", "session": 7}'])
def test_an_unreadable_session_file_is_no_session(tmp_path: Path, content: str) -> None:
    path = tmp_path / "s.session"
    path.write_text(content, encoding="utf-8")
    assert SessionFile(path, "s", "h").load() is None


def test_a_session_that_cannot_be_saved_leaves_no_file(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "s.session"
    saved = SessionFile(path, "s", "h")
    saved.save("old")

    def full_disk(descriptor: int, data: bytes) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", full_disk)
    saved.save("new")  # no error: only a lost chance to skip a login
    monkeypatch.undo()
    assert saved.load() is None  # the old session is not left to be read as the new one
    assert list(tmp_path.iterdir()) == []  # nor a staging file
