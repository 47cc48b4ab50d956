"""What the email channel's two protocols share, and messages.

:mod:`harness.channels.smtp` and :mod:`harness.channels.imap` speak the protocols; here are
the servers they connect to, what a server's silence on a TLS port means, rate limits and
reset times read from the server's own words, and the headers, text and automatic-reply marks
of a message.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage, Message
from ssl import SSLContext, create_default_context
from typing import Any

from harness.channels.commons import scrub
from harness.errors import NotConfigured

SUBJECT_MAX = 60
RATE = re.compile(r"too many (?!recipients)|rate[- ]?limit|throttl|limit exceeded|"
                   r"exceeded\b.{0,40}\blimit|\[(?:LIMIT|THROTTLED)\]", re.I)
WHEN = re.compile(r"(?:try again|retry)\s+(?:in|after)\s+(\d+)\s*"
                   r"(s|secs?|seconds?|m|mins?|minutes?|h|hours?)\b", re.I)
IMPLICIT_TLS_PORTS = {465: "SMTP", 993: "IMAP"}
"""Ports on which a server speaks TLS from the first byte: a plain (or STARTTLS) client there
waits for a greeting that never comes."""
MSG_ID = re.compile(r"<[^<>\s]+>")
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


def scrubbed(text: str, password: str) -> str:
    """What a server or library said, fit for an error: no password, on one line, short."""
    return scrub(text, [password], one_line=True)
