"""What the email channel speaks: SMTP and IMAP sessions and their errors, and messages.

The wire-level half of :mod:`harness.channels.email`: smtplib and imaplib failures turned into
the project's errors (passwords scrubbed, reset times read from the server's own words), IMAP
sessions, FETCH answers and INTERNALDATE, and the headers, text and automatic-reply marks of a
message.
"""

from __future__ import annotations

import html
import imaplib
import re
import smtplib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage, Message
from ssl import SSLContext, create_default_context
from typing import Any

from harness.channels.tls import tls_failure
from harness.errors import (
    AccessDenied,
    AuthenticationFailed,
    ChannelError,
    NotConfigured,
    RateLimited,
    TransientError,
)

SUBJECT_MAX = 60
RATE = re.compile(r"too many (?!recipients)|rate[- ]?limit|throttl|limit exceeded|"
                   r"exceeded\b.{0,40}\blimit|\[(?:LIMIT|THROTTLED)\]", re.I)
WHEN = re.compile(r"(?:try again|retry)\s+(?:in|after)\s+(\d+)\s*"
                   r"(s|secs?|seconds?|m|mins?|minutes?|h|hours?)\b", re.I)
IMAP_CODE = re.compile(r"\[([A-Z][A-Z-]*)")
UID = re.compile(rb"\bUID (\d+)")
IMPLICIT_TLS_PORTS = {465: "SMTP", 993: "IMAP"}
"""Ports on which a server speaks TLS from the first byte: a plain (or STARTTLS) client there
waits for a greeting that never comes."""
INTERNALDATE = re.compile(rb'\bINTERNALDATE "([^"]+)"')
MSG_ID = re.compile(r"<[^<>\s]+>")
MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
AUTH_CODES = {"AUTHENTICATIONFAILED", "AUTHORIZATIONFAILED", "EXPIRED", "PRIVACYREQUIRED"}
BUSY_CODES = {"UNAVAILABLE", "INUSE", "SERVERBUG", "CONTACTADMIN"}
AUTOMATED_PRECEDENCE = {"auto_reply", "bulk", "junk"}


@dataclass(frozen=True)
class Server:
    """Where one protocol's server is and how to secure the connection."""

    host: str
    port: int
    ssl: bool
    starttls: bool
    mailbox: str = "INBOX"
    context: SSLContext = field(default_factory=create_default_context, compare=False)
    """Which certificates to trust (the channel's TLS settings)."""

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def no_greeting(server: Server, protocol: str) -> NotConfigured | None:
    """The error for a plain or STARTTLS session that got no greeting, when the port is one
    that speaks TLS from the first byte (else ``None``: an outage, worth retrying)."""
    if server.ssl or IMPLICIT_TLS_PORTS.get(server.port) != protocol:
        return None
    return NotConfigured(f"{protocol} {server}: no greeting: port {server.port} speaks TLS from "
                         f"the first byte; set settings.{protocol.lower()}.ssl: true")


# -- SMTP -----------------------------------------------------------------------------------


def smtp_session(server: Server, helo: str, timeout: float) -> smtplib.SMTP:
    """A connected SMTP session, secured as ``server`` says (implicit TLS or STARTTLS)."""
    if server.ssl:
        return smtplib.SMTP_SSL(server.host, server.port, local_hostname=helo, timeout=timeout,
                                context=server.context)
    try:
        smtp = smtplib.SMTP(server.host, server.port, local_hostname=helo, timeout=timeout)
    except (TimeoutError, smtplib.SMTPServerDisconnected) as exc:
        raise no_greeting(server, "SMTP") or exc from None
    if server.starttls:
        try:
            smtp.starttls(context=server.context)
        except BaseException:
            smtp.close()
            raise
    return smtp


