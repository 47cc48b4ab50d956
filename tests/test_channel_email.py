"""The email adapter through smtplib and imaplib against real SMTP and IMAP servers on loopback."""

from __future__ import annotations

import smtplib
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from harness.channels.base import ChannelContext, IncomingReply, OutgoingMessage
from harness.channels.email import EmailChannel
from harness.channels.mail import is_automated
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
from harness.runner.matching import MatchIndex
from harness.runner.roster import Roster
from harness.session.scenarios import load_scenario_text
from tests.fakes import fake_email
from tests.fakes.fake_email import BRAND_ADDRESSES, PASSWORDS, PERSONA_ADDRESSES, FakeMail
from tests.fakes.platform import RESET_AFTER_S
from tests.fakes.race import check_against_world, new_world, run_race, scenario_yaml
from tests.fakes.world import World


@pytest.fixture
def fake() -> Iterator[FakeMail]:
    """Fake SMTP and IMAP servers over a fresh world with the race's personas and brands."""
    with fake_email.serve(new_world(fake_email.kit())) as served:
        yield served


def _adapter(fake: FakeMail, state_dir: Path, environ: dict[str, str] | None = None,
             **settings: Any) -> EmailChannel:
    scenario = load_scenario_text(scenario_yaml(fake.kit), "race.yaml")
    channel = scenario.channels[0]
    if settings:
        channel = channel.model_copy(update={"settings": {**channel.settings, **settings}})
    context = ChannelContext(clock=fake.world.clock, state_dir=state_dir, seed=scenario.seed,
                             personas=scenario.personas, brands=scenario.brands,
                             timezone="UTC",
                             environ=fake.kit.environ if environ is None else environ)
    return EmailChannel(channel, context)


def _message(brand: str = "acme", persona: str = "ana", probe: str = "2025-03-03-acme-1",
             step: int = 0, text: str = "Acme: the app crashes when I pay",
             in_reply_to: str | None = None) -> OutgoingMessage:
    return OutgoingMessage(probe_id=probe, step=step, persona_id=persona,
                           persona_account=PERSONA_ADDRESSES[persona], brand_id=brand,
                           brand_handles=(BRAND_ADDRESSES[brand],), mention="name",
                           category="technical", text=text, in_reply_to=in_reply_to)


def _later(world: World, **delta: float) -> None:
    assert isinstance(world.clock, VirtualClock)
    world.clock.sleep_until(world.clock.now() + timedelta(**delta))


def _brand_sends(fake: FakeMail, brand: str, mail: EmailMessage) -> None:
    """A brand's mail, sent through the fake SMTP server like any other."""
    account = fake.world.by_handle(BRAND_ADDRESSES[brand])
    assert account is not None
    account.token = f"pw-{brand}-8d1e"
    with smtplib.SMTP("127.0.0.1", fake.smtp_port, timeout=10) as smtp:
        smtp.login(BRAND_ADDRESSES[brand], account.token)
        smtp.send_message(mail)


def _headers(fake: FakeMail, message_id: str) -> EmailMessage:
    parsed = BytesParser(policy=default_policy).parsebytes(fake.raw_message(message_id))
    assert isinstance(parsed, EmailMessage)
    return parsed


@pytest.mark.slow
def test_a_whole_race_through_email_matches_what_the_brands_did(tmp_path: Path) -> None:
    world = new_world(fake_email.kit())
    with fake_email.serve(world) as fake:
        result = run_race(fake.kit, world, tmp_path / "run")
    assert result.finished
    rows = check_against_world(fake.kit, world, tmp_path / "run", world_id=fake.world_id)
    assert {r["mention"] for r in rows} == {"at", "name"}
    assert any(int(str(r["auto_acks"])) > 0 for r in rows)  # Globex's Auto-Submitted mails
    # the brand's email answer is the thread's answer: follow-ups go, and it is no "move to
    # email" (engagement level 5 is for brands that move a social conversation to email)
    assert any(int(str(r["follow_ups_sent"])) == 1 for r in rows)
    assert all(r["email"] is False and int(str(r["level"])) <= 3 for r in rows)
    db = sqlite3.connect(tmp_path / "run" / "run.sqlite")
    matched = {how for (how,) in db.execute("SELECT matched_by FROM replies")}
    assert matched == {"in_reply_to"}  # every answer found by its In-Reply-To header
    db.close()


