"""The ``email`` channel: send with SMTP (``smtplib``), read replies with IMAP (``imaplib``).

Its settings are :attr:`EmailChannel.settings_spec` (the table in ``docs/channels.md``). A
persona's account on the channel is its email address; a brand's first handle on the channel
is the address probes go to.

Sending: one SMTP session per message (connect, STARTTLS, login, send, quit). Our Message-ID is
the post's platform id: derived from a random key kept in the run folder
(``email-<channel>.json``) and the probe id, so it is unique per probe and step, says nothing
about the probe, and is the same if a send is retried (a server that took a message and then
dropped the connection may get it twice, under one Message-ID). With ``plus_tag``, Reply-To is
the persona's address tagged with the same opaque token (``ana+3f9c...@example.org``), never the
probe id. Follow-ups carry ``In-Reply-To`` and ``References`` of the brand's reply. The post's
time is the ``Date`` we put on it, read from the runner's clock, to the second (so latencies
assume our clock and the IMAP server's agree). Email cannot find a message a person sent by
hand, so there is no assisted mode and no ``find_post``: a send a crash interrupted stays
"uncertain" and is never sent again.

Reading: per persona and poll, one IMAP session (read-only EXAMINE, one ``UID SEARCH`` for UIDs
above the last seen, one ``UID FETCH`` of ``UID INTERNALDATE BODY.PEEK[]``, so nothing is marked
read). The cursor keeps each persona's last UID and UIDVALIDITY; on a persona's first poll, or
after its UIDVALIDITY changed, messages that arrived before our first send are skipped. A reply
is timed by INTERNALDATE (when the server received it), never by the sender's ``Date``. It is
matched by ``In-Reply-To`` (else the last ``References`` id), then its conversation: the first
``References`` id, or, for mail without threading headers sent to a plus-tagged address, the
first message of the probe the tag names. ``Auto-Submitted`` (anything but ``no``),
``X-Autoreply``, ``X-Autorespond`` or ``Precedence: auto_reply/bulk/junk`` mark automated mail.
Copies of the persona's own mail are skipped. A poll fails as a whole when any mailbox fails; its
cursor then stays where it was, so the next poll reads what this one missed.

Errors map as :mod:`harness.channels.smtp` and :mod:`harness.channels.imap` say. Passwords never
appear in errors or in a reply's ``raw``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from datetime import datetime
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import format_datetime, formataddr, getaddresses, parseaddr
from typing import Any

from harness.atomic import write_atomically
from harness.channels import tls
from harness.channels.base import (
    CONNECTION_SETTINGS,
    ChannelAdapter,
    ChannelContext,
    IncomingReply,
    OutgoingMessage,
    PollResult,
    SentPost,
)
from harness.channels.imap import examined, first_number, new_messages
from harness.channels.mail import (
    MSG_ID,
    Server,
    body_text,
    first_line,
    first_message_id,
    header_value,
    is_automated,
    whole_seconds,
)
from harness.channels.settings import (
    BOOLEAN,
    INTEGER,
    TEXT,
    Described,
    PerPersona,
    Setting,
    Table,
)
from harness.channels.smtp import deliver, logged_in
from harness.errors import NotConfigured, TransientError
from harness.scenario.model import Channel

MAX_FETCH_TRIES = 5
"""Polls that may fail to hand over a listed message before it is given up on."""

_TAG = re.compile(r"^[A-Za-z0-9._=-]{1,64}$")
_RAW_HEADERS = ("Message-ID", "From", "To", "Cc", "Reply-To", "Subject", "Date", "In-Reply-To",
                "References", "Auto-Submitted", "Precedence", "X-Autoreply", "X-Autorespond",
                "Delivered-To")


class EmailChannel(ChannelAdapter):
    """Sends probes by SMTP and reads the brands' answers from each persona's IMAP mailbox."""

    name = "email"
    platform = "email"
    summary = "email via SMTP (smtplib) and IMAP (imaplib); one mailbox password per persona"
    settings_spec = (
        Setting("smtp", Table((
            Setting("host", TEXT, "the SMTP server's host name", required=True),
            Setting("port", INTEGER, "its port", default=Described("`587`; `465` with `ssl`")),
            Setting("starttls", BOOLEAN, "upgrade the connection with STARTTLS",
                    default=Described("`true` unless `ssl`")),
            Setting("ssl", BOOLEAN, "TLS from the first byte", default=False),
        )), "where to send mail", required=True),
        Setting("imap", Table((
            Setting("host", TEXT, "the IMAP server's host name", required=True),
            Setting("port", INTEGER, "its port", default=Described("`993`; `143` without `ssl`")),
            Setting("ssl", BOOLEAN, "TLS from the first byte", default=True),
            Setting("starttls", BOOLEAN, "upgrade a plain connection with STARTTLS",
                    default=False),
            Setting("mailbox", TEXT, "the mailbox replies arrive in", default="INBOX"),
        )), "where to read replies (read-only: nothing is marked read)", required=True),
        Setting("passwords", PerPersona(TEXT, "password"), "each persona's mailbox password "
                "(SMTP and IMAP)", required=True, secret=True),
        Setting("usernames", PerPersona(TEXT, "login name"), "each persona's login name",
                default=Described("the persona's address")),
        Setting("plus_tag", BOOLEAN, "Reply-To the persona's address tagged per probe "
                "(`ana+3f9c…@example.org`)", default=False),
        Setting("subject", TEXT, "every first message's subject",
                default=Described("the message's first line")),
        Setting("helo", TEXT, "the name we greet SMTP servers with",
                default=Described("the domain of the persona's address")),
        *CONNECTION_SETTINGS,
    )
    modes = frozenset({"auto", "confirm"})
    default_mode = "auto"
    connects = True

    def __init__(self, config: Channel, context: ChannelContext) -> None:
        super().__init__(config, context)
        self._persona_names = {p.id: p.name for p in context.personas}
        self._brand_names = {b.id: b.name for b in context.brands}
        self._state_file = context.state_dir / f"email-{config.id}.json"
        self._run: tuple[bytes, datetime] | None = None  # key, time of our first send
        self._threads: dict[str, tuple[str, list[str]]] = {}
        """Message-ID of a reply seen -> its subject and References, to thread follow-ups."""

    # -- configuration ----------------------------------------------------------------------

    def not_configured(self) -> str | None:
        reason = super().not_configured()
        if reason:
            return reason
        odd = sorted(p for p in self.channel_personas() if "@" not in self.accounts[p])
        if odd:
            return (f"the account of persona {', '.join(odd)} on channel {self.config.id!r} "
                    "must be an email address")
        return None


    def _server(self, key: str) -> Server:
        table = self.settings.get(key)
        if not isinstance(table, dict) or not table.get("host"):
            raise NotConfigured(f"channel {self.config.id!r}: settings.{key}.host is required")
        if key == "smtp":
            use_ssl = bool(table.get("ssl", False))
            starttls = bool(table.get("starttls", not use_ssl)) and not use_ssl
            default_port = 465 if use_ssl else 587
        else:
            use_ssl = bool(table.get("ssl", True))
            starttls = bool(table.get("starttls", False)) and not use_ssl
            default_port = 993 if use_ssl else 143
        try:
            port = int(table.get("port", default_port))
        except (TypeError, ValueError):
            raise NotConfigured(f"channel {self.config.id!r}: settings.{key}.port must be a "
                                "number") from None
        return Server(str(table["host"]), port, use_ssl, starttls,
                      str(table.get("mailbox", "INBOX")), tls.ssl_context(self.settings))

    def _address(self, persona: str, account: str = "") -> str:
        address = (account or self.accounts.get(persona, "")).strip()
        if "@" not in address:
            raise NotConfigured(f"channel {self.config.id!r}: persona {persona!r} needs an "
                                "email address as its account on this channel")
        return address

    def _helo(self, address: str) -> str:
        """The name we greet SMTP servers with: ``helo``, else the address's domain."""
        return str(self.config.settings.get("helo") or address.rpartition("@")[2])

    def _credentials(self, persona: str, address: str) -> tuple[str, str]:
        password = self.settings.per_persona("passwords", persona)
        if not isinstance(password, str) or not password:
            raise NotConfigured(f"channel {self.config.id!r}: settings.passwords.{persona} "
                                "must be {env: VARIABLE}")
        usernames = self.config.settings.get("usernames") or {}
        username = usernames.get(persona) if isinstance(usernames, dict) else None
        return str(username or address), password

    # -- run state: the key our Message-IDs and plus tags derive from --------------------------

    def _run_state(self, create: bool) -> tuple[bytes, datetime] | None:
        if self._run is None:
            try:
                data = json.loads(self._state_file.read_text(encoding="utf-8"))
                self._run = (bytes.fromhex(data["key"]), datetime.fromisoformat(data["started"]))
            except FileNotFoundError:
                if not create:
                    return None
                key, started = secrets.token_bytes(32), whole_seconds(self.context.clock.now())
                write_atomically(self._state_file, json.dumps(
                    {"key": key.hex(), "started": started.isoformat()}))
                self._run = (key, started)  # only once it is safe on disk
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise TransientError(f"channel {self.config.id!r}: cannot read "
                                     f"{self._state_file}: {exc}") from None
        return self._run

    def _tag(self, probe_id: str) -> str:
        state = self._run_state(create=True)
        assert state is not None
        return hmac.new(state[0], probe_id.encode("utf-8"), hashlib.sha256).hexdigest()[:20]

    def check_access(self) -> str:
        """As each persona: an SMTP session up to a login (no message), then an IMAP login
        and a read-only EXAMINE of the mailbox."""
        smtp_server, imap_server = self._server("smtp"), self._server("imap")
        for persona in self.channel_personas():
            address = self._address(persona)
            username, password = self._credentials(persona, address)
            with logged_in(smtp_server, self._helo(address), self.timeout_s, username, password,
                           self.context.clock.now):
                pass  # an SMTP login, and no message
            with examined(imap_server, self.timeout_s, username, password,
                          self.context.clock.now):
                pass  # an IMAP login, and EXAMINE
        return f"SMTP and IMAP logins work for {self.personas_shown()}"

    # -- sending ----------------------------------------------------------------------------

    def send(self, message: OutgoingMessage) -> SentPost:
        address = self._address(message.persona_id, message.persona_account)
        username, password = self._credentials(message.persona_id, address)
        if not message.brand_handles or "@" not in message.brand_handles[0]:
            raise NotConfigured(f"channel {self.config.id!r}: brand {message.brand_id!r} needs "
                                "an email address as its handle on this channel")
        server = self._server("smtp")
        timeout = self.timeout_s
        try:
            created = whole_seconds(self.context.clock.now())
            mail = self._compose(message, address, message.brand_handles[0].strip(), created)
        except OSError as exc:  # the run folder, for the key
            raise TransientError(f"channel {self.config.id!r}: {exc}") from None
        with logged_in(server, self._helo(address), timeout, username, password,
                       self.context.clock.now) as smtp:
            deliver(smtp, address, message.brand_handles[0], mail, created)
        return SentPost(str(mail["Message-ID"]), created)

    def planned_id(self, message: OutgoingMessage) -> str | None:
        """Our Message-ID for ``message``: fixed by the run's key before anything is sent."""
        try:
            address = self._address(message.persona_id, message.persona_account)
            return self._message_id(message, address)
        except (NotConfigured, TransientError, OSError):
            return None  # the send itself will say what is wrong

    def _message_id(self, message: OutgoingMessage, address: str) -> str:
        domain = address.rpartition("@")[2]
        suffix = "" if message.step == 0 else f".{message.step}"
        return f"<{self._tag(message.probe_id)}{suffix}@{domain.lower()}>"

    def _compose(self, message: OutgoingMessage, address: str, to: str,
                 created: datetime) -> EmailMessage:
        local, _, domain = address.rpartition("@")
        tag = self._tag(message.probe_id)
        mail = EmailMessage()
        mail["From"] = formataddr((self._persona_names.get(message.persona_id, ""), address))
        mail["To"] = formataddr((self._brand_names.get(message.brand_id, ""), to))
        mail["Subject"] = self._subject(message)
        mail["Date"] = format_datetime(created)
        mail["Message-ID"] = self._message_id(message, address)
        if self.config.settings.get("plus_tag"):
            mail["Reply-To"] = f"{local}+{tag}@{domain}"
        if message.in_reply_to:
            parent = message.in_reply_to.strip()
            _, references = self._threads.get(parent, ("", []))
            mail["In-Reply-To"] = parent
            mail["References"] = " ".join([*references, parent])
        mail.set_content(message.text)
        return mail

    def _subject(self, message: OutgoingMessage) -> str:
        if message.in_reply_to:
            subject, _ = self._threads.get(message.in_reply_to.strip(), ("", []))
            if subject:
                return subject if subject.lower().startswith("re:") else f"Re: {subject}"
        configured = self.config.settings.get("subject")
        if isinstance(configured, str) and configured.strip():
            subject = configured.strip()
        else:
            subject = first_line(message.text)
        return f"Re: {subject}" if message.in_reply_to else subject

    # -- reading ----------------------------------------------------------------------------

    def poll(self, cursor: str | None) -> PollResult:
        try:
            state: Any = json.loads(cursor) if cursor else {}
        except ValueError:
            state = {}
        if not isinstance(state, dict) or not isinstance(state.get("mailboxes", {}), dict):
            state = {}
        mailboxes: dict[str, dict[str, Any]] = {
            str(k): v for k, v in state.get("mailboxes", {}).items() if isinstance(v, dict)}
        server = self._server("imap")
        timeout = self.timeout_s
        run = self._run_state(create=False)
        since = run[1] if run else whole_seconds(self.context.clock.now())
        replies: list[IncomingReply] = []
        for persona in self.channel_personas():
            address = self._address(persona)
            username, password = self._credentials(persona, address)
            found, mailboxes[persona] = self._read(server, timeout, persona, address, username,
                                                   password, mailboxes.get(persona), since)
            replies.extend(found)
        replies.sort(key=lambda r: (r.created_at, r.to_account or "", r.platform_id))
        return PollResult(replies, json.dumps({"mailboxes": mailboxes}, sort_keys=True))

    def _read(self, server: Server, timeout: float, persona: str, address: str,
              username: str, password: str, seen: dict[str, Any] | None,
              since: datetime) -> tuple[list[IncomingReply], dict[str, Any]]:
        """One IMAP session: what arrived in ``persona``'s mailbox since ``seen``."""
        stage = ["connect"]
        with examined(server, timeout, username, password, self.context.clock.now,
                      stage) as conn:
            validity = first_number(conn.response("UIDVALIDITY")[1])
            uidnext = first_number(conn.response("UIDNEXT")[1])
            stage[0] = "read"
            last = 0
            if seen and seen.get("uidvalidity") == validity:
                last = max(0, int(seen.get("uid") or 0))
            uids, fetched = new_messages(conn, last, since)
        # A message the server listed but did not hand over whole is read again next time
        # (the cursor stops before it), up to MAX_FETCH_TRIES polls, then given up on.
        tries = {int(k): int(v) for k, v in (seen or {}).get("missing", {}).items()}
        whole = {uid for uid, received, raw in fetched if received is not None and raw}
        stuck = [u for u in uids if u not in whole and tries.get(u, 0) + 1 < MAX_FETCH_TRIES]
        if stuck:
            newest = min(stuck) - 1
            missing = {str(u): tries.get(u, 0) + 1 for u in stuck}
        else:
            newest = max([last, *uids, (uidnext - 1) if uidnext else 0])
            missing = {}
        replies = []
        for uid, received, raw in sorted(fetched):
            if received is None or uid > newest or (last == 0 and received < since):
                continue
            reply = self._reply(persona, address, uid, validity, received, raw,
                                server.mailbox)
            if reply is not None:
                replies.append(reply)
        cursor: dict[str, Any] = {"uidvalidity": validity, "uid": newest}
        if missing:
            cursor["missing"] = missing
        return replies, cursor

    def _reply(self, persona: str, address: str, uid: int, validity: int, received: datetime,
               raw: bytes, mailbox: str) -> IncomingReply | None:
        """One fetched message as a reply (``None`` for mail the persona sent itself)."""
        mail = BytesParser(policy=policy.default).parsebytes(raw)
        headers = {name: header_value(mail, name) for name in _RAW_HEADERS}
        author = parseaddr(headers["From"])[1].lower()
        if author == address.lower():
            return None  # a copy of our own message
        message_id = first_message_id(headers["Message-ID"]) or f"<imap.{validity}.{uid}.{persona}>"
        references = MSG_ID.findall(headers["References"])
        in_reply_to = first_message_id(headers["In-Reply-To"]) or (references[-1] if references
                                                            else None)
        conversation = references[0] if references else self._tagged(mail, address)
        self._threads[message_id] = (headers["Subject"], references)
        raw_headers: dict[str, Any] = {k.lower(): v for k, v in headers.items() if v}
        raw_headers |= {"uid": uid, "uidvalidity": validity, "mailbox": mailbox,
                        "internaldate": received.isoformat()}
        return IncomingReply(
            platform_id=message_id, created_at=received, author=author, kind="email",
            text=body_text(mail), in_reply_to=in_reply_to, conversation_id=conversation,
            to_account=self.accounts[persona], automated=is_automated(mail), raw=raw_headers)

    def _tagged(self, mail: Message, address: str) -> str | None:
        """The first message of the probe whose plus tag the mail was sent to, if any."""
        local, _, domain = address.lower().rpartition("@")
        values = [header_value(mail, name)
                  for name in ("Delivered-To", "X-Original-To", "To", "Cc")]
        for _, recipient in getaddresses(values):
            r_local, _, r_domain = recipient.lower().rpartition("@")
            if r_domain == domain.lower() and r_local.startswith(local + "+"):
                tag = recipient.rpartition("@")[0][len(local) + 1:]
                if _TAG.match(tag):
                    return f"<{tag.lower()}@{domain}>"
        return None
