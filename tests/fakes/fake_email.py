"""Fake mail servers on loopback over a World: SMTP (aiosmtpd) and a small IMAP4rev1 server.

SMTP (submission without TLS, AUTH PLAIN/LOGIN against the accounts' tokens) delivers each
accepted message into the World as a post of kind ``email``; a message whose ``In-Reply-To``
names a World post answers it, so the scripted brands react as they do on every platform.
IMAP serves each account's INBOX: the World's emails to it, in order (UID = position), rendered
as RFC 5322 messages with Message-ID, In-Reply-To/References (brand answers reply to the
Reply-To of what they answer), Auto-Submitted for automated ones, and INTERNALDATE = the World
post's time, to the second. Both servers read the World's clock, so a virtual one works.

Faults are forced per session (one SMTP session sends one message; one IMAP session reads one
mailbox): see :meth:`FakeMail.fail` and :meth:`FakeMail.force`; injected at random in a rate of
the sessions (:meth:`FakeMail.inject`: :data:`SMTP_RANDOM`, :data:`SMTP_ACCEPTED`,
:data:`IMAP_RANDOM`, each striking where :data:`SMTP_PLAN` / :data:`IMAP_PLAN` say); or forced on
every session in a stretch of world time (:meth:`FakeMail.outage`). Every session is logged with
the world time it began and the fault it met (:meth:`FakeMail.traffic`).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import re
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, formataddr
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.fakes.http import Injector, RandomFault
from tests.fakes.platform import RESET_AFTER_S, Failure, Hit, Operation, Traffic
from tests.fakes.race import BRANDS, Kit
from tests.fakes.tls import TLSWrapping
from tests.fakes.world import Account, Post, World

PERSONA_ADDRESSES = {"ana": "ana@shopper.test", "ben": "ben@shopper.test"}
BRAND_ADDRESSES = {"acme": "help@acme.test", "globex": "care@globex.test",
                   "initech": "support@initech.test"}
PASSWORDS = {"ana": "pw-ana-3c9e71", "ben": "pw-ben-a04f2d"}
UIDVALIDITY = 1740000000
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MSG_ID = re.compile(r"<[^<>\s]+>")

SMTP_FAULTS: dict[str, str] = {
    "auth": "535 5.7.8 Authentication credentials invalid",
    "denied": "550 5.7.1 Delivery not authorized, message refused",
    "rate_limited": f"421 4.7.0 Too many messages, try again in {RESET_AFTER_S} seconds",
    "rate_limited_no_reset": "421 4.7.0 Too many messages, try again later",
    "server_error": "451 4.3.0 Temporary server error, please try again later",
}
IMAP_FAULTS: dict[str, str] = {
    "auth": "NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)",
    "denied": "NO [NOPERM] Access to this mailbox is not allowed",
    "rate_limited": f"NO [LIMIT] Too many connections, try again in {RESET_AFTER_S} seconds",
    "rate_limited_no_reset": "NO [LIMIT] Too many connections, try again later",
    "server_error": "NO [UNAVAILABLE] Temporary server failure, try again later",
}


@dataclass(frozen=True)
class MailFault:
    """The fault a mail session meets: a :data:`Failure` forced by :meth:`FakeMail.fail`, or
    a kind of :data:`SMTP_PLAN` / :data:`IMAP_PLAN` forced by :meth:`FakeMail.force` or drawn
    at random."""

    name: str
    reset_at: datetime | None = None
    """For a rate limit that says when to come back: that time (world clock)."""
    delay: float = 0.0
    """For a stall: real seconds, longer than the client's timeout."""


