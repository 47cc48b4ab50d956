"""Email: replies marked ``X-Autoreply`` or ``X-Autorespond`` are automatic acknowledgements
(kept, labelled, never the brand's response), and copies of the persona's own mail that turn up
in its INBOX (it Bcc'd itself, or the provider files sent mail there) are not replies at all.

Through the real smtplib/imaplib adapter against the loopback SMTP and IMAP fakes: first the
adapter alone, then a live race through the runner.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from harness.channels.base import ChannelContext, OutgoingMessage
from harness.channels.email import EmailChannel
from harness.clock import VirtualClock
from harness.runner.loop import Runner
from harness.session.runs import execute
from harness.session.scenarios import load_scenario_text
from harness.store.sqlite import Store
from tests.fakes import fake_email
from tests.fakes.fake_email import BRAND_ADDRESSES, PERSONA_ADDRESSES, FakeMail
from tests.fakes.mail_extras import brand_mail, copy_to_self, new_mail_world, submit
from tests.fakes.race import Operator, scenario_yaml
from tests.simrun import export_rows

AUTOMATIC = "Thank you for contacting us. This is an automated reply; we aim to answer in 3 days."


@pytest.fixture
def fake() -> Iterator[FakeMail]:
    with fake_email.serve(new_mail_world(fake_email.kit())) as served:
        yield served


def _adapter(fake: FakeMail, state_dir: Path) -> EmailChannel:
    scenario = load_scenario_text(scenario_yaml(fake.kit), "race.yaml")
    context = ChannelContext(clock=fake.world.clock, state_dir=state_dir, seed=scenario.seed,
                             personas=scenario.personas, brands=scenario.brands,
                             timezone="UTC", environ=fake.kit.environ)
    return EmailChannel(scenario.channels[0], context)


def _message(brand: str, persona: str = "ana", step: int = 0,
             in_reply_to: str | None = None) -> OutgoingMessage:
    return OutgoingMessage(probe_id=f"2025-03-03-{brand}-1", step=step, persona_id=persona,
                           persona_account=PERSONA_ADDRESSES[persona], brand_id=brand,
                           brand_handles=(BRAND_ADDRESSES[brand],), mention="name",
                           category="technical", text=f"{brand}: the app crashes when I pay",
                           in_reply_to=in_reply_to)


def _later(fake: FakeMail, **delta: float) -> None:
    clock = fake.world.clock
    assert isinstance(clock, VirtualClock)
    clock.sleep_until(clock.now() + timedelta(**delta))


@pytest.mark.parametrize(("headers", "automated"), [
    ({"X-Autoreply": "yes"}, True),
    ({"x-autoreply": "YES"}, True),  # header names are case-insensitive
    ({"X-Autorespond": "Thank you for your message"}, True),
    ({"X-AutoRespond": "1"}, True),
    ({}, False),  # the same mail without the mark: the brand's own answer
    ({"X-Mailer": "Autoresponder-free client"}, False),
])
def test_x_autoreply_and_x_autorespond_mark_a_reply_as_automated(
        fake: FakeMail, tmp_path: Path, headers: dict[str, str], automated: bool) -> None:
    adapter = _adapter(fake, tmp_path)
    sent = adapter.send(_message("initech"))
    _later(fake, minutes=2)
    brand_mail(fake, "initech", PERSONA_ADDRESSES["ana"], in_reply_to=sent.platform_id,
               subject="Re: initech: the app crashes", text=AUTOMATIC, headers=headers)
    (reply,) = adapter.poll(None).replies
    assert (reply.automated, reply.in_reply_to, reply.author, reply.text) == (
        automated, sent.platform_id, BRAND_ADDRESSES["initech"], AUTOMATIC)
    # the mark is kept with the reply, as it came
    kept = {name: reply.raw[name] for name in ("x-autoreply", "x-autorespond")
            if name in reply.raw}
    assert kept == {name.lower(): value for name, value in headers.items()
                    if name.lower() in ("x-autoreply", "x-autorespond")}


def test_a_copy_of_the_personas_own_message_in_its_inbox_is_not_a_reply(
        fake: FakeMail, tmp_path: Path) -> None:
    adapter = _adapter(fake, tmp_path)
    first = adapter.send(_message("acme"))
    copy_to_self(fake, "ana", first.platform_id)  # Ana's copy of her own probe
    _later(fake, minutes=8)  # Acme answers in 7 min 13 s
    result = adapter.poll(None)
    (answer,) = result.replies
    assert (answer.author, answer.in_reply_to) == (BRAND_ADDRESSES["acme"], first.platform_id)
    # her follow-up, threaded under Acme's answer, copied to her inbox too
    follow = adapter.send(_message("acme", step=1, in_reply_to=answer.platform_id))
    copy_to_self(fake, "ana", follow.platform_id)
    _later(fake, minutes=6)
    (second,) = adapter.poll(result.cursor).replies
    assert (second.author, second.in_reply_to) == (BRAND_ADDRESSES["acme"], follow.platform_id)
    # both copies are there to be read, with her own address as sender
    ana = fake.world.by_handle(PERSONA_ADDRESSES["ana"])
    assert ana is not None
    assert [p.author for p in fake.mailbox(ana)].count(ana) == 2
    # read from scratch, the mailbox still gives only Acme's two messages
    again = adapter.poll(None).replies
    assert [r.author for r in again] == [BRAND_ADDRESSES["acme"]] * 2


def test_a_copy_is_known_by_its_address_whatever_the_display_name_or_case(
        fake: FakeMail, tmp_path: Path) -> None:
    adapter = _adapter(fake, tmp_path)
    adapter.send(_message("initech"))
    _later(fake, minutes=1)
    mail = (b"From: Ana Lopez <ANA@Shopper.Test>\r\nTo: support@initech.test\r\n"
            b"Subject: note to self\r\nMessage-ID: <note-1@shopper.test>\r\n\r\nremember\r\n")
    submit(fake, PERSONA_ADDRESSES["ana"], fake.kit.environ["FAKE_MAIL_ANA_PASSWORD"],
            PERSONA_ADDRESSES["ana"], [PERSONA_ADDRESSES["ana"]], mail)
    assert adapter.poll(None).replies == []


# -- through the runner ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def race(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two days of the small race over email, in which every message a persona sends is also
    copied to its own INBOX, Initech answers every first message at once with an
    ``X-Autoreply: yes`` mail and Acme with an ``X-Autorespond`` one (Acme also answers for
    real after 7 min 13 s; Initech never does)."""
    folder = tmp_path_factory.mktemp("email") / "run"
    world = new_mail_world(fake_email.kit())
    marks = {"initech": {"X-Autoreply": "yes"},
             "acme": {"X-Autorespond": "Thanks! We will be in touch."}}

    with fake_email.serve(world) as fake:
        def mail_on_each_send(runner: Runner) -> None:
            def sent(probe_id: str, step: int, **_: object) -> None:
                probe = runner.by_id[probe_id]
                message_id = runner.attempts[(probe_id, step)].platform_id
                assert message_id is not None
                copy_to_self(fake, probe.persona, message_id)
                if step == 0 and probe.brand in marks:
                    brand_mail(fake, probe.brand, PERSONA_ADDRESSES[probe.persona],
                               in_reply_to=message_id, subject="Re: your message",
                               text=AUTOMATIC, headers=marks[probe.brand])

            runner.events.sent.add_listener(sent)

        scenario = load_scenario_text(scenario_yaml(fake.kit, days=2, window="2h"), "m.yaml")
        result = execute(scenario, folder, live=True, clock=world.clock,
                         environ=fake.kit.environ, operator=Operator(), caps=(None, None),
                         on_runner=mail_on_each_send)
        copies = [p for p in world.visible() if p.kind == "email" and p.to is p.author]
    store = Store.open(folder / "run.sqlite")
    try:
        replies, sends = store.replies(), store.sends()
    finally:
        store.close()
    return {"result": result, "rows": {str(r["probe_id"]): r for r in export_rows(folder)},
            "replies": replies, "sends": sends, "copies": copies}


