"""What the harness fixes before calling a platform is in the store before the call, so a reply
that threads to a send a crash left uncertain is credited to that send (and proves it went),
never to the brand's previous probe; and a reply naming a message we do not know is never
guessed onto another probe."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from harness.channels.base import IncomingReply, OutgoingMessage, SentPost
from harness.channels.email import EmailChannel
from harness.runner.matching import MatchIndex
from harness.runner.roster import Roster
from harness.session.scenarios import load_scenario_text
from harness.store.sqlite import Store
from tests.fakes import fake_email
from tests.fakes.race import check_against_world, new_world, run_race, scenario_yaml

CRASHED = "2025-03-04-acme-1"  # acme's second probe: its first, the day before, is the decoy


class Crash(BaseException):
    """The process dies here: nothing after this line of the runner happens."""


@pytest.mark.slow
def test_an_email_accepted_just_before_a_crash_keeps_its_replies_on_its_own_probe(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    world = new_world(fake_email.kit())
    folder = tmp_path / "run"
    real_send = EmailChannel.send

    def accepted_then_killed(self: EmailChannel, message: OutgoingMessage) -> SentPost:
        post = real_send(self, message)  # the server said 250: the mail is on its way
        if message.probe_id == CRASHED and message.step == 0:
            raise Crash
        return post

    with fake_email.serve(world) as fake:
        monkeypatch.setattr(EmailChannel, "send", accepted_then_killed)
        with pytest.raises(Crash):
            run_race(fake.kit, world, folder)
        store = Store.open(folder / "run.sqlite")
        try:
            [intent] = [s for s in store.sends() if s.probe_id == CRASHED]
        finally:
            store.close()
        assert intent.state == "intended" and intent.platform_id, "the Message-ID was stored"
        monkeypatch.setattr(EmailChannel, "send", real_send)
        result = run_race(fake.kit, world, folder)  # resumed, as after a restart
        assert result.finished
        # Every reply on the probe whose message it answers; the crashed send proven sent by
        # the brand's reply to it (not left uncertain); nothing posted twice.
        rows = check_against_world(fake.kit, world, folder, world_id=fake.world_id)
    crashed = next(r for r in rows if r["probe_id"] == CRASHED)
    assert crashed["responded"] is True and crashed["status"] == "closed"
    store = Store.open(folder / "run.sqlite")
    try:
        sends = {(s.probe_id, s.step): s for s in store.sends()}
        replies = store.replies()
    finally:
        store.close()
    assert sends[(CRASHED, 0)].state == "sent"
    assert sends[(CRASHED, 0)].platform_id == intent.platform_id
    assert {r.matched_by for r in replies} == {"in_reply_to"}


def test_a_reply_naming_an_unknown_message_is_not_guessed_onto_the_latest_probe() -> None:
    scenario = load_scenario_text(scenario_yaml(fake_email.kit()), "race.yaml")
    roster = Roster.from_scenario(scenario)
    index = MatchIndex()
    sent = datetime(2025, 3, 3, 10, tzinfo=UTC)
    brand = fake_email.BRAND_ADDRESSES["acme"]
    persona = fake_email.PERSONA_ADDRESSES["ana"]
    index.add_post("<ours@example.test>", "2025-03-03-acme-1", 0, sent, "live", "ana", "acme")
    unknown = IncomingReply("<theirs@acme.test>", sent.replace(hour=11), brand, "email",
                            "Re: your question", in_reply_to="<never-seen@example.test>",
                            to_account=persona)
    assert index.match("live", unknown, roster).probe_id is None
    unthreaded = unknown._replace(platform_id="<dm@acme.test>", in_reply_to=None,
                                  kind="direct_message")
    match = index.match("live", unthreaded, roster)  # names nothing: the latest probe it is
    assert (match.probe_id, match.matched_by) == ("2025-03-03-acme-1", "recent_probe")