# Where each SMTP fault strikes (auth, mail, rcpt, data: before delivering, delivered: after
# the message was put in the brand's mailbox) and how: a reply, "drop" (the connection closes
# unanswered) or "stall" (no answer until the client gives up, then the connection closes).
SMTP_PLAN: dict[str, tuple[str, str]] = {
    "auth": ("auth", "535"),
    "denied": ("rcpt", SMTP_FAULTS["denied"]),
    "rate_limited": ("mail", "421 4.7.0 Too many messages, try again in {wait} seconds"),
    "rate_limited_no_reset": ("mail", SMTP_FAULTS["rate_limited_no_reset"]),
    "server_error": ("data", SMTP_FAULTS["server_error"]),
    "dropped": ("mail", "drop"),
    # random kinds
    "421_reset": ("mail", "421 4.7.0 Too many messages, try again in {wait} seconds"),
    "421": ("mail", SMTP_FAULTS["rate_limited_no_reset"]),
    "452": ("mail", "452 4.3.1 Insufficient system storage, try again later"),
    "450_rcpt": ("rcpt", "450 4.2.1 Mailbox temporarily unavailable, try again later"),
    "451": ("data", SMTP_FAULTS["server_error"]),
    "drop_auth": ("auth", "drop"),
    "drop": ("mail", "drop"),
    "drop_data": ("data", "drop"),
    "timeout": ("mail", "stall"),
    "accepted_drop": ("delivered", "drop"),
    "accepted_timeout": ("delivered", "stall"),
    "outage": ("mail", "421 4.3.2 Service not available, closing transmission channel"),
}
# The same for IMAP sessions (greeting, login, select, search, read: the SEARCH answer or,
# when there is mail to fetch, the FETCH answer, cut off mid-way).
IMAP_PLAN: dict[str, tuple[str, str]] = {
    "auth": ("login", IMAP_FAULTS["auth"]),
    "denied": ("select", IMAP_FAULTS["denied"]),
    "rate_limited": ("login", "NO [LIMIT] Too many connections, try again in {wait} seconds"),
    "rate_limited_no_reset": ("login", IMAP_FAULTS["rate_limited_no_reset"]),
    "server_error": ("login", IMAP_FAULTS["server_error"]),
    "dropped": ("login", "drop"),
    # random kinds
    "limit_reset": ("login", "NO [LIMIT] Too many connections, try again in {wait} seconds"),
    "limit": ("login", IMAP_FAULTS["rate_limited_no_reset"]),
    "unavailable": ("login", IMAP_FAULTS["server_error"]),
    "bye": ("greeting", "* BYE [UNAVAILABLE] Server shutting down, try again later"),
    "drop_login": ("login", "drop"),
    "drop_select": ("select", "drop"),
    "drop_read": ("read", "drop"),
    "malformed": ("search", "garbage"),
    "timeout": ("select", "stall"),
    "outage": ("login", IMAP_FAULTS["server_error"]),
}
SMTP_RANDOM = ("421_reset", "421", "452", "450_rcpt", "451", "drop_auth", "drop", "drop_data")
"""Random SMTP faults, none final, none after the message was accepted."""
SMTP_ACCEPTED = ("accepted_drop", "accepted_timeout")
"""Random SMTP faults after the server accepted the message (and delivered it): the client
sees a dropped connection or no answer, though the brand got the mail."""
IMAP_RANDOM = ("limit_reset", "limit", "unavailable", "bye", "drop_login", "drop_select",
               "drop_read", "malformed")


def mail_mix(names: tuple[str, ...], now: Callable[[], datetime], *,
             timeout_s: float | None = None,
             reset_minutes: tuple[int, int] = (2, 10)) -> list[RandomFault[MailFault]]:
    """Random faults ``names`` (plus stalls when ``timeout_s`` is given); rate limits with a
    reset time name one a few minutes after the world's ``now()``."""
    def make(name: str, delay: float = 0.0) -> RandomFault[MailFault]:
        def build(rng: random.Random) -> MailFault:
            reset = None
            if name in ("421_reset", "limit_reset"):
                reset = now() + timedelta(minutes=rng.randint(*reset_minutes),
                                          seconds=rng.randint(0, 59))
            return MailFault(name, reset, delay)
        return RandomFault(name, build, 0.5 if delay else 1.0)

    mix = [make(name) for name in names]
    if timeout_s is not None:  # a stall before anything happened; for SMTP, also after
        stalls = ["timeout", *(["accepted_timeout"] if "accepted_drop" in names else [])]
        mix += [make(name, 2 * timeout_s) for name in stalls]
    return mix


def kit(smtp_port: int = 0, imap_port: int = 0) -> Kit:
    """The race's settings, environment and addresses for fake servers on these ports."""
    return Kit(
        adapter="email", platform="email",
        settings={
            "smtp": {"host": "127.0.0.1", "port": smtp_port, "starttls": False},
            "imap": {"host": "127.0.0.1", "port": imap_port, "ssl": False},
            "passwords": {p: {"env": f"FAKE_MAIL_{p.upper()}_PASSWORD"} for p in PASSWORDS},
            "plus_tag": True,
            "timeout": "10s",
        },
        environ={f"FAKE_MAIL_{p.upper()}_PASSWORD": pw for p, pw in PASSWORDS.items()},
        persona_handles=dict(PERSONA_ADDRESSES), brand_handles=dict(BRAND_ADDRESSES),
        tokens=dict(PASSWORDS), public_kind="email", dms=False,
    )


def internaldate(moment: datetime) -> str:
    """IMAP's date-time: ``03-Mar-2025 09:07:13 +0000``."""
    return (f"{moment.day:02d}-{_MONTHS[moment.month - 1]}-{moment.year} "
            f"{moment:%H:%M:%S} +0000")


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower() or "fake.test"


def _base_address(address: str) -> str:
    """``ana+tag@shopper.test`` -> ``ana@shopper.test``."""
    local, _, domain = address.strip().strip("<>").rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}"


def _plain_text(mail: EmailMessage) -> str:
    part = mail.get_body(preferencelist=("plain", "html"))
    content = part.get_content() if isinstance(part, EmailMessage) else ""
    return str(content).strip()


