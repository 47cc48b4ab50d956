"""The ``bluesky`` channel: Bluesky (AT Protocol) through ``atproto.Client``.

Its settings are :attr:`BlueskyChannel.settings_spec` (the table in ``docs/channels.md``).

A persona logs in with its handle (its account on this channel in the scenario, e.g.
``@ana.bsky.social``) and its app password. Brands are the handles the scenario gives them.

How it posts: a message that @mentions a brand carries a mention *facet* with the brand's DID
(Bluesky notifies only on facets; the handle is resolved once with
``com.atproto.identity.resolveHandle``); a follow-up is a reply (root and parent refs) to the
brand's reply. A post's time is the AppView's ``indexedAt``, read back after posting, so our
posts and the brands' replies are timed by the same server clock.

How it reads: one ``app.bsky.notification.listNotifications`` per persona per poll (reasons
mention and reply), however many probes are open, paging only while a page is full and still
newer than what was seen; the cursor keeps, per persona, the newest ``indexedAt`` seen and the
posts seen in the two minutes before it. A persona's first read takes one page. Replies are
matched by their parent (``in_reply_to``) and thread root (``conversation_id``) URIs. Bluesky
marks no post as automatic, so nothing is reported as an automated acknowledgement.

Sessions are saved in the run folder and reused (:mod:`harness.channels.bluesky_login`);
errors map as :mod:`harness.channels.bluesky_errors` says. Nothing sleeps or retries here:
the runner owns that.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from atproto_client import models  # type: ignore[import-untyped]

from harness.channels.base import (
    CONNECTION_SETTINGS,
    ChannelAdapter,
    ChannelContext,
    IncomingReply,
    OutgoingMessage,
    PollResult,
    SentPost,
)
from harness.channels.bluesky_login import Login, Logins
from harness.channels.commons import OwnPosts, iso, parse_time
from harness.channels.settings import TEXT, URL, PerPersona, Setting
from harness.errors import AccessDenied, ChannelError, NotConfigured, RateLimited
from harness.scenario.model import Channel

DEFAULT_SERVICE = "https://bsky.social"
POST = "app.bsky.feed.post"
REASONS = ("mention", "reply")
PAGE = 50
"""Notifications per request (the API allows up to 100)."""
MAX_PAGES = 10
"""At most this many notification pages per persona per poll (only while pages are full)."""
FEED_PAGE = 100
MAX_FEED_PAGES = 5
OVERLAP = timedelta(minutes=2)
"""Notifications up to this much older than the newest one seen are read again (and skipped
when seen): the AppView's ``indexedAt`` is not strictly in arrival order."""
CLOCK_SKEW = timedelta(minutes=1)
"""``find_post`` accepts posts this much older than ``not_before``: the platform's clock and
ours differ."""
BLUESKY_POSTS = OwnPosts(clock_skew=CLOCK_SKEW, exact_thread=True)
"""Our posts as the AppView shows them: the text as posted, timed by the AppView's clock, a
first message replying to nothing."""


def mention_pattern(handle: str) -> re.Pattern[str]:
    """``@handle`` as a whole mention (not part of a longer handle, e-mail or word)."""
    return re.compile(r"(?<![\w@.])@" + re.escape(handle) + r"(?![\w-]|\.\w)", re.IGNORECASE)


def byte_slice(text: str, start: int, end: int) -> tuple[int, int]:
    """Character offsets in ``text`` as the UTF-8 byte offsets facets use."""
    byte_start = len(text[:start].encode("utf-8"))
    return byte_start, byte_start + len(text[start:end].encode("utf-8"))


def _rkey(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1]


def _get(value: Any, name: str) -> Any:
    """A field of a model or of a plain record (atproto decodes unknown records loosely)."""
    if value is None:
        return None
    if isinstance(value, dict):
        return value.get(name)
    return getattr(value, name, None)