def test_the_race_stores_x_autoreply_mail_as_automated_and_never_as_the_answer(
        race: dict[str, Any]) -> None:
    assert race["result"].finished
    marked = [r for r in race["replies"] if r.text == AUTOMATIC]
    assert len(marked) == 4  # two first messages each to Initech and Acme
    for reply in marked:
        raw = json.loads(reply.raw)
        assert reply.automated and reply.from_brand and reply.matched_by == "in_reply_to"
        assert ("x-autoreply" in raw) != ("x-autorespond" in raw)
    rows = race["rows"]
    for row in rows.values():
        if row["brand"] == "initech":  # only the automatic reply: unanswered
            assert (row["auto_acks"], row["responded"], row["brand_replies"], row["latency_s"],
                    row["first_reply_at"], row["level"]) == (1, False, 0, None, None, 0), row
        elif row["brand"] == "acme":  # answered 7 min 13 s after, not at once by the robot
            assert (row["auto_acks"], row["responded"], row["latency_s"]) == (1, True, 433), row
        assert row["other_replies"] == 0, row  # no copy counted as someone else's reply
    # the run's tally counts what the export calls responded: robots and late replies left out
    assert race["result"].answered == sum(1 for r in rows.values() if r["responded"])
    assert not any(r["brand_replies"] for r in rows.values() if r["brand"] == "initech")


def test_the_race_records_no_copy_of_the_personas_own_mail(race: dict[str, Any]) -> None:
    sent = [s for s in race["sends"] if s.state == "sent"]
    assert len(race["copies"]) == len(sent) and any(s.step == 1 for s in sent)
    personas = set(PERSONA_ADDRESSES.values())
    assert [r for r in race["replies"] if r.author in personas] == []
    ours = {s.platform_id for s in sent}
    assert [r for r in race["replies"] if r.platform_id in ours] == []


def test_an_automatic_reply_does_not_trigger_the_follow_up(race: dict[str, Any]) -> None:
    (follow_up,) = [s for s in race["sends"] if s.step == 1 and s.state == "sent"]
    answered = {r.platform_id: r for r in race["replies"]}[follow_up.in_reply_to or ""]
    assert not answered.automated and answered.from_brand
    assert answered.text != AUTOMATIC
    assert follow_up.intended_at == answered.created_at + timedelta(minutes=10)
