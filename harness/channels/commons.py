"""What the live adapters share: telling our own posts on a timeline, times as platforms write
them, error text fit to show, and session files.

- :class:`OwnPosts` says whether a post on the persona's timeline is a message we sent (to
  settle a send a crash interrupted, or to find what a person posted in ``assisted`` mode).
  Each platform shows our text its own way; the differences are its parameters, set once per
  adapter (``X_POSTS`` in :mod:`~harness.channels.x`, and so on).
- :func:`parse_time` and :func:`iso` read and write the ISO 8601 times the APIs use.
- :func:`scrub` makes an exception's (or a server's) words safe to put in an error: no secret,
  no query string, short.
- :class:`SessionFile` keeps a login session between runs: owner-only, written whole.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from harness.atomic import replace_atomically

if TYPE_CHECKING:
    from harness.channels.base import OutgoingMessage

ERROR_TEXT_MAX = 300
"""The most characters of what a library or server said that an error repeats."""

_QUERY = re.compile(r"\?\S*")
_REMOTE_MENTION = re.compile(r"(@[\w.-]+)@[\w-]+(?:\.[\w-]+)+")

# -- our own posts on a timeline ------------------------------------------------------------


def normal_text(text: str) -> str:
    """``text`` as posts are compared: runs of whitespace as one space, case folded."""
    return " ".join(text.split()).casefold()


@dataclass(frozen=True)
class OwnPosts:
    """How a platform shows a post we made, so that a post on the persona's timeline can be
    told to be one of our messages: the same text (whitespace and case aside), in reply to
    the same post, and no older than the message's time.

    The defaults compare exactly that; each parameter is one platform's way of showing
    things:
    """

    handle: str = r"\w+"
    """What the handle of an ``@mention`` is made of (a regular expression)."""
    remote_mentions: bool = False
    """``@name@server`` is shown as ``@name`` (Mastodon writes a mention of an account on
    another server as the bare name in a status's text, however it was typed)."""
    leading_mentions: Literal["kept", "added", "reply"] = "kept"
    """The ``@mentions`` in front of a post's text: ``kept``, compared like the rest;
    ``added``, the platform may put mentions in front of what was posted (X starts a reply's
    text with the mentions of the thread); ``reply``, in a reply, leading mentions are ignored
    on both sides (a Mastodon app, and our own follow-up, start a reply with the mentions of
    whom it answers)."""
    whole_seconds: bool = False
    """The platform's times are to the second: a post of the message's second counts
    (Mastodon)."""
    clock_skew: timedelta = timedelta(0)
    """Posts up to this much older than the message's time count: the platform's clock, which
    times the post, and ours differ (Bluesky's AppView)."""
    exact_thread: bool = False
    """A first message matches only a post that replies to nothing (Bluesky keeps what a post
    replies to in the post's own record); otherwise only follow-ups are checked for what they
    answer."""

    @cached_property
    def _leading(self) -> re.Pattern[str]:
        return re.compile(rf"^(?:@{self.handle}\s+)+")

    def normal(self, text: str) -> str:
        """``text`` as this platform's posts are compared (see :func:`normal_text`)."""
        return normal_text(_REMOTE_MENTION.sub(r"\1", text) if self.remote_mentions else text)

    def same_text(self, posted: str, intended: str, *, reply: bool = False) -> bool:
        """Whether a post's text is the text we meant (``reply``: the message is a follow-up,
        which matters to ``leading_mentions="reply"``)."""
        posted, intended = self.normal(posted), self.normal(intended)
        if posted == intended:
            return True
        if self.leading_mentions == "added":
            return posted.endswith(intended) and bool(
                self._leading.fullmatch(posted[: len(posted) - len(intended)]))
        if self.leading_mentions == "reply":
            return reply and self._leading.sub("", posted) == self._leading.sub("", intended)
        return False

    def same_thread(self, replying_to: object, message: OutgoingMessage) -> bool:
        """Whether a post replying to ``replying_to`` (an id, or ``None``) can be ``message``."""
        if self.exact_thread:
            return replying_to == message.in_reply_to
        return not message.in_reply_to or replying_to == message.in_reply_to

    def floor(self, message: OutgoingMessage) -> datetime | None:
        """The oldest a post of ``message`` can be by the platform's clock (``None``: any)."""
        if message.not_before is None:
            return None
        earliest = message.not_before
        if self.whole_seconds:
            earliest = earliest.replace(microsecond=0)
        return earliest - self.clock_skew

    def in_time(self, created: datetime, message: OutgoingMessage) -> bool:
        """Whether a post made at ``created`` is recent enough to be ``message``."""
        floor = self.floor(message)
        return floor is None or created >= floor

    def matches(self, message: OutgoingMessage, *, text: str, replying_to: object,
                created: datetime) -> bool:
        """Whether the post with this text, parent and time is ``message``."""
        return (self.same_text(text, message.text, reply=bool(message.in_reply_to))
                and self.same_thread(replying_to, message) and self.in_time(created, message))


# -- times ----------------------------------------------------------------------------------


def parse_time(value: str | datetime) -> datetime:
    """An ISO 8601 time (``Z`` or an offset; none is UTC), or a datetime, as an aware UTC
    datetime. Raises ``ValueError`` for anything else."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if not isinstance(value, datetime):
        raise ValueError(f"not a time: {value!r}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso(moment: datetime) -> str:
    """``moment`` as AT Protocol (and most APIs) write times: UTC, milliseconds, ``Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- error text -----------------------------------------------------------------------------


def scrub(said: object, secrets: Iterable[str] = (), *, queries: bool = False,
          one_line: bool = False, name_if_empty: bool = False) -> str:
    """What an exception or a server said, fit to put in an error, at most
    ``ERROR_TEXT_MAX`` characters: each of ``secrets`` replaced by ``***``; with ``queries``,
    URLs' query strings cut (``?…``: a library that names the URL it asked may name a token
    in it); with ``one_line``, whitespace runs as one space; with ``name_if_empty``, an
    exception that says nothing is named by its type."""
    text = str(said)
    if not text and name_if_empty:
        text = type(said).__name__
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    if queries:
        text = _QUERY.sub("?…", text)
    if one_line:
        text = " ".join(text.split())
    return text[:ERROR_TEXT_MAX]


# -- session files --------------------------------------------------------------------------


class SessionFile:
    """A login session kept between runs (logins are rate-limited; a resumed run reuses its
    sessions): a JSON file of the service, the account's handle and the session string,
    readable by its owner only (mode 0600), replaced whole (:mod:`harness.atomic`), and read
    back only for the same service and handle. It holds tokens: never print or log it."""

    def __init__(self, path: Path, service: str, handle: str) -> None:
        self.path = path
        self.service = service
        self.handle = handle

    def load(self) -> str | None:
        """The saved session string, if there is one for this service and handle."""
        try:
            saved: Any = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if (not isinstance(saved, dict) or saved.get("service") != self.service
                or saved.get("handle") != self.handle):
            return None
        session = saved.get("session")
        return session if isinstance(session, str) and session else None

    def save(self, session: str) -> None:
        """Keep ``session``. One that cannot be saved is only a lost chance to skip a login,
        never a failure: the file is then removed rather than left stale."""
        payload = json.dumps({"service": self.service, "handle": self.handle,
                              "session": session}).encode("utf-8")

        def write(staging: Path) -> None:
            descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.fchmod(descriptor, 0o600)
                os.write(descriptor, payload)
            finally:
                os.close(descriptor)

        try:
            replace_atomically(self.path, write)
        except OSError:
            self.forget()

    def forget(self) -> None:
        """Drop the saved session (refused, or not saved whole)."""
        with contextlib.suppress(OSError):
            self.path.unlink(missing_ok=True)
