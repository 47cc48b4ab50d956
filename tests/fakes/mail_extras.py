"""More mail for the fake email servers (tests/fakes/fake_email.py), sent through their SMTP
like any other:

- :func:`copy_to_self`: a copy of a message a persona sent lands in the persona's own INBOX
  (it Bcc'd itself, or its provider files sent mail in the inbox): the same bytes, the same
  Message-ID, ``From`` the persona;
- :func:`brand_mail`: a brand's own message (an automatic reply with the headers of the
  test's choosing, ``In-Reply-To`` a persona's message).

In :class:`MailWorld` brands never see a persona's copy to itself (the World's brands react to
every email that names them, which a copy in the persona's own mailbox would otherwise do).
"""

from __future__ import annotations

import smtplib
from dataclasses import replace
from email.message import EmailMessage
from email.utils import format_datetime

from harness.clock import VirtualClock
from tests.fakes.fake_email import BRAND_ADDRESSES, PASSWORDS, PERSONA_ADDRESSES, FakeMail
from tests.fakes.race import BRANDS, PERSONAS, START, Kit
from tests.fakes.world import Post, World

BRAND_PASSWORD = "pw-brand-5a7c"


class MailWorld(World):
    """A world whose brands do not read the personas' mailboxes."""

    def _brands_react(self, post: Post) -> None:
        if post.kind == "email" and post.to is post.author:
            return  # a persona's copy to itself: no brand ever receives it
        super()._brands_react(post)


def new_mail_world(kit: Kit, clock: VirtualClock | None = None) -> MailWorld:
    """A :class:`MailWorld` with the race's personas and brands (as
    :func:`tests.fakes.race.new_world` makes them); brands may log in to the fake SMTP with
    :data:`BRAND_PASSWORD`."""
    world = MailWorld(clock or VirtualClock(START))
    for persona, name in PERSONAS.items():
        world.account(kit.persona_handles[persona], name, token=kit.tokens.get(persona))
    for brand, (name, script) in BRANDS.items():
        if not kit.auto_acks:
            script = replace(script, auto_ack=None)
        world.account(kit.brand_handles[brand], name, script=script, token=BRAND_PASSWORD)
    return world


def submit(fake: FakeMail, login: str, password: str, sender: str, recipients: list[str],
           content: bytes) -> None:
    """Send ``content`` through the fake SMTP server, logged in as ``login``."""
    with smtplib.SMTP("127.0.0.1", fake.smtp_port, timeout=10) as smtp:
        smtp.login(login, password)
        smtp.sendmail(sender, recipients, content)


def copy_to_self(fake: FakeMail, persona: str, message_id: str) -> None:
    """Deliver the message ``persona`` sent as ``message_id`` once more, to the persona."""
    address = PERSONA_ADDRESSES[persona]
    raw = fake.raw_message(message_id)
    # the fake keeps what it delivered with its own Return-Path and Delivered-To in front
    head, _, rest = raw.partition(b"\r\n")
    assert head.startswith(b"Return-Path:")
    head, _, rest = rest.partition(b"\r\n")
    assert head.startswith(b"Delivered-To:")
    submit(fake, address, PASSWORDS[persona], address, [address], rest)


def brand_mail(fake: FakeMail, brand: str, to: str, *, in_reply_to: str, subject: str,
               text: str, headers: dict[str, str]) -> None:
    """``brand`` writes to ``to`` (an address), in reply to the message ``in_reply_to``, with
    ``headers`` besides the usual ones."""
    mail = EmailMessage()
    mail["From"] = BRAND_ADDRESSES[brand]
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = format_datetime(fake.world.now())
    mail["In-Reply-To"] = in_reply_to
    mail["References"] = in_reply_to
    for name, value in headers.items():
        mail[name] = value
    mail.set_content(text)
    submit(fake, BRAND_ADDRESSES[brand], BRAND_PASSWORD, BRAND_ADDRESSES[brand], [to],
           mail.as_bytes(policy=mail.policy.clone(linesep="\r\n")))