def test_a_reply_to_the_plus_tag_without_threading_headers_still_matches_its_probe(
        fake: FakeMail, tmp_path: Path) -> None:
    adapter = _adapter(fake, tmp_path)
    sent = adapter.send(_message("initech", text="Initech: do you deliver on Sundays?"))
    reply_to = str(_headers(fake, sent.platform_id)["Reply-To"])
    assert reply_to.startswith("ana+") and reply_to.endswith("@shopper.test")
    _later(fake.world, hours=3, seconds=17)
    arrived = fake.world.now()
    answer = EmailMessage()
    answer["From"] = f"Initech <{BRAND_ADDRESSES['initech']}>"
    answer["To"] = reply_to
    answer["Subject"] = "Sunday deliveries"
    answer["Date"] = format_datetime(arrived - timedelta(days=2))  # the sender's clock lies
    answer.set_content("Yes, we deliver on Sundays.")
    _brand_sends(fake, "initech", answer)

    replies = adapter.poll(None).replies
    assert len(replies) == 1
    reply = replies[0]
    assert reply.in_reply_to is None
    assert reply.conversation_id == sent.platform_id
    assert reply.created_at == arrived  # INTERNALDATE, not the Date header
    assert reply.author == BRAND_ADDRESSES["initech"]
    assert reply.text == "Yes, we deliver on Sundays."

    scenario = load_scenario_text(scenario_yaml(fake.kit), "race.yaml")
    index = MatchIndex()
    index.add_post(sent.platform_id, "2025-03-03-initech-1", 0, sent.created_at, "live", "ana",
                   "initech")
    match = index.match("live", reply, Roster.from_scenario(scenario))
    assert (match.probe_id, match.matched_by, match.from_brand) == (
        "2025-03-03-initech-1", "conversation", True)


def test_a_follow_up_threads_under_the_brand_reply_and_its_answer_is_found(
        fake: FakeMail, tmp_path: Path) -> None:
    adapter = _adapter(fake, tmp_path)
    first = adapter.send(_message("acme"))
    _later(fake.world, minutes=8)
    result = adapter.poll(None)
    (brand_reply,) = result.replies
    assert brand_reply.in_reply_to == first.platform_id and not brand_reply.automated

    follow = adapter.send(_message("acme", step=1, text="Still crashing, what next?",
                                   in_reply_to=brand_reply.platform_id))
    assert follow.platform_id != first.platform_id
    mail = _headers(fake, follow.platform_id)
    assert mail["In-Reply-To"] == brand_reply.platform_id
    assert str(mail["References"]).split() == [first.platform_id, brand_reply.platform_id]
    assert str(mail["Subject"]).startswith("Re: ")
    follow_post = fake.post_by_message_id(follow.platform_id)
    assert follow_post is not None
    assert follow_post.in_reply_to is fake.post_by_message_id(brand_reply.platform_id)

    _later(fake.world, minutes=6)  # Acme answers follow-ups after 5 minutes
    (answer,) = adapter.poll(result.cursor).replies
    assert answer.in_reply_to == follow.platform_id
    assert answer.conversation_id == first.platform_id
    assert answer.created_at == follow.created_at + timedelta(minutes=5)


def test_one_mailbox_read_per_persona_per_poll(fake: FakeMail, tmp_path: Path) -> None:
    adapter = _adapter(fake, tmp_path)
    for persona, brand in (("ana", "acme"), ("ben", "globex"), ("ana", "initech")):
        adapter.send(_message(brand, persona, probe=f"2025-03-03-{brand}-1",
                              text=f"{brand}: the app crashes when I pay"))
    cursor = None
    seen: list[IncomingReply] = []
    for _ in range(3):
        _later(fake.world, hours=2)
        result = adapter.poll(cursor)
        seen.extend(result.replies)
        cursor = result.cursor
    assert len(fake.read_times()) == 3 * len(PERSONA_ADDRESSES)
    # Acme's answer, Globex's acknowledgement and its answer: each once, though read thrice
    assert sorted((r.author, r.automated) for r in seen) == sorted([
        (BRAND_ADDRESSES["acme"], False), (BRAND_ADDRESSES["globex"], False),
        (BRAND_ADDRESSES["globex"], True)])
    assert {r.to_account for r in seen} == {PERSONA_ADDRESSES["ana"], PERSONA_ADDRESSES["ben"]}