class FakeMail:
    """SMTP and IMAP over a World, with forced faults and a log of mailbox reads."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.uidvalidity = UIDVALIDITY
        self.lock = threading.Lock()
        self.reads: list[datetime] = []
        self.sessions: dict[Operation, int] = {"send": 0, "poll": 0}
        self.log: list[Hit] = []
        """Every SMTP and IMAP session: world time it began, the fault it met."""
        self.injectors: dict[Operation, Injector[MailFault]] = {"send": Injector(),
                                                                "poll": Injector()}
        self.outages: list[tuple[datetime, datetime, Operation | None]] = []
        self.cut_fetches = 0
        """The next this many FETCH answers leave out their last message (yet say OK)."""
        self._faults: dict[Operation, list[tuple[str, float]]] = {"send": [], "poll": []}
        """Forced faults for the next sessions: name, and for a stall its length."""
        self._message_ids: dict[str, str] = {}  # World post id -> Message-ID
        self._posts: dict[str, Post] = {}  # Message-ID -> World post
        self._raw: dict[str, bytes] = {}  # World post id -> the message as delivered
        self._rendered: dict[str, bytes] = {}
        self._flags: dict[str, set[str]] = {}
        self._numbers = itertools.count(1)
        self.smtp_port = 0
        self.imap_port = 0
        self.kit = kit()

    # -- the FakePlatform protocol ----------------------------------------------------------

    def fail(self, operation: Operation, failure: Failure, count: int = 1) -> None:
        """Make the next ``count`` sessions of ``operation`` fail. ``send`` (SMTP): ``auth``
        535 on AUTH, ``denied`` 550 5.7.1 on RCPT, ``rate_limited`` 421 4.7.0 on MAIL saying
        to try again in ``RESET_AFTER_S`` seconds (``rate_limited_no_reset``: "later"),
        ``server_error`` 451 after DATA, ``dropped`` the connection closed on MAIL. ``poll``
        (IMAP): ``auth`` NO [AUTHENTICATIONFAILED] on LOGIN, ``denied`` NO [NOPERM] on
        SELECT/EXAMINE, ``rate_limited`` NO [LIMIT] on LOGIN (with or without a time),
        ``server_error`` NO [UNAVAILABLE] on LOGIN, ``dropped`` the connection closed on
        LOGIN."""
        with self.lock:
            self._faults[operation].extend([(failure, 0.0)] * count)

    def force(self, operation: Operation, name: str, count: int = 1, *,
              stall_s: float = 0.0) -> None:
        """Make the next ``count`` sessions of ``operation`` meet the fault ``name`` (a key of
        :data:`SMTP_PLAN` for ``send``, :data:`IMAP_PLAN` for ``poll``), e.g.
        ``accepted_drop``; a stall (``timeout``, ``accepted_timeout``) lasts ``stall_s``."""
        plan = SMTP_PLAN if operation == "send" else IMAP_PLAN
        if name not in plan:
            raise ValueError(f"no {operation} fault {name!r}: one of {', '.join(plan)}")
        with self.lock:
            self._faults[operation].extend([(name, stall_s)] * count)

    def inject(self, rate: float, seed: int, *, timeout_s: float | None = None,
               accepted: bool = True, smtp_rate: float | None = None) -> None:
        """Fail ``rate`` of the IMAP sessions and of the SMTP sessions (``smtp_rate`` of
        those, if given: a race has few), each exactly (at 20%, one in five), with faults
        from :data:`IMAP_RANDOM` / :data:`SMTP_RANDOM`, seeded; with ``accepted``, also
        :data:`SMTP_ACCEPTED` (the message delivered, the client never told). ``timeout_s``:
        the adapter's timeout as the test set it (settings ``timeout``): stalls twice as long
        join the mix."""
        smtp = SMTP_RANDOM + (SMTP_ACCEPTED if accepted else ())
        with self.lock:
            self.injectors["send"].configure(
                rate if smtp_rate is None else smtp_rate, seed,
                mail_mix(smtp, self.world.now, timeout_s=timeout_s))
            self.injectors["poll"].configure(rate, seed + 1, mail_mix(
                IMAP_RANDOM, self.world.now, timeout_s=timeout_s))

    def outage(self, start: datetime, end: datetime,
               operation: Operation | None = None) -> None:
        """Every session (SMTP for ``send``, IMAP for ``poll``, both if None) that begins
        between ``start`` and ``end`` (world time) fails: SMTP 421 4.3.2 service not available,
        IMAP NO [UNAVAILABLE]."""
        with self.lock:
            self.outages.append((start, end, operation))

    def traffic(self) -> Traffic:
        with self.lock:
            return Traffic(list(self.log))

    def read_times(self) -> list[str]:
        """World time of each mailbox opened (SELECT or EXAMINE), oldest first."""
        with self.lock:
            return [moment.isoformat() for moment in self.reads]

    def post_as(self, persona: str, text: str) -> str:
        """An email ``persona`` sends by hand to the first brand named in ``text`` (else the
        first brand); returns its Message-ID."""
        account = self._account(PERSONA_ADDRESSES[persona])
        brand = next((b for b, (name, _) in BRANDS.items() if name.lower() in text.lower()),
                     next(iter(BRANDS)))
        with self.world.lock:
            post = self.world.post(account, text, kind="email",
                                   to=self._account(BRAND_ADDRESSES[brand]),
                                   subject=text.splitlines()[0][:60] if text else "")
            return self.message_id(post)

    def world_id(self, message_id: str) -> str:
        """The World's id of the post with this Message-ID."""
        post = self.post_by_message_id(message_id)
        assert post is not None, f"no message {message_id} was ever delivered"
        return post.id

    # -- World posts as messages ------------------------------------------------------------

    def message_id(self, post: Post) -> str:
        return self._message_ids.get(post.id) or f"<{post.id}@{_domain(post.author.handle)}>"

    def post_by_message_id(self, message_id: str) -> Post | None:
        message_id = message_id.strip()
        if message_id in self._posts:
            return self._posts[message_id]
        match = re.fullmatch(r"<(\d+)@[^>]+>", message_id)
        post = self.world.post_by_id(match.group(1)) if match else None
        return post if post is not None and self.message_id(post) == message_id else None

    def raw_message(self, message_id: str) -> bytes:
        """A delivered message as it arrived (for tests to read its headers)."""
        post = self.post_by_message_id(message_id)
        assert post is not None
        return self.render(post)

    def references(self, post: Post) -> list[str]:
        if post.id in self._raw:
            mail = BytesParser(policy=policy.default).parsebytes(self._raw[post.id])
            return _MSG_ID.findall(str(mail.get("References", "")))
        parent = post.in_reply_to
        return [*self.references(parent), self.message_id(parent)] if parent else []

    def render(self, post: Post) -> bytes:
        """``post`` as the RFC 5322 message its recipient's mailbox holds."""
        if post.id in self._raw:
            return self._raw[post.id]
        if post.id not in self._rendered:
            mail = EmailMessage()
            to = post.to.handle if post.to else ""
            parent = post.in_reply_to
            if parent is not None and parent.headers.get("Reply-To"):
                to = parent.headers["Reply-To"]  # brands answer the address we asked them to
            mail["Return-Path"] = f"<{post.author.handle}>"
            mail["Delivered-To"] = to
            mail["From"] = formataddr((post.author.name, post.author.handle))
            mail["To"] = to
            mail["Subject"] = post.subject or "(no subject)"
            mail["Date"] = format_datetime(post.created_at)
            mail["Message-ID"] = self.message_id(post)
            if parent is not None:
                mail["In-Reply-To"] = self.message_id(parent)
                mail["References"] = " ".join([*self.references(parent),
                                               self.message_id(parent)])
            for name, value in post.headers.items():
                mail[name] = value
            mail.set_content(post.text)
            self._rendered[post.id] = mail.as_bytes(policy=policy.SMTP)
        return self._rendered[post.id]

    def mailbox(self, account: Account) -> list[Post]:
        """``account``'s INBOX, oldest first: message i has UID i + 1."""
        return self.world.messages_to(account, "email")

    def _account(self, address: str) -> Account:
        account = self.world.by_handle(address)
        assert account is not None, f"no account {address} in the world"
        return account

    # -- SMTP -------------------------------------------------------------------------------

    def take_fault(self, operation: Operation) -> MailFault | None:
        """The fault a new session of ``operation`` meets (forced, outage, random), logged."""
        with self.lock:
            self.sessions[operation] += 1
            now = self.world.now()
            fault: MailFault | None = None
            if self._faults[operation]:
                name, stall = self._faults[operation].pop(0)
                reset = now + timedelta(seconds=RESET_AFTER_S) if name == "rate_limited" \
                    else None
                fault = MailFault(name, reset, stall)
            elif any(start <= now < end and which in (None, operation)
                     for start, end, which in self.outages):
                fault = MailFault("outage")
            else:
                chosen = self.injectors[operation].draw()
                if chosen is not None:
                    fault = chosen.make(self.injectors[operation].random)
            self.log.append(Hit(now, "smtp" if operation == "send" else "imap",
                                fault.name if fault else "", fault.reset_at if fault else None))
            return fault

    def said(self, plan: str, fault: MailFault) -> str:
        """A fault's reply, with its wait filled in."""
        wait = int((fault.reset_at - self.world.now()).total_seconds()) if fault.reset_at else 0
        return plan.format(wait=wait)

    def deliver(self, envelope: Envelope) -> str:
        """Put an accepted message into the World; returns the queue id."""
        raw = envelope.content if isinstance(envelope.content, bytes) else bytes(
            str(envelope.content), "utf-8")
        mail = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(mail, EmailMessage)
        sender = self._account(envelope.mail_from or "")
        found = _MSG_ID.search(str(mail.get("Message-ID", "")))
        message_id = found.group(0) if found else f"<fake-{next(self._numbers)}@smtp.fake.test>"
        answered = _MSG_ID.search(str(mail.get("In-Reply-To", "")))
        parent = self.post_by_message_id(answered.group(0)) if answered else None
        headers = {name: " ".join(str(mail[name]).split()) for name in
                   ("Message-ID", "Reply-To", "In-Reply-To", "References", "Auto-Submitted")
                   if mail[name] is not None}
        with self.world.lock:
            for recipient in envelope.rcpt_tos:
                post = self.world.post(sender, _plain_text(mail), kind="email",
                                       to=self._account(_base_address(recipient)),
                                       in_reply_to=parent, subject=str(mail["Subject"] or ""),
                                       headers=headers)
                self._message_ids[post.id] = message_id
                self._posts.setdefault(message_id, post)
                self._raw[post.id] = (f"Return-Path: <{envelope.mail_from}>\r\n"
                                      f"Delivered-To: {recipient}\r\n").encode() + raw
        return message_id


