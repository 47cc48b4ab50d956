"""The ``mastodon`` channel: any Mastodon server, through Mastodon.py.

Its settings are :attr:`MastodonChannel.settings_spec` (the table in ``docs/channels.md``).

How it posts: a status with the channel's ``visibility``; a follow-up replies in the thread and
starts with the @mention of the account it answers (a Mastodon reply notifies only whom it
mentions: apps add the mention, the API does not). Every attempt at one message carries the
same ``Idempotency-Key``. To settle an interrupted send, or to find what a person posted in
``assisted`` mode, it looks through the persona's own statuses for the same text (HTML
removed, whitespace and case ignored) made at or after the message's time.

How it reads: every reply and direct status that names a persona is a ``mention`` notification,
so each poll makes one notifications request per persona, however many probes are open (more
only when a page comes back full), reading forward from the last notification id seen. A
mention whose status is ``direct`` is a direct message; any other is a public reply. Less
often (``dm_poll_every``), it also reads the persona's conversations, for direct messages that
a notification policy kept out of the notifications; a status already seen is never reported
twice. Times are the server's ``created_at``. Statuses from accounts flagged ``bot`` count as
automated; Mastodon marks no other status as an automatic reply.

Mastodon.py is made to fail fast and never wait (:mod:`harness.channels.mastodon_api`).
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from mastodon import Mastodon

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
from harness.channels.commons import OwnPosts, parse_time, scrub
from harness.channels.mastodon_api import LastResponse, api_errors, connect
from harness.channels.settings import DURATION, TEXT, URL, OneOf, PerPersona, Setting
from harness.durations import compact_duration
from harness.errors import NotConfigured, TransientError
from harness.scenario.model import Channel
from harness.scenario.queries import normalise_handle

PAGE = 40
"""Notifications, conversations and statuses per request."""
MAX_PAGES = 5
"""Pages read per persona per poll at most; the rest comes at the next poll, with no gap."""
VISIBILITIES = ("public", "unlisted", "private", "direct")
DM_POLL_EVERY = timedelta(minutes=15)

MASTODON_POSTS = OwnPosts(handle=r"[\w.-]+", remote_mentions=True, leading_mentions="reply",
                          whole_seconds=True)
"""Our statuses as a Mastodon server shows them: a remote mention as the bare ``@name``, a
reply's leading mentions as its app (or our follow-up) put them, times to the second."""
same_text = MASTODON_POSTS.same_text
"""Whether a status's text is the message we meant (see :data:`MASTODON_POSTS`)."""

_TAG = re.compile(r"<[^>]+>")
_BREAK = re.compile(r"<br\s*/?>", re.I)
_PARAGRAPH = re.compile(r"</p>\s*<p[^>]*>", re.I)


def plain_text(content: str) -> str:
    """A status's text from its HTML content (line breaks kept, tags dropped)."""
    text = _BREAK.sub("\n", _PARAGRAPH.sub("\n\n", content))
    return html.unescape(_TAG.sub("", text)).strip()


def _id_key(status_id: str) -> tuple[int, int, str]:
    """Order of Mastodon ids (numeric strings; anything else sorts after, as text)."""
    return (0, int(status_id), "") if status_id.isdigit() else (1, 0, status_id)


def _newest(current: str | None, candidate: str) -> str:
    return candidate if current is None or _id_key(candidate) > _id_key(current) else current