def test_mail_that_came_before_the_first_send_is_not_a_reply(fake: FakeMail,
                                                             tmp_path: Path) -> None:
    old = EmailMessage()
    old["From"] = BRAND_ADDRESSES["acme"]
    old["To"] = PERSONA_ADDRESSES["ana"]
    old["Subject"] = "Our newsletter"
    old.set_content("Spring sale!")
    _brand_sends(fake, "acme", old)
    _later(fake.world, hours=1)
    adapter = _adapter(fake, tmp_path)
    sent = adapter.send(_message("acme"))
    _later(fake.world, hours=1)
    replies = adapter.poll(None).replies
    assert [r.in_reply_to for r in replies] == [sent.platform_id]


def test_html_only_and_bulk_mail_is_read_as_text_and_flagged_automated(
        fake: FakeMail, tmp_path: Path) -> None:
    adapter = _adapter(fake, tmp_path)
    sent = adapter.send(_message("initech"))
    _later(fake.world, minutes=30)
    mail = EmailMessage()
    mail["From"] = BRAND_ADDRESSES["initech"]
    mail["To"] = PERSONA_ADDRESSES["ana"]
    mail["Subject"] = "Re: your message"
    mail["In-Reply-To"] = sent.platform_id
    mail["Precedence"] = "bulk"
    mail.set_content("<html><head><style>p {color: red}</style></head><body><p>We got it"
                     " &amp; will answer.</p><p>Ticket 42</p></body></html>", subtype="html")
    _brand_sends(fake, "initech", mail)
    (reply,) = adapter.poll(None).replies
    assert reply.text == "We got it & will answer.\nTicket 42"
    assert reply.automated
    assert reply.in_reply_to == sent.platform_id


def test_a_new_uidvalidity_rereads_the_mailbox_without_losing_replies(
        fake: FakeMail, tmp_path: Path) -> None:
    adapter = _adapter(fake, tmp_path)
    adapter.send(_message("acme"))
    _later(fake.world, hours=1)
    first = adapter.poll(None)
    fake.uidvalidity += 1  # the server renumbered the mailbox
    again = adapter.poll(first.cursor)
    assert [r.platform_id for r in again.replies] == [r.platform_id for r in first.replies]
    assert len(first.replies) == 1


@pytest.mark.parametrize(("failure", "error"), [
    ("auth", AuthenticationFailed),
    ("denied", AccessDenied),
    ("rate_limited", RateLimited),
    ("rate_limited_no_reset", RateLimited),
    ("server_error", TransientError),
    ("dropped", TransientError),
])
def test_send_failures_map_to_the_projects_errors(fake: FakeMail, tmp_path: Path,
                                                  failure: Any, error: type[ChannelError]
                                                  ) -> None:
    adapter = _adapter(fake, tmp_path)
    before = len(fake.world.visible())
    fake.fail("send", failure)
    with pytest.raises(error) as raised:
        adapter.send(_message("initech"))
    assert type(raised.value) is error
    assert PASSWORDS["ana"] not in str(raised.value)
    assert fake.sessions["send"] == 1  # no retry of its own
    assert len(fake.world.visible()) == before  # nothing was delivered
    if failure == "rate_limited":
        assert isinstance(raised.value, RateLimited)
        assert raised.value.reset_at == fake.world.now() + timedelta(seconds=RESET_AFTER_S)
    elif failure == "rate_limited_no_reset":
        assert isinstance(raised.value, RateLimited) and raised.value.reset_at is None
    sent = adapter.send(_message("initech"))  # the fault was for one session only
    assert fake.post_by_message_id(sent.platform_id) is not None


@pytest.mark.parametrize(("failure", "error"), [
    ("auth", AuthenticationFailed),
    ("denied", AccessDenied),
    ("rate_limited", RateLimited),
    ("rate_limited_no_reset", RateLimited),
    ("server_error", TransientError),
    ("dropped", TransientError),
])
def test_poll_failures_map_to_the_projects_errors(fake: FakeMail, tmp_path: Path,
                                                  failure: Any, error: type[ChannelError]
                                                  ) -> None:
    adapter = _adapter(fake, tmp_path)
    adapter.send(_message("acme"))
    _later(fake.world, hours=1)
    fake.fail("poll", failure)
    with pytest.raises(error) as raised:
        adapter.poll(None)
    assert type(raised.value) is error
    assert PASSWORDS["ana"] not in str(raised.value)
    assert fake.sessions["poll"] == 1  # gave up at the first failed mailbox, no retry
    if failure == "rate_limited":
        assert isinstance(raised.value, RateLimited)
        assert raised.value.reset_at == fake.world.now() + timedelta(seconds=RESET_AFTER_S)
    elif failure == "rate_limited_no_reset":
        assert isinstance(raised.value, RateLimited) and raised.value.reset_at is None
    assert len(adapter.poll(None).replies) == 1  # the next poll reads normally