class _SmtpHandler:
    """aiosmtpd hooks: authentication against the World's tokens, faults, delivery."""

    def __init__(self, fake: FakeMail) -> None:
        self.fake = fake

    def _fault(self, session: Session, stage: str) -> tuple[MailFault, str] | None:
        """The session's fault and what it does, if it strikes at ``stage``."""
        if not hasattr(session, "fake_fault"):
            session.fake_fault = self.fake.take_fault("send")  # type: ignore[attr-defined]
        fault: MailFault | None = session.fake_fault  # type: ignore[attr-defined]
        if fault is None or SMTP_PLAN[fault.name][0] != stage:
            return None
        return fault, self.fake.said(SMTP_PLAN[fault.name][1], fault)

    @staticmethod
    def _drop(server: SMTP) -> str:
        assert server.transport is not None
        server.transport.close()
        return "421 4.4.2 connection dropped"  # never reaches the client

    async def _strike(self, server: SMTP, fault: MailFault, action: str) -> str | None:
        """Drop, stall or answer as the fault says (None: go on as if nothing happened)."""
        if action == "drop":
            return self._drop(server)
        if action == "stall":
            await asyncio.sleep(fault.delay)  # the client gives up first
            return self._drop(server)
        return action

    def authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                     auth_data: Any) -> AuthResult:
        struck = self._fault(session, "auth")
        if struck is not None and struck[1] == "drop":
            self._drop(server)
            return AuthResult(success=False, handled=False)
        if struck is not None or not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode("utf-8", "replace")
        account = self.fake.world.by_handle(login)
        if account is None or not account.token or (
                auth_data.password.decode("utf-8", "replace") != account.token):
            return AuthResult(success=False, handled=False)
        session.fake_user = account.handle  # type: ignore[attr-defined]
        return AuthResult(success=True, auth_data=login)

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, mail_options: list[str]) -> str:
        struck = self._fault(session, "mail")
        if struck is not None:
            said = await self._strike(server, *struck)
            if said is not None:
                return said
        user = getattr(session, "fake_user", None)
        if not session.authenticated or user is None:
            return "530 5.7.0 Authentication required"
        if address.lower() != user.lower():
            return "553 5.7.1 Sender address rejected: not owned by user"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        struck = self._fault(session, "rcpt")
        if struck is not None:
            said = await self._strike(server, *struck)
            if said is not None:
                return said
        if self.fake.world.by_handle(_base_address(address)) is None:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        struck = self._fault(session, "data")
        if struck is not None:
            said = await self._strike(server, *struck)
            if said is not None:
                return said
        queued = self.fake.deliver(envelope)
        struck = self._fault(session, "delivered")
        if struck is not None:  # delivered, but the client will not hear so
            said = await self._strike(server, *struck)
            if said is not None:
                return said
        return f"250 2.0.0 OK queued as {queued}"


