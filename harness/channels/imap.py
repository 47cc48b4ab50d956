"""The email channel's IMAP side: read-only sessions, what arrived since a UID, FETCH
answers and INTERNALDATE, and IMAP failures as the project's errors.

Rejected logins are ``AuthenticationFailed``; mailboxes we may not open ``AccessDenied``;
answers that say "too many" or "rate" (``[LIMIT]``) ``RateLimited``, with a reset time only
when the server says when; anything else temporary, timeouts and dropped connections
``TransientError``. Passwords never appear in errors.
"""

from __future__ import annotations

import imaplib
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from typing import Any

from harness.channels.mail import RATE, Server, as_text, no_greeting, reset_time, scrubbed
from harness.channels.tls import tls_failure
from harness.errors import (
    AccessDenied,
    AuthenticationFailed,
    ChannelError,
    NotConfigured,
    RateLimited,
    TransientError,
)

FETCH_CHUNK = 200
"""UIDs per FETCH command (keeps command lines short on a first read of a full mailbox)."""
IMAP_CODE = re.compile(r"\[([A-Z][A-Z-]*)")
UID = re.compile(rb"\bUID (\d+)")
INTERNALDATE = re.compile(rb'\bINTERNALDATE "([^"]+)"')
MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
AUTH_CODES = {"AUTHENTICATIONFAILED", "AUTHORIZATIONFAILED", "EXPIRED", "PRIVACYREQUIRED"}
BUSY_CODES = {"UNAVAILABLE", "INUSE", "SERVERBUG", "CONTACTADMIN"}


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


@contextmanager
def examined(server: Server, timeout: float, username: str, password: str,
             now: Callable[[], datetime], stage: list[str] | None = None
             ) -> Iterator[imaplib.IMAP4]:
    """An IMAP session logged in, its mailbox open read-only, logged out when done; every IMAP
    failure in it is the project's error (:func:`imap_error`, timed by ``now``) at the stage
    ``stage[0]`` says when it happened: ``connect``, ``login``, ``select``, then whatever the
    caller sets (``read``)."""
    stage = stage if stage is not None else ["connect"]
    try:
        with imap_session(server, timeout) as conn:
            examine(conn, server, username, password, stage)
            yield conn
    except (imaplib.IMAP4.error, OSError, EOFError, ValueError) as exc:
        raise imap_error(exc, stage[0], server, now(), password) from None


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
    text = scrubbed(text, password)
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


def new_messages(conn: imaplib.IMAP4, last: int, since: datetime
                 ) -> tuple[list[int], list[tuple[int, datetime | None, bytes]]]:
    """The UIDs above ``last`` in the open mailbox (``last`` 0: a first read, from the day
    before ``since``), and each one FETCH handed over: (UID, INTERNALDATE, message)."""
    if last:
        criteria: tuple[str, ...] = ("UID", f"{last + 1}:*")
    else:  # first read of this mailbox: skip what came before our first send
        criteria = ("SINCE", imap_date(since - timedelta(days=1)))
    typ, data = conn.uid("SEARCH", *criteria)
    if typ != "OK":
        raise imaplib.IMAP4.error(as_text(data[-1] if data else typ))
    # "n:*" always matches the highest UID, even below n: keep only new ones
    uids = sorted({int(u) for chunk in data if chunk for u in chunk.split() if int(u) > last})
    fetched: list[tuple[int, datetime | None, bytes]] = []
    for start in range(0, len(uids), FETCH_CHUNK):
        chunk_set = ",".join(str(u) for u in uids[start:start + FETCH_CHUNK])
        typ, data = conn.uid("FETCH", chunk_set, "(UID INTERNALDATE BODY.PEEK[])")
        if typ != "OK":
            raise imaplib.IMAP4.error(as_text(data[-1] if data else typ))
        fetched.extend(fetched_messages(data))
    return uids, fetched