def test_unreachable_servers_and_wrong_passwords(fake: FakeMail, tmp_path: Path) -> None:
    closed = {"host": "127.0.0.1", "port": fake_email.free_port()}
    adapter = _adapter(fake, tmp_path, smtp={**closed, "starttls": False},
                       imap={**closed, "ssl": False})
    with pytest.raises(TransientError):
        adapter.send(_message())
    with pytest.raises(TransientError):
        adapter.poll(None)
    wrong = {name: "not-the-password" for name in fake.kit.environ}
    adapter = _adapter(fake, tmp_path, environ=wrong)
    with pytest.raises(AuthenticationFailed):
        adapter.send(_message())
    with pytest.raises(AuthenticationFailed) as raised:
        adapter.poll(None)
    assert "not-the-password" not in str(raised.value)


def test_without_credentials_the_channel_says_which_variable_is_missing(
        fake: FakeMail, tmp_path: Path) -> None:
    adapter = _adapter(fake, tmp_path, environ={"FAKE_MAIL_BEN_PASSWORD": PASSWORDS["ben"]})
    reason = adapter.not_configured()
    assert reason is not None and "FAKE_MAIL_ANA_PASSWORD" in reason
    with pytest.raises(NotConfigured, match="FAKE_MAIL_ANA_PASSWORD"):
        adapter.send(_message())
    assert fake.sessions == {"send": 0, "poll": 0}  # nothing was asked of the servers
    configured = _adapter(fake, tmp_path)
    assert configured.not_configured() is None
    shown = repr(configured.describe())
    assert "$FAKE_MAIL_ANA_PASSWORD (set)" in shown
    assert all(password not in shown for password in PASSWORDS.values())


def test_email_offers_auto_and_confirm_but_not_assisted(fake: FakeMail,
                                                        tmp_path: Path) -> None:
    # email cannot find a message sent by hand: an interrupted send stays "uncertain"
    assert _adapter(fake, tmp_path).can_find_posts is False
    load_scenario_text(scenario_yaml(fake.kit, mode="confirm"), "race.yaml")
    with pytest.raises(ScenarioError) as raised:
        load_scenario_text(scenario_yaml(fake.kit, mode="assisted"), "race.yaml")
    (problem,) = raised.value.problems
    assert problem.path.endswith("mode") and "assisted" in problem.message


@pytest.mark.parametrize(("headers", "automated"), [
    ({"Auto-Submitted": "no"}, False),  # RFC 3834: a person wrote it
    ({"Auto-Submitted": "No"}, False),
    ({"Auto-Submitted": "no; owner=care@initech.test"}, False),
    ({}, False),
    ({"Auto-Submitted": "auto-replied"}, True),
    ({"Auto-Submitted": "auto-generated"}, True),
    ({"Auto-Submitted": "auto-notified; owner-email=care@initech.test"}, True),
    ({"X-Autoreply": "yes"}, True),
    ({"Precedence": "auto_reply"}, True),
])
def test_auto_submitted_no_is_a_person_and_anything_else_is_automated(
        fake: FakeMail, tmp_path: Path, headers: dict[str, str], automated: bool) -> None:
    adapter = _adapter(fake, tmp_path)
    sent = adapter.send(_message("initech"))
    _later(fake.world, minutes=30)
    mail = EmailMessage()
    mail["From"] = BRAND_ADDRESSES["initech"]
    mail["To"] = PERSONA_ADDRESSES["ana"]
    mail["Subject"] = "Re: your message"
    mail["In-Reply-To"] = sent.platform_id
    for name, value in headers.items():
        mail[name] = value
    mail.set_content("Thanks, we are looking into it.")
    _brand_sends(fake, "initech", mail)
    (reply,) = adapter.poll(None).replies
    assert reply.in_reply_to == sent.platform_id
    assert reply.automated is automated
    assert is_automated(mail) is automated  # the same verdict on the message itself
    # a person's answer is the brand's; an automatic one is kept, and never counts
    index = MatchIndex()
    index.add_post(sent.platform_id, "2025-03-03-initech-1", 0, sent.created_at, "live",
                   "ana", "initech")
    scenario = load_scenario_text(scenario_yaml(fake.kit), "race.yaml")
    record = index.record("live", reply, Roster.from_scenario(scenario), fake.world.now())
    assert (record.probe_id, record.from_brand, record.automated) == (
        "2025-03-03-initech-1", True, automated)