class _Controller(Controller):
    """aiosmtpd's threaded controller on a port the system picks."""

    def _trigger_server(self) -> None:
        sockets = getattr(self.server, "sockets", None)  # bound by now, before the first client
        if sockets and not self.port:
            self.port = sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


# -- IMAP -----------------------------------------------------------------------------------


class _Bad(Exception):
    """A command the fake cannot parse: answered BAD."""


class _Drop(Exception):
    """A fault: close the connection now, without an answer."""


def _tokens(text: str) -> list[tuple[str, str]]:
    """IMAP arguments as (kind, value): ``atom`` (brackets kept whole, e.g. BODY.PEEK[]),
    ``string`` (quoted or literal), ``(`` and ``)``."""
    out: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == " ":
            i += 1
        elif char in "()":
            out.append((char, char))
            i += 1
        elif char == '"':
            i += 1
            value = []
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                value.append(text[i])
                i += 1
            if i >= n:
                raise _Bad("unterminated quoted string")
            out.append(("string", "".join(value)))
            i += 1
        elif char == "\x00":  # a literal's placeholder: \x00<index>\x00
            end = text.index("\x00", i + 1)
            out.append(("literal", text[i + 1:end]))
            i = end + 1
        else:
            start, depth = i, 0
            while i < n and (depth or text[i] not in " ()"):
                depth += {"[": 1, "]": -1}.get(text[i], 0)
                i += 1
            out.append(("atom", text[start:i]))
    return out