def quit_quietly(smtp: smtplib.SMTP) -> None:
    """End the session; a message already accepted stays sent whatever QUIT answers."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def smtp_error(exc: Exception, server: Server, now: datetime, password: str) -> ChannelError:
    """The project's error for an SMTP failure."""
    where = f"SMTP {server}"
    code: int | None = None
    text = ""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refusals = list(exc.recipients.values())
        if refusals:
            code, reply = refusals[0]
            text = as_text(reply)
    elif isinstance(exc, smtplib.SMTPResponseException):
        code, text = exc.smtp_code, as_text(exc.smtp_error)
    elif isinstance(exc, smtplib.SMTPNotSupportedError):
        return NotConfigured(f"{where}: {scrub(str(exc), password)} (check settings.smtp "
                             "starttls and ssl)")
    elif (reason := tls_failure(exc)) is not None:
        return NotConfigured(f"{where}: {reason}")
    text = scrub(text or str(exc) or type(exc).__name__, password)
    if code is None:
        if isinstance(exc, smtplib.SMTPException) and "authentication method" in str(exc):
            return AuthenticationFailed(f"{where}: {text}")
        return TransientError(f"{where}: {type(exc).__name__}: {text}")
    detail = f"{where}: {code} {text}"
    if 400 <= code < 500:  # temporary, even "454 4.7.0 temporary authentication failure"
        if RATE.search(text):
            return RateLimited(detail, reset_time(text, now))
        return TransientError(detail)
    if isinstance(exc, smtplib.SMTPAuthenticationError) or code in (530, 534, 535, 538):
        return AuthenticationFailed(detail)
    if 500 <= code < 600:
        return AccessDenied(detail)
    return TransientError(detail)


# -- IMAP -----------------------------------------------------------------------------------


@contextmanager
def imap_session(server: Server, timeout: float) -> Iterator[imaplib.IMAP4]:
    conn: imaplib.IMAP4
    if server.ssl:
        conn = imaplib.IMAP4_SSL(server.host, server.port, timeout=timeout,
                                 ssl_context=server.context)
    else:
        try:
            conn = imaplib.IMAP4(server.host, server.port, timeout=timeout)
        except (TimeoutError, imaplib.IMAP4.abort) as exc:
            raise no_greeting(server, "IMAP") or exc from None
    try:
        if server.starttls:
            conn.starttls(ssl_context=server.context)
        yield conn
    finally:
        try:
            conn.logout()
        except (imaplib.IMAP4.error, OSError, EOFError, ValueError):
            with suppress(OSError):
                conn.shutdown()


def examine(conn: imaplib.IMAP4, server: Server, username: str, password: str,
            stage: list[str]) -> None:
    """Log in and open the mailbox read-only (EXAMINE: nothing is marked read), keeping in
    ``stage[0]`` how far it got, for :func:`imap_error`."""
    stage[0] = "login"
    conn.login(imap_quoted(username), password)
    stage[0] = "select"
    typ, data = conn.select(imap_quoted(server.mailbox), readonly=True)
    if typ != "OK":
        raise imaplib.IMAP4.error(as_text(data[-1] if data else typ))


def imap_error(exc: Exception, stage: str, server: Server, now: datetime,
                password: str) -> ChannelError:
    """The project's error for an IMAP failure at ``stage`` (connect, login, select, read)."""
    if (reason := tls_failure(exc)) is not None:
        return NotConfigured(f"IMAP {server}: {reason}")
    if isinstance(exc, imaplib.IMAP4.error) and exc.args:
        text = as_text(exc.args[0])
    else:
        text = f"{type(exc).__name__}: {exc}"
    text = scrub(text, password)
    detail = f"IMAP {server}: {stage}: {text}"
    codes = set(IMAP_CODE.findall(text))
    if RATE.search(text):
        return RateLimited(detail, reset_time(text, now))
    if isinstance(exc, (imaplib.IMAP4.abort, OSError, EOFError)) or codes & BUSY_CODES:
        return TransientError(detail)
    if codes & AUTH_CODES or stage == "login":
        return AuthenticationFailed(detail)
    if stage == "select":
        return AccessDenied(detail)
    return TransientError(detail)


def fetched_messages(data: list[Any]) -> Iterator[tuple[int, datetime | None, bytes]]:
    """(UID, INTERNALDATE, message) from an ``imaplib`` FETCH answer: tuples of (the response
    up to a literal, the literal), each followed by the rest of its line."""
    entries: list[list[bytes]] = []
    for item in data:
        if isinstance(item, tuple) and len(item) == 2:
            entries.append([bytes(item[0]), bytes(item[1])])
        elif isinstance(item, bytes):
            if re.match(rb"\d+ \(", item) or not entries:
                entries.append([item, b""])  # a FETCH without a literal (e.g. flags only)
            else:
                entries[-1][0] += b" " + item  # items after the literal
    for meta, body in entries:
        uid = UID.search(meta)
        if uid is None or not body:
            continue
        date = INTERNALDATE.search(meta)
        yield int(uid.group(1)), parse_internaldate(date.group(1).decode()) if date else None, body