class _Cursor:
    """Where polling got to, per persona: the last notification and conversation ids, and
    the direct statuses notifications already gave (so conversations do not repeat them)."""

    def __init__(self, text: str | None) -> None:
        self.notifications: dict[str, str] = {}
        self.conversations: dict[str, str] = {}
        self.dm_seen: dict[str, list[str]] = {}
        self.dm_read_at: datetime | None = None
        try:
            state = json.loads(text) if text else {}
            self.notifications = {str(k): str(v) for k, v in state["notifications"].items()}
            self.conversations = {str(k): str(v) for k, v in state["conversations"].items()}
            self.dm_seen = {str(k): [str(i) for i in v] for k, v in state["dm_seen"].items()}
            if state["dm_read_at"]:
                self.dm_read_at = datetime.fromisoformat(state["dm_read_at"])
        except (ValueError, TypeError, KeyError, AttributeError):
            pass  # no cursor, or not one of ours: read as on a first poll

    def dump(self) -> str:
        return json.dumps({
            "notifications": self.notifications, "conversations": self.conversations,
            "dm_seen": {k: v for k, v in self.dm_seen.items() if v},
            "dm_read_at": self.dm_read_at.isoformat() if self.dm_read_at else None,
        }, sort_keys=True)


class MastodonChannel(ChannelAdapter):
    """Posts statuses and reads mentions and direct messages on a Mastodon server."""

    name = "mastodon"
    platform = "mastodon"
    summary = "Mastodon (any server) via Mastodon.py; an access token per persona"
    settings_spec = (
        Setting("instance", URL, "the personas' server, e.g. https://mastodon.social",
                required=True),
        Setting("tokens", PerPersona(TEXT, "access token"), "each persona's access token "
                "(scopes read and write)", required=True, secret=True),
        Setting("visibility", OneOf(VISIBILITIES), "the visibility of our statuses",
                default="public"),
        Setting("dm_poll_every", DURATION, "how often conversations are read (for direct "
                "messages a notification policy kept out of the notifications)",
                default=compact_duration(DM_POLL_EVERY)),
        *CONNECTION_SETTINGS,
    )
    default_mode = "auto"
    connects = True

    def __init__(self, config: Channel, context: ChannelContext) -> None:
        super().__init__(config, context)
        self._clients: dict[str, Mastodon] = {}
        self._own_ids: dict[str, str] = {}
        self._last = LastResponse()
        self._brand_handles = {normalise_handle(h) for b in context.brands
                               for h in b.handles.get(config.id, [])}

    # -- configuration ----------------------------------------------------------------------

    def settings_problem(self) -> str | None:
        try:
            self._instance()
            self._visibility()
            self._dm_poll_every()
        except NotConfigured as exc:
            return str(exc)
        return None

    def _instance(self) -> str:
        instance = self.settings.require("instance")
        if not isinstance(instance, str) or urlsplit(instance).scheme not in ("http", "https"):
            raise NotConfigured(f"channel {self.config.id!r}: settings.instance must be the "
                                "server's URL, e.g. https://mastodon.social")
        return instance.rstrip("/")

    def _visibility(self) -> str:
        visibility = self.settings.get("visibility", "public")
        if visibility not in VISIBILITIES:
            raise NotConfigured(f"channel {self.config.id!r}: settings.visibility must be one "
                                f"of {', '.join(VISIBILITIES)}, not {visibility!r}")
        return str(visibility)

    def _dm_poll_every(self) -> timedelta:
        return self.settings.duration("dm_poll_every", DM_POLL_EVERY)

    # -- talking to the server --------------------------------------------------------------

    def _client(self, persona_id: str) -> Mastodon:
        if persona_id not in self._clients:
            token = self.settings.per_persona("tokens", persona_id)
            if not isinstance(token, str):
                raise NotConfigured(f"channel {self.config.id!r}: settings.tokens.{persona_id} "
                                    "must be {env: VARIABLE}")
            timeout_s, verify = self.timeout_s, tls.requests_verify(self.settings)
            self._clients[persona_id] = connect(token, self._instance(), timeout_s, verify,
                                                self._last, self.config.id)
        return self._clients[persona_id]

    def _api(self, action: str) -> AbstractContextManager[None]:
        """Make requests, turning every failure into the project's errors."""
        return api_errors(action, self._last, self._safe)

    def _safe(self, said: object) -> str:
        """What an exception or server said, with no token in it, short."""
        return scrub(said, [str(client.access_token) for client in self._clients.values()
                            if client.access_token])

    def _own_id(self, persona_id: str) -> str:
        if persona_id not in self._own_ids:
            me: Any = self._client(persona_id).account_verify_credentials()
            self._own_ids[persona_id] = str(me["id"])
        return self._own_ids[persona_id]

    def check_access(self) -> str:
        """``verify_credentials`` as each persona (read-only)."""
        for persona in self.channel_personas():
            self._own_ids.pop(persona, None)
            with self._api("log in"):
                self._own_id(persona)
        return f"logged in as {self.personas_shown()}"

    # -- sending ----------------------------------------------------------------------------

    def send(self, message: OutgoingMessage) -> SentPost:
        client = self._client(message.persona_id)
        visibility = self._visibility()
        with self._api("post"):
            text = message.text
            if message.in_reply_to:
                text = self._addressed(client, message)
            status: Any = client.status_post(
                text, in_reply_to_id=message.in_reply_to, visibility=visibility,
                idempotency_key=self._idempotency_key(message))
            return SentPost(str(status["id"]), parse_time(status["created_at"]),
                            status.get("url"))

    def _addressed(self, client: Mastodon, message: OutgoingMessage) -> str:
        """A follow-up's text, starting with the @mention of whom it answers: on Mastodon a
        reply notifies only the accounts it mentions (apps add it; the API does not)."""
        parent: Any = client.status(message.in_reply_to)
        acct = str(parent["account"]["acct"])
        own = normalise_handle(message.persona_account).split("@")[0]
        mentioned = {m.casefold() for m in re.findall(r"@([\w.-]+(?:@[\w.-]+)?)", message.text)}
        if acct.split("@")[0].casefold() == own or acct.casefold() in mentioned:
            return message.text
        return f"@{acct} {message.text}"

    def _idempotency_key(self, message: OutgoingMessage) -> str:
        """The same for every attempt at one message of one run: a server that received an
        attempt answers a repeat with the status it made (Mastodon keeps keys for an hour)."""
        seed = f"{self.context.state_dir.resolve()}|{self.config.id}|{message.probe_id}|"
        return hashlib.sha256(f"{seed}{message.step}".encode()).hexdigest()[:32]

    def find_post(self, message: OutgoingMessage) -> SentPost | None:
        client = self._client(message.persona_id)
        floor = MASTODON_POSTS.floor(message)
        with self._api("find post"):
            own_id = self._own_id(message.persona_id)
            max_id: str | None = None
            for _ in range(MAX_PAGES):
                page: Any = client.account_statuses(own_id, max_id=max_id, limit=PAGE,
                                                    exclude_reblogs=True)
                for status in page:  # newest first
                    created = parse_time(status["created_at"])
                    status_id = str(status["id"])
                    if floor is not None and created < floor:
                        return None
                    if message.in_reply_to and _id_key(status_id) <= _id_key(
                            message.in_reply_to):
                        return None  # older than what it would answer
                    if self._is(status, message, created):
                        return SentPost(status_id, created, status.get("url"))
                if len(page) < PAGE:
                    return None
                max_id = str(page[-1]["id"])
        raise TransientError(f"Mastodon: find post: not found in the persona's last "
                             f"{MAX_PAGES * PAGE} statuses, and they do not reach back to its "
                             "time")

    def _is(self, status: Any, message: OutgoingMessage, created: datetime) -> bool:
        replying_to = status.get("in_reply_to_id")
        return MASTODON_POSTS.matches(
            message, text=plain_text(status.get("content") or ""), created=created,
            replying_to=str(replying_to) if replying_to is not None else None)

    # -- reading ----------------------------------------------------------------------------

    def poll(self, cursor: str | None) -> PollResult:
        state = _Cursor(cursor)
        now = self.context.clock.now()
        read_dms = state.dm_read_at is None or now >= state.dm_read_at + self._dm_poll_every()
        found: dict[str, IncomingReply] = {}
        with self._api("read"):
            for persona in self.channel_personas():
                client = self._client(persona)
                seen = set(state.dm_seen.get(persona, []))
                for status, via in self._mentions(client, persona, state):
                    reply = self._reply(status, persona, via)
                    found.setdefault(reply.platform_id, reply)
                    if reply.kind == "direct_message":
                        seen.add(reply.platform_id)
                if read_dms:
                    for status, via in self._conversations(client, persona, state):
                        if str(status["id"]) not in seen:
                            reply = self._reply(status, persona, via)
                            found.setdefault(reply.platform_id, reply)
                    floor = state.conversations.get(persona)
                    seen = {s for s in seen if floor is None or _id_key(s) > _id_key(floor)}
                state.dm_seen[persona] = sorted(seen, key=_id_key)
        if read_dms:
            state.dm_read_at = now
        replies = sorted(found.values(), key=lambda r: (r.created_at, _id_key(r.platform_id)))
        return PollResult(replies, state.dump())

    def _mentions(self, client: Mastodon, persona_id: str,
                  state: _Cursor) -> list[tuple[Any, dict[str, str]]]:
        """Mentions since the cursor, read forward (``min_id``) so a full page leaves no gap;
        the first read of a persona takes the newest page only."""
        since = state.notifications.get(persona_id)
        first = since is None
        statuses = []
        for _ in range(MAX_PAGES):
            page: Any = client.notifications(types=["mention"], min_id=since, limit=PAGE)
            for notification in page:
                since = _newest(since, str(notification["id"]))
                if notification.get("type") == "mention" and notification.get("status"):
                    statuses.append((notification["status"],
                                     {"notification_id": str(notification["id"])}))
            if first or len(page) < PAGE:
                break
        state.notifications[persona_id] = since or "0"  # read from the start next time
        return statuses

    def _conversations(self, client: Mastodon, persona_id: str,
                       state: _Cursor) -> list[tuple[Any, dict[str, str]]]:
        """The last status of every conversation with news since the cursor, but the
        persona's own (conversations page by their last status's id)."""
        since = state.conversations.get(persona_id)
        first = since is None
        own_id = self._own_id(persona_id)
        statuses = []
        for _ in range(MAX_PAGES):
            page: Any = client.conversations(min_id=since, limit=PAGE)
            for conversation in page:
                status = conversation.get("last_status")
                if not status:
                    continue
                since = _newest(since, str(status["id"]))
                if str(status["account"]["id"]) != own_id:
                    statuses.append((status, {"conversation_id": str(conversation["id"])}))
            if first or len(page) < PAGE:
                break
        state.conversations[persona_id] = since or "0"
        return statuses

    def _reply(self, status: Any, persona: str, via: dict[str, str]) -> IncomingReply:
        account = status["account"]
        visibility = str(status.get("visibility") or "public")
        replying_to = status.get("in_reply_to_id")
        application = status.get("application") or {}
        return IncomingReply(
            platform_id=str(status["id"]),
            created_at=parse_time(status["created_at"]),
            author=self._author(str(account["acct"])),
            kind="direct_message" if visibility == "direct" else "public_reply",
            text=plain_text(str(status.get("content") or "")),
            in_reply_to=str(replying_to) if replying_to else None,
            to_account=self.accounts[persona],
            automated=account.get("bot") is True,
            raw={"id": str(status["id"]),
                 "created_at": parse_time(status["created_at"]).isoformat(),
                 "url": status.get("url"), "visibility": visibility,
                 "in_reply_to_id": str(replying_to) if replying_to else None,
                 "account": {"id": str(account["id"]), "acct": str(account["acct"]),
                             "bot": account.get("bot") is True},
                 "application": application.get("name"), **via})

    def _author(self, acct: str) -> str:
        """``@acct``, or ``@acct@server`` when the scenario writes a local brand that way."""
        if "@" not in acct:
            host = urlsplit(str(self.config.settings.get("instance", ""))).hostname
            if host and normalise_handle(f"{acct}@{host}") in self._brand_handles:
                return f"@{acct}@{host}"
        return f"@{acct}"

    def close(self) -> None:
        for client in self._clients.values():
            client.session.close()
        self._clients.clear()