class BlueskyChannel(ChannelAdapter):
    """Posts with mention facets, replies in threads, and reads notifications on Bluesky."""

    name = "bluesky"
    platform = "bluesky"
    summary = "Bluesky (AT Protocol) via atproto; app password per persona, sessions reused"
    settings_spec = (
        Setting("service", URL, "the PDS or entryway to log in at", default=DEFAULT_SERVICE),
        Setting("passwords", PerPersona(TEXT, "app password"), "each persona's app password "
                "(it logs in with its handle, its account on the channel)", required=True,
                secret=True),
        *CONNECTION_SETTINGS,
    )
    default_mode = "auto"
    connects = True

    def __init__(self, config: Channel, context: ChannelContext) -> None:
        super().__init__(config, context)
        service = config.settings.get("service") or DEFAULT_SERVICE
        self.service = str(service).rstrip("/")
        self._logins = Logins(self, self.service, self._handle)
        self._call = self._logins.call
        self._dids: dict[str, str] = {}  # lower-case handle -> DID

    # -- configuration ----------------------------------------------------------------------

    def settings_problem(self) -> str | None:
        parts = urlsplit(self.service)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return f"settings.service must be an http(s) URL, not {self.service!r}"
        return None

    def _handle(self, persona: str) -> str:
        handle = self.accounts.get(persona, "").strip().lstrip("@")
        if not handle:
            raise NotConfigured(f"channel {self.config.id!r}: persona {persona!r} has no "
                                f"account on this channel")
        return handle

    def check_access(self) -> str:
        """``com.atproto.server.getSession`` as each persona (read-only), logging in first
        where there is no saved session."""
        for persona in self.channel_personas():
            self._call(persona, lambda login: login.client.com.atproto.server.get_session(),
                       "check the session")
        return f"logged in as {self.personas_shown()}"

    # -- sending ----------------------------------------------------------------------------

    def send(self, message: OutgoingMessage) -> SentPost:
        handle = self._handle(message.persona_id)
        created = iso(self.context.clock.now())

        def post(login: Login) -> str:
            facets = self._facets(login, message)
            reply = self._reply_ref(login, message.in_reply_to) if message.in_reply_to else None
            record = models.AppBskyFeedPost.Record(created_at=created, text=message.text,
                                                   facets=facets or None, reply=reply)
            response = login.client.com.atproto.repo.create_record(
                models.ComAtprotoRepoCreateRecord.Data(repo=login.did, collection=POST,
                                                       record=record))
            return str(response.uri)

        uri = self._call(message.persona_id, post, "post")
        return SentPost(uri, self._indexed_at(message.persona_id, uri) or parse_time(created),
                        web_url(handle, uri))

    def _facets(self, login: Login, message: OutgoingMessage) -> list[Any]:
        """Mention facets for the brand handles written in the text, with their DIDs."""
        facets = []
        for written in message.brand_handles:
            handle = written.strip().lstrip("@")
            if not handle:
                continue
            for found in mention_pattern(handle).finditer(message.text):
                start, end = byte_slice(message.text, found.start(), found.end())
                facets.append(models.AppBskyRichtextFacet.Main(
                    features=[models.AppBskyRichtextFacet.Mention(did=self._did(login, handle))],
                    index=models.AppBskyRichtextFacet.ByteSlice(byte_start=start,
                                                                byte_end=end)))
        return sorted(facets, key=lambda facet: facet.index.byte_start)

    def _did(self, login: Login, handle: str) -> str:
        key = handle.lower()
        if key not in self._dids:
            answer = login.client.com.atproto.identity.resolve_handle({"handle": key})
            self._dids[key] = str(answer.did)
        return self._dids[key]

    def _reply_ref(self, login: Login, parent_uri: str) -> Any:
        """Root and parent refs for a reply to ``parent_uri`` (``app.bsky.feed.getPosts``)."""
        found = login.client.app.bsky.feed.get_posts({"uris": [parent_uri]}).posts
        if not found:
            raise AccessDenied(f"Bluesky: the post to reply to is gone: {parent_uri}")
        parent = found[0]
        parent_ref = models.ComAtprotoRepoStrongRef.Main(uri=parent.uri, cid=parent.cid)
        root = _get(_get(_get(parent, "record"), "reply"), "root")
        root_ref = (models.ComAtprotoRepoStrongRef.Main(uri=_get(root, "uri"),
                                                        cid=_get(root, "cid"))
                    if root is not None else parent_ref)
        return models.AppBskyFeedPost.ReplyRef(root=root_ref, parent=parent_ref)

    def _indexed_at(self, persona: str, uri: str) -> datetime | None:
        """When the AppView indexed our new post; None if it cannot say yet (then the
        record's own ``createdAt``, our clock, stands in)."""
        def read(login: Login) -> datetime | None:
            posts = login.client.app.bsky.feed.get_posts({"uris": [uri]}).posts
            return parse_time(posts[0].indexed_at) if posts else None

        try:
            return self._call(persona, read, "read back the post")
        except RateLimited:
            raise  # the runner must hear the reset time; the retry finds the post (find_post)
        except ChannelError:
            return None

    # -- finding our posts ------------------------------------------------------------------

    def find_post(self, message: OutgoingMessage) -> SentPost | None:
        handle = self._handle(message.persona_id)
        since = BLUESKY_POSTS.floor(message)

        def search(login: Login) -> tuple[str, datetime] | None:
            found: tuple[str, datetime] | None = None
            cursor = None
            for _ in range(MAX_FEED_PAGES):
                params: dict[str, Any] = {"actor": login.did, "limit": FEED_PAGE,
                                          "filter": "posts_with_replies"}
                if cursor:
                    params["cursor"] = cursor
                page = login.client.app.bsky.feed.get_author_feed(params)
                oldest = None
                for item in page.feed:  # newest first: the last match is the first made
                    post = item.post
                    indexed = parse_time(post.indexed_at)
                    oldest = indexed
                    if item.reason is not None or _get(post.author, "did") != login.did:
                        continue  # a repost
                    if self._is(message, post, indexed):
                        found = (str(post.uri), indexed)
                cursor = page.cursor
                if (not cursor or len(page.feed) < FEED_PAGE
                        or (since is not None and oldest is not None and oldest < since)):
                    break
            return found

        found = self._call(message.persona_id, search, "read the persona's posts")
        if found is None:
            return None
        return SentPost(found[0], found[1], web_url(handle, found[0]))

    def _is(self, message: OutgoingMessage, post: Any, indexed: datetime) -> bool:
        """Whether ``post`` on the persona's feed is ``message``."""
        record = post.record
        return BLUESKY_POSTS.matches(
            message, text=str(_get(record, "text") or ""), created=indexed,
            replying_to=_get(_get(_get(record, "reply"), "parent"), "uri"))

    # -- reading ----------------------------------------------------------------------------

    def poll(self, cursor: str | None) -> PollResult:
        state: dict[str, Any] = {}
        if cursor:
            try:
                loaded = json.loads(cursor)
            except ValueError:
                loaded = {}
            state = loaded if isinstance(loaded, dict) else {}
        replies: list[IncomingReply] = []
        for persona in self.channel_personas():
            found, state[persona] = self._notifications(persona, state.get(persona))
            replies.extend(found)
        replies.sort(key=lambda r: (r.created_at, r.platform_id))
        return PollResult(replies, json.dumps(state, sort_keys=True))

    def _notifications(self, persona: str, seen_state: Any
                       ) -> tuple[list[IncomingReply], dict[str, Any]]:
        """New replies and mentions of one persona, and its new cursor entry."""
        newest, seen = _load_state(seen_state)
        floor = newest - OVERLAP if newest is not None else None

        def read(login: Login) -> list[tuple[datetime, Any]]:
            items: list[tuple[datetime, Any]] = []
            page_cursor = None
            for _ in range(MAX_PAGES):
                params: dict[str, Any] = {"limit": PAGE, "reasons": list(REASONS)}
                if page_cursor:
                    params["cursor"] = page_cursor
                page = login.client.app.bsky.notification.list_notifications(params)
                items.extend((parse_time(n.indexed_at), n) for n in page.notifications)
                page_cursor = page.cursor
                if (floor is None or not page_cursor or len(page.notifications) < PAGE
                        or items[-1][0] <= floor or str(items[-1][1].uri) in seen):
                    break  # the page reached what was seen (a first read takes one page)
            return items

        items = self._call(persona, read, "read notifications")
        account = self.accounts[persona]
        fresh: dict[str, IncomingReply] = {}
        for indexed, item in items:
            uri = str(item.uri)
            if (item.reason not in REASONS or uri in seen or uri in fresh
                    or (floor is not None and indexed <= floor)):
                continue
            fresh[uri] = self._reply(item, indexed, account)
            seen[uri] = indexed
        if fresh:
            top = max(r.created_at for r in fresh.values())
            newest = top if newest is None else max(newest, top)
        if newest is None:
            return [], {}
        keep_after = newest - OVERLAP
        return list(fresh.values()), {
            "newest": iso(newest),
            "seen": {u: iso(t) for u, t in sorted(seen.items()) if t > keep_after}}

    def _reply(self, item: Any, indexed: datetime, account: str) -> IncomingReply:
        record = item.record
        reply = _get(record, "reply")
        parent = _get(_get(reply, "parent"), "uri")
        root = _get(_get(reply, "root"), "uri")
        handle = str(_get(item.author, "handle") or _get(item.author, "did") or "")
        return IncomingReply(
            platform_id=str(item.uri), created_at=indexed, author=f"@{handle}",
            kind="public_reply", text=str(_get(record, "text") or ""),
            in_reply_to=str(parent) if parent else None,
            conversation_id=str(root) if root else None, to_account=account,
            raw={"uri": str(item.uri), "cid": str(item.cid), "reason": str(item.reason),
                 "indexedAt": str(item.indexed_at), "author": handle,
                 "authorDid": str(_get(item.author, "did") or ""),
                 "createdAt": str(_get(record, "created_at") or ""),
                 "parent": str(parent) if parent else None,
                 "root": str(root) if root else None})

    def close(self) -> None:
        self._logins.close()


def _load_state(entry: Any) -> tuple[datetime | None, dict[str, datetime]]:
    """A persona's cursor entry: the newest ``indexedAt`` seen, and the posts seen shortly
    before it (an unreadable entry reads as none)."""
    if not isinstance(entry, dict):
        return None, {}
    try:
        newest = parse_time(str(entry["newest"]))
        seen = {str(uri): parse_time(str(at)) for uri, at in dict(entry.get("seen") or {}).items()}
    except (KeyError, TypeError, ValueError):
        return None, {}
    return newest, seen


def web_url(handle: str, uri: str) -> str:
    """Where a person sees the post in the Bluesky app."""
    return f"https://bsky.app/profile/{handle.lstrip('@')}/post/{_rkey(uri)}"