def parse_internaldate(text: str) -> datetime | None:
    """``03-Mar-2025 09:07:13 +0000`` (the day may be space-padded) as an aware datetime."""
    match = re.fullmatch(r"\s*(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) "
                         r"([+-])(\d{2})(\d{2})", text)
    if match is None or match.group(2).lower() not in MONTHS:
        return None
    day, _, year, hour, minute, second, sign, off_h, off_m = match.groups()
    offset = timedelta(hours=int(off_h), minutes=int(off_m)) * (-1 if sign == "-" else 1)
    local = datetime(int(year), MONTHS[match.group(2).lower()], int(day), int(hour),
                     int(minute), int(second), tzinfo=UTC)
    return local - offset


def imap_date(moment: datetime) -> str:
    months = list(MONTHS)
    return f"{moment.day}-{months[moment.month - 1].title()}-{moment.year}"


def imap_quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def first_number(values: list[Any]) -> int:
    for value in values:
        if value is not None:
            try:
                return int(as_text(value).split()[0])
            except (ValueError, IndexError):
                return 0
    return 0


# -- messages -------------------------------------------------------------------------------


def header_value(mail: Message, name: str) -> str:
    try:
        values = mail.get_all(name) or []
        return ", ".join(" ".join(str(v).split()) for v in values)
    except Exception:  # a header so malformed the email package trips on it
        return ""


def first_message_id(value: str) -> str | None:
    found = MSG_ID.search(value)
    return found.group(0) if found else None


def is_automated(mail: Message) -> bool:
    submitted = header_value(mail, "Auto-Submitted").split(";")[0].strip().lower()
    if submitted and submitted != "no":
        return True
    if header_value(mail, "X-Autoreply") or header_value(mail, "X-Autorespond"):
        return True
    return header_value(mail, "Precedence").strip().lower() in AUTOMATED_PRECEDENCE


def body_text(mail: Message) -> str:
    """The plain text of a message: its text/plain part, else its HTML part made plain."""
    try:
        if isinstance(mail, EmailMessage):
            part = mail.get_body(preferencelist=("plain", "html"))
            if part is not None and isinstance(part, EmailMessage):
                content = part.get_content()
                if isinstance(content, str):
                    text = html_text(content) if part.get_content_subtype() == "html" \
                        else content
                    return text.strip()
    except Exception:  # an unknown charset, broken parts: fall back to the raw payload
        pass
    payload = mail.get_payload(decode=True)
    return payload.decode("utf-8", "replace").strip() if isinstance(payload, bytes) else ""


def html_text(markup: str) -> str:
    """HTML made readable, crudely: no scripts or styles, breaks kept, tags dropped."""
    markup = re.sub(r"(?is)<(script|style|head)\b.*?</\1\s*>", " ", markup)
    markup = re.sub(r"(?i)<br\s*/?>|</(p|div|li|tr|h[1-6])\s*>", "\n", markup)
    text = html.unescape(re.sub(r"(?s)<[^>]*>", " ", markup))
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def first_line(text: str) -> str:
    line = next((" ".join(s.split()) for s in text.splitlines() if s.strip()), "")
    if len(line) <= SUBJECT_MAX:
        return line or "(no subject)"
    cut = line[:SUBJECT_MAX].rsplit(" ", 1)[0] if " " in line[:SUBJECT_MAX] else line[
        :SUBJECT_MAX]
    return cut.rstrip(" ,;:") + "…"


# -- helpers --------------------------------------------------------------------------------


def whole_seconds(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)


def reset_time(text: str, now: datetime) -> datetime | None:
    """When the server said to come back ("try again in 15 minutes"), if it said."""
    match = WHEN.search(text)
    if match is None:
        return None
    unit = match.group(2).lower()[0]
    seconds = int(match.group(1)) * {"s": 1, "m": 60, "h": 3600}[unit]
    return whole_seconds(now) + timedelta(seconds=seconds)


def as_text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def scrub(text: str, password: str) -> str:
    text = text.replace(password, "***") if password else text
    return " ".join(text.split())[:300]