@pytest.mark.parametrize("threading", ["in_reply_to", "references", "plus_tag"])
def test_a_reply_is_credited_to_the_probe_its_headers_name_not_the_latest_one(
        fake: FakeMail, tmp_path: Path, threading: str) -> None:
    """Two probes to Initech from Ana; the answer to the first comes after the second was
    sent, so guessing by recency would credit the second. Each way of naming the probe
    (In-Reply-To alone, References alone, the plus-tagged address alone) finds the first."""
    adapter = _adapter(fake, tmp_path, plus_tag=True)
    first = adapter.send(_message("initech", probe="2025-03-03-initech-1",
                                  text="Initech: do you deliver on Sundays?"))
    tagged = str(_headers(fake, first.platform_id)["Reply-To"])
    _later(fake.world, hours=2)
    second = adapter.send(_message("initech", probe="2025-03-04-initech-1",
                                   text="Initech: the app crashes when I pay"))
    assert second.platform_id != first.platform_id
    _later(fake.world, hours=1)
    answer = EmailMessage()
    answer["From"] = f"Initech <{BRAND_ADDRESSES['initech']}>"
    answer["To"] = tagged if threading == "plus_tag" else PERSONA_ADDRESSES["ana"]
    answer["Subject"] = "Sunday deliveries"
    if threading == "in_reply_to":
        answer["In-Reply-To"] = first.platform_id
    elif threading == "references":
        answer["References"] = first.platform_id
    answer.set_content("Yes, we deliver on Sundays.")
    _brand_sends(fake, "initech", answer)

    (reply,) = adapter.poll(None).replies
    expected_fields = {
        "in_reply_to": (first.platform_id, None),
        "references": (first.platform_id, first.platform_id),
        "plus_tag": (None, first.platform_id),
    }[threading]
    assert (reply.in_reply_to, reply.conversation_id) == expected_fields
    scenario = load_scenario_text(scenario_yaml(fake.kit), "race.yaml")
    index = MatchIndex()
    for sent, probe in ((first, "2025-03-03-initech-1"), (second, "2025-03-04-initech-1")):
        index.add_post(sent.platform_id, probe, 0, sent.created_at, "live", "ana", "initech")
    match = index.match("live", reply, Roster.from_scenario(scenario))
    how = "conversation" if threading == "plus_tag" else "in_reply_to"
    assert (match.probe_id, match.step, match.matched_by, match.from_brand) == (
        "2025-03-03-initech-1", 0, how, True)
    # without any of them, recency would have credited the second probe
    bare = reply._replace(in_reply_to=None, conversation_id=None)
    assert index.match("live", bare, Roster.from_scenario(scenario)).probe_id == (
        "2025-03-04-initech-1")


@pytest.mark.parametrize(("offered", "refused"), [
    ("XOAUTH2 GSSAPI", True), ("PLAIN", False), ("login cram-md5", False)])
def test_a_server_offering_no_login_method_smtplib_speaks_is_refused_before_the_password(
        offered: str, refused: bool) -> None:
    """Decided from the server's EHLO (its AUTH line), not from smtplib's words afterwards."""
    from harness.channels import mail, smtp

    session = smtplib.SMTP()  # not connected: only its EHLO answer is looked at
    session.does_esmtp = True
    session.esmtp_features = {"auth": offered}
    server = mail.Server("mail.example.org", 587, ssl=False, starttls=True)
    if refused:
        with pytest.raises(AuthenticationFailed, match=r"no authentication method both sides "
                                                       r"speak \(the server offers GSSAPI XOAUTH2"):
            smtp.check_auth_methods(session, server)
    else:
        smtp.check_auth_methods(session, server)