def _numbers(spec: str, highest: int) -> set[int]:
    """A sequence set (``1:3,7,9:*``) as numbers; ``*`` is the highest in use."""
    found: set[int] = set()
    for part in spec.split(","):
        ends = [highest if e == "*" else int(e) for e in part.split(":")]
        if len(ends) > 2 or any(e < 0 for e in ends):
            raise _Bad(f"bad sequence set {spec}")
        low, high = min(ends), max(ends)
        found.update(range(low, high + 1))
    return found


def _imap_day(text: str) -> datetime:
    day, month, year = text.split("-")
    return datetime(int(year), _MONTHS.index(month.title()) + 1, int(day))


class _ImapHandler(socketserver.StreamRequestHandler):
    """One IMAP session."""

    disable_nagle_algorithm = True
    timeout = 30
    server: _ImapServer

    def handle(self) -> None:
        self.fake = self.server.fake
        self.fault = self.fake.take_fault("poll")
        self.account: Account | None = None
        self.messages: list[Post] | None = None
        self.readonly = True
        self.out: list[bytes] = []
        self.uid_floor = 0  # the lowest UID the last UID SEARCH asked for
        greeting = self._struck("greeting")
        if greeting is not None:
            self.request.sendall(greeting.encode() + b"\r\n")
            return
        self.request.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] fake IMAP ready\r\n")
        while True:
            try:
                line = self._command_line()
            except (OSError, ValueError):
                return
            if line is None:
                return
            tag, _, rest = line.partition(" ")
            if not tag or not rest:
                self._send(f"{tag or '*'} BAD missing command")
                continue
            name, _, args = rest.partition(" ")
            try:
                keep_going = self._dispatch(tag, name.upper(), args)
            except _Bad as exc:
                self._send(f"{tag} BAD {exc}")
                keep_going = True
            except (ValueError, IndexError) as exc:
                self._send(f"{tag} BAD {type(exc).__name__}: {exc}")
                keep_going = True
            except _Drop:
                return  # the connection closes unanswered
            if not keep_going:
                return

    # -- wire -------------------------------------------------------------------------------

    def _command_line(self) -> str | None:
        """One command, literals replaced by placeholders (their text in self.literals)."""
        self.literals: list[str] = []
        parts: list[str] = []
        while True:
            raw = self.rfile.readline(65536)
            if not raw:
                return None
            line = raw.rstrip(b"\r\n").decode("utf-8", "replace")
            literal = re.search(r"\{(\d+)(\+?)\}$", line)
            if literal is None:
                parts.append(line)
                return "".join(parts)
            parts.append(line[:literal.start()])
            if not literal.group(2):
                self.request.sendall(b"+ go ahead\r\n")
            data = self.rfile.read(int(literal.group(1)))
            self.literals.append(data.decode("utf-8", "replace"))
            parts.append(f"\x00{len(self.literals) - 1}\x00")

    def _send(self, line: str) -> None:
        self.out.append(line.encode() + b"\r\n")
        self.request.sendall(b"".join(self.out))
        self.out.clear()

    def _untagged(self, line: bytes) -> None:
        self.out.append(line + b"\r\n")

    def _strings(self, args: str) -> list[str]:
        values = []
        for kind, value in _tokens(args):
            if kind == "literal":
                values.append(self.literals[int(value)])
            elif kind in ("atom", "string"):
                values.append(value)
        return values

    # -- commands ---------------------------------------------------------------------------

    def _dispatch(self, tag: str, name: str, args: str) -> bool:
        if name == "CAPABILITY":
            self._untagged(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN UIDPLUS")
            self._send(f"{tag} OK CAPABILITY completed")
        elif name == "NOOP":
            self._refresh()
            self._send(f"{tag} OK NOOP completed")
        elif name == "LOGOUT":
            self._untagged(b"* BYE fake IMAP logging out")
            self._send(f"{tag} OK LOGOUT completed")
            return False
        elif name == "LOGIN":
            return self._login(tag, args)
        elif name in ("SELECT", "EXAMINE"):
            self._select(tag, name, args)
        elif name == "CLOSE":
            self.messages = None
            self._send(f"{tag} OK CLOSE completed")
        elif self.messages is None or self.account is None:
            self._send(f"{tag} BAD {name} needs a selected mailbox"
                       if name in ("SEARCH", "FETCH", "UID") else f"{tag} BAD unknown command")
        elif name == "UID":
            sub, _, rest = args.partition(" ")
            if sub.upper() == "SEARCH":
                self._search(tag, "UID SEARCH", rest, by_uid=True)
            elif sub.upper() == "FETCH":
                self._fetch(tag, "UID FETCH", rest, by_uid=True)
            else:
                raise _Bad(f"UID {sub} not supported")
        elif name == "SEARCH":
            self._search(tag, "SEARCH", args, by_uid=False)
        elif name == "FETCH":
            self._fetch(tag, "FETCH", args, by_uid=False)
        else:
            self._send(f"{tag} BAD unknown command {name}")
        return True

    def _struck(self, stage: str) -> str | None:
        """What the session's fault does if it strikes at ``stage``: a reply, ``drop``,
        ``garbage``; a stall happens here and reads as ``drop``."""
        if self.fault is None or IMAP_PLAN[self.fault.name][0] != stage:
            return None
        action = self.fake.said(IMAP_PLAN[self.fault.name][1], self.fault)
        if action == "stall":
            time.sleep(self.fault.delay)  # the client gives up first
            return "drop"
        return action

    def _login(self, tag: str, args: str) -> bool:
        struck = self._struck("login")
        if struck == "drop":
            return False  # closed without an answer
        if struck is not None:
            self._send(f"{tag} {struck}")
            return True
        values = self._strings(args)
        if len(values) != 2:
            raise _Bad("LOGIN needs a user name and a password")
        account = self.fake.world.by_handle(values[0])
        if account is None or not account.token or account.token != values[1]:
            self._send(f"{tag} NO [AUTHENTICATIONFAILED] Invalid credentials")
            return True
        self.account = account
        self._send(f"{tag} OK LOGIN completed")
        return True

    def _select(self, tag: str, name: str, args: str) -> None:
        if self.account is None:
            self._send(f"{tag} BAD log in first")
            return
        with self.fake.lock:
            self.fake.reads.append(self.fake.world.now())
        struck = self._struck("select")
        if struck == "drop":
            raise _Drop
        if struck is not None:
            self._send(f"{tag} {struck}")
            return
        mailbox = (self._strings(args) or [""])[0]
        if mailbox.upper() != "INBOX":
            self.messages = None
            self._send(f"{tag} NO [NONEXISTENT] No mailbox {mailbox}")
            return
        self.readonly = name == "EXAMINE"
        self.messages = self.fake.mailbox(self.account)
        count = len(self.messages)
        self._untagged(rb"* FLAGS (\Answered \Flagged \Deleted \Seen \Draft)")
        self._untagged(f"* {count} EXISTS".encode())
        self._untagged(b"* 0 RECENT")
        self._untagged(f"* OK [UIDVALIDITY {self.fake.uidvalidity}] UIDs valid".encode())
        self._untagged(f"* OK [UIDNEXT {count + 1}] Predicted next UID".encode())
        access = "READ-ONLY" if self.readonly else "READ-WRITE"
        self._send(f"{tag} OK [{access}] {name} completed")

    def _refresh(self) -> None:
        if self.messages is not None and self.account is not None:
            self.messages = self.fake.mailbox(self.account)
            self._untagged(f"* {len(self.messages)} EXISTS".encode())

    def _search(self, tag: str, name: str, args: str, *, by_uid: bool) -> None:
        assert self.messages is not None
        tokens = [value for kind, value in _tokens(args) if kind != "literal"]
        if tokens and tokens[0].upper() == "CHARSET":
            tokens = tokens[2:]
        chosen = set(range(1, len(self.messages) + 1))  # sequence numbers
        highest = len(self.messages)
        i = 0
        while i < len(tokens):
            key = tokens[i].upper()
            if key == "ALL":
                i += 1
            elif key == "UID":
                uids = _numbers(tokens[i + 1], highest)
                chosen &= uids
                i += 2
            elif key in ("SINCE", "BEFORE"):
                day = _imap_day(tokens[i + 1]).date()
                chosen &= {n for n in chosen if (self.messages[n - 1].created_at.date() >= day
                                                  if key == "SINCE" else
                                                  self.messages[n - 1].created_at.date() < day)}
                i += 2
            elif re.fullmatch(r"[\d:*,]+", key):
                chosen &= _numbers(key, highest)
                i += 1
            else:
                raise _Bad(f"search key {key} not supported")
        # sequence number i + 1 has UID i + 1 in these mailboxes: nothing is ever expunged
        numbers = sorted(n for n in chosen if 1 <= n <= highest)
        found = " ".join(str(n) for n in numbers)
        self._untagged(f"* SEARCH {found}".rstrip().encode())
        uid_range = next((t for t in tokens if re.fullmatch(r"\d+:\*", t)), None)
        floor = int(uid_range.split(":")[0]) if uid_range else 1
        struck = self._struck("search") or (self._struck("read") if not any(
            n >= floor for n in numbers) else None)  # nothing new to fetch: cut this answer
        if struck == "garbage":
            self._send("%% this is not IMAP (")
            return
        if struck == "drop":
            self.request.sendall(b"".join(self.out))
            raise _Drop
        self._send(f"{tag} OK {name} completed")

    def _fetch(self, tag: str, name: str, args: str, *, by_uid: bool) -> None:
        assert self.messages is not None
        spec, _, items_text = args.partition(" ")
        items = [value.upper() for kind, value in _tokens(items_text) if kind == "atom"]
        if not items:
            raise _Bad("FETCH needs data items")
        macros = {"ALL": ["FLAGS", "INTERNALDATE", "RFC822.SIZE"],
                  "FAST": ["FLAGS", "INTERNALDATE", "RFC822.SIZE"],
                  "FULL": ["FLAGS", "INTERNALDATE", "RFC822.SIZE"]}
        items = [i for item in items for i in macros.get(item, [item])]
        if by_uid and "UID" not in items:
            items.insert(0, "UID")
        highest = len(self.messages)
        numbers = [n for n in sorted(_numbers(spec, highest)) if 1 <= n <= highest]
        with self.fake.lock:
            cut = bool(numbers) and self.fake.cut_fetches > 0
            self.fake.cut_fetches -= cut
        if cut:  # a server that answers OK without one of the messages asked for
            numbers = numbers[:-1]
        for number in numbers:
            post = self.messages[number - 1]
            self._untagged_fetch(number, post, items)
        if numbers and self._struck("read") == "drop":  # cut off in the middle of a message
            answer = b"".join(self.out)
            self.request.sendall(answer[: len(answer) - 40])
            raise _Drop
        self._send(f"{tag} OK {name} completed")

    def _untagged_fetch(self, number: int, post: Post, items: list[str]) -> None:
        message = self.fake.render(post)
        head, _, body = message.partition(b"\r\n\r\n")
        flags = self.fake._flags.setdefault(post.id, set())
        parts: list[bytes] = []
        for item in items:
            peek = item.replace(".PEEK", "")
            section: bytes | None = {
                "RFC822": message, "BODY[]": message, "RFC822.HEADER": head + b"\r\n\r\n",
                "BODY[HEADER]": head + b"\r\n\r\n", "RFC822.TEXT": body, "BODY[TEXT]": body,
            }.get(peek)
            if item == "UID":
                parts.append(f"UID {number}".encode())
            elif item == "FLAGS":
                parts.append(f"FLAGS ({' '.join(sorted(flags))})".encode())
            elif item == "INTERNALDATE":
                parts.append(f'INTERNALDATE "{internaldate(post.created_at)}"'.encode())
            elif item == "RFC822.SIZE":
                parts.append(f"RFC822.SIZE {len(message)}".encode())
            elif section is not None:
                label = peek if peek.startswith("BODY") else item
                parts.append(f"{label} {{{len(section)}}}\r\n".encode() + section)
                if ".PEEK" not in item and item != "RFC822.HEADER" and not self.readonly:
                    flags.add("\\Seen")
            else:
                raise _Bad(f"fetch item {item} not supported")
        self._untagged(f"* {number} FETCH (".encode() + b" ".join(parts) + b")")


class _ImapServer(TLSWrapping, socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, fake: FakeMail) -> None:
        super().__init__(("127.0.0.1", 0), _ImapHandler)
        self.fake = fake
        self.handshake_failures = []


@contextmanager
def serve(world: World, *, tls: ssl.SSLContext | None = None, smtp_tls: str = "",
          imap_tls: bool = False) -> Iterator[FakeMail]:
    """Fake SMTP and IMAP servers on loopback over ``world`` (with the race's accounts).
    With a server context ``tls``: SMTP in TLS from the first byte (``smtp_tls="implicit"``)
    or offering STARTTLS (``"starttls"``), and IMAP in TLS from the first byte
    (``imap_tls``)."""
    fake = FakeMail(world)
    handler = _SmtpHandler(fake)
    secured: dict[str, Any] = ({"ssl_context": tls} if smtp_tls == "implicit" else
                               {"tls_context": tls} if smtp_tls == "starttls" else {})
    smtp = _Controller(handler, hostname="127.0.0.1", port=0, server_hostname="smtp.fake.test",
                       authenticator=handler.authenticate, auth_require_tls=False,
                       ready_timeout=10, **secured)
    imap = _ImapServer(fake)
    imap.tls = tls if imap_tls else None
    thread = threading.Thread(target=imap.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    smtp_log = logging.getLogger("mail.log")  # aiosmtpd warns on every login (deprecation)
    level = smtp_log.level
    smtp_log.setLevel(logging.ERROR)
    smtp.start()
    thread.start()
    try:
        fake.smtp_port = smtp.port
        fake.imap_port = imap.server_address[1]
        fake.kit = kit(fake.smtp_port, fake.imap_port)
        yield fake
    finally:
        imap.shutdown()
        imap.server_close()
        thread.join(timeout=5)
        smtp.stop()
        smtp_log.setLevel(level)


def free_port() -> int:
    """A TCP port on loopback nobody listens on (for connection-refused tests)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port

