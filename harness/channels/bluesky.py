"""The ``bluesky`` channel: Bluesky (AT Protocol) through ``atproto.Client``.

Settings (secrets only as ``{env: VARIABLE}``)::

    settings:
      service: https://bsky.social                 # optional: the PDS or entryway to log in at
      passwords:                                    # each persona's app password
        ana: {env: BSKY_ANA_APP_PASSWORD}
      ca_file: our-ca.pem                           # optional: TLS, see harness.channels.tls

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

Sessions: logins are limited (30 per 5 minutes per account), so each persona's session is kept
in the run folder (``bluesky-<channel>-<persona>.session``, mode 0600) and reused, also by a
resumed run; the password is used only when there is no saved session or the platform refused
it (``ExpiredToken`` / ``InvalidToken``: then one new login and the request once more). The
client refreshes tokens shortly before they expire; refreshed sessions are saved too. The
session file holds tokens: it is never printed or logged.

Errors: 429 is ``RateLimited`` (until ``ratelimit-reset``), 401 ``AuthenticationFailed``, 403
and other refusals ``AccessDenied``, 5xx, network failures and malformed answers
``TransientError``. Nothing sleeps or retries here: the runner owns that.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlsplit

import httpx
from atproto_client import Client, SessionEvent, models  # type: ignore[import-untyped]
from atproto_client.exceptions import (  # type: ignore[import-untyped]
    LoginRequiredError,
    RateLimitExceededError,
    RequestErrorBase,
)
from atproto_client.models.common import XrpcError  # type: ignore[import-untyped]
from atproto_client.request import Request  # type: ignore[import-untyped]
from atproto_core.exceptions import AtProtocolError  # type: ignore[import-untyped]
from atproto_server.exceptions import InvalidTokenError  # type: ignore[import-untyped]

from harness.channels import http, tls
from harness.channels.base import (
    ChannelAdapter,
    ChannelContext,
    IncomingReply,
    OutgoingMessage,
    PollResult,
    SentPost,
)
from harness.errors import (
    AccessDenied,
    AuthenticationFailed,
    ChannelError,
    NotConfigured,
    RateLimited,
)
from harness.scenario.model import Channel

T = TypeVar("T")

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
TOKEN_ERRORS = frozenset({"ExpiredToken", "InvalidToken"})
"""XRPC errors meaning the session, not the account, was refused: log in again once."""


class _SessionRefused(Exception):
    """The platform refused the session's tokens (expired, revoked, unreadable)."""


@dataclass
class _Login:
    """One persona's client and session."""

    persona: str
    handle: str  # without "@"
    client: Any
    did: str | None = None  # set while the client holds a session


def iso(moment: datetime) -> str:
    """``moment`` as AT Protocol datetimes are written: UTC, milliseconds, ``Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """An AT Protocol datetime as a timezone-aware UTC datetime."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def mention_pattern(handle: str) -> re.Pattern[str]:
    """``@handle`` as a whole mention (not part of a longer handle, e-mail or word)."""
    return re.compile(r"(?<![\w@.])@" + re.escape(handle) + r"(?![\w-]|\.\w)", re.IGNORECASE)


def byte_slice(text: str, start: int, end: int) -> tuple[int, int]:
    """Character offsets in ``text`` as the UTF-8 byte offsets facets use."""
    byte_start = len(text[:start].encode("utf-8"))
    return byte_start, byte_start + len(text[start:end].encode("utf-8"))


def _normal(text: str) -> str:
    return " ".join(text.split()).casefold()


def _rkey(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1]


def _get(value: Any, name: str) -> Any:
    """A field of a model or of a plain record (atproto decodes unknown records loosely)."""
    if value is None:
        return None
    if isinstance(value, dict):
        return value.get(name)
    return getattr(value, name, None)


def _safe(exc: BaseException) -> str:
    """An exception's message, short and without query strings."""
    return re.sub(r"\?\S*", "?…", str(exc) or type(exc).__name__)[:300]


class BlueskyChannel(ChannelAdapter):
    """Posts with mention facets, replies in threads, and reads notifications on Bluesky."""

    name = "bluesky"
    platform = "bluesky"
    summary = "Bluesky (AT Protocol) via atproto; app password per persona, sessions reused"
    secret_settings = frozenset({"passwords"})
    required_settings = ("passwords",)
    default_mode = "auto"
    connects = True

    def __init__(self, config: Channel, context: ChannelContext) -> None:
        super().__init__(config, context)
        service = config.settings.get("service") or DEFAULT_SERVICE
        self.service = str(service).rstrip("/")
        self._logins: dict[str, _Login] = {}
        self._dids: dict[str, str] = {}  # lower-case handle -> DID

    # -- configuration ----------------------------------------------------------------------

    def not_configured(self) -> str | None:
        reason = super().not_configured()
        if reason:
            return reason
        parts = urlsplit(self.service)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return f"settings.service must be an http(s) URL, not {self.service!r}"
        return self.missing_per_persona("passwords", "app password")


    def _handle(self, persona: str) -> str:
        handle = self.accounts.get(persona, "").strip().lstrip("@")
        if not handle:
            raise NotConfigured(f"channel {self.config.id!r}: persona {persona!r} has no "
                                f"account on this channel")
        return handle

    # -- sessions ---------------------------------------------------------------------------

    def _session_path(self, persona: str) -> Path:
        return self.context.state_dir / f"bluesky-{self.config.id}-{persona}.session"

    def _load_session(self, login: _Login) -> str | None:
        """The persona's saved session string, if it was made for this service and handle."""
        try:
            saved = json.loads(self._session_path(login.persona).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if (not isinstance(saved, dict) or saved.get("service") != self.service
                or saved.get("handle") != login.handle.lower()):
            return None
        session = saved.get("session")
        return session if isinstance(session, str) and session else None

    def _save_session(self, login: _Login, session: Any) -> None:
        """Keep the session for later runs: owner-only file, replaced whole. A session that
        cannot be saved is only a lost chance to skip a login, never a failed post."""
        path = self._session_path(login.persona)
        payload = json.dumps({"service": self.service, "handle": login.handle.lower(),
                              "session": session.export()})
        temporary = path.with_name(path.name + ".tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.fchmod(descriptor, 0o600)
                os.write(descriptor, payload.encode("utf-8"))
            finally:
                os.close(descriptor)
            os.replace(temporary, path)
        except OSError:
            self._forget_session(login)

    def _forget_session(self, login: _Login) -> None:
        """Drop the saved session (refused, or not saved whole)."""
        path = self._session_path(login.persona)
        for stale in (path, path.with_name(path.name + ".tmp")):
            with contextlib.suppress(OSError):
                stale.unlink(missing_ok=True)

    def _login(self, persona: str) -> _Login:
        """The persona's client (made without touching the network)."""
        login = self._logins.get(persona)
        if login is None:
            client = Client(base_url=self.service, request=Request(
                timeout=self.timeout_s, verify=tls.ssl_context(self.settings)))
            login = _Login(persona, self._handle(persona), client)

            def changed(event: Any, session: Any, login: _Login = login) -> None:
                login.did = session.did
                if event in (SessionEvent.CREATE, SessionEvent.REFRESH):
                    self._save_session(login, session)

            client.on_session_change(changed)
            self._logins[persona] = login
        return login

    def _ensure_session(self, login: _Login) -> bool:
        """Give the client a session: the saved one, else a new login. True if new."""
        if login.did is not None:
            return False
        saved = self._load_session(login)
        if saved is not None:
            try:
                login.client.login(session_string=saved, fetch_bsky_profile=False)
                return False
            except (AtProtocolError, ValueError):
                login.did = None  # unreadable: log in instead
        self._password_login(login)
        return True

    def _password_login(self, login: _Login) -> None:
        """``com.atproto.server.createSession`` with the app password (limited: 30 per 5 min)."""
        password = self.settings.per_persona("passwords", login.persona)
        login.did = None
        login.client.update_base_url(self.service)  # log in where configured, not a stale PDS
        try:
            self._mapped(lambda: login.client.login(login.handle, str(password),
                                                    fetch_bsky_profile=False), "log in")
        except _SessionRefused:
            raise AuthenticationFailed(f"Bluesky: {login.handle} could not log in: the "
                                       "platform refused the app password") from None
        except AuthenticationFailed as exc:
            raise AuthenticationFailed(f"Bluesky: {login.handle} could not log in: {exc}"
                                       ) from None

    def _call(self, persona: str, action: Callable[[_Login], T], what: str) -> T:
        """Run ``action`` with the persona's session; if the platform refuses a session we had
        before this call, log in again once and repeat it."""
        login = self._login(persona)
        fresh = self._ensure_session(login)
        try:
            return self._mapped(lambda: action(login), what)
        except _SessionRefused:
            if fresh:
                raise AuthenticationFailed(f"Bluesky: {what}: the platform refused a session "
                                           "it had just opened") from None
        self._forget_session(login)
        self._password_login(login)
        try:
            return self._mapped(lambda: action(login), what)
        except _SessionRefused:
            raise AuthenticationFailed(f"Bluesky: {what}: the platform refused a session "
                                       "it had just opened") from None

    def _mapped(self, request: Callable[[], T], what: str) -> T:
        """Run one library call, turning every failure into the project's errors."""
        try:
            return request()
        except RateLimitExceededError as exc:
            raise RateLimited(f"Bluesky: {what}: 429 {_detail(exc)}", exc.reset_at) from None
        except RequestErrorBase as exc:
            _raise_for(exc, what)
        except (LoginRequiredError, InvalidTokenError):
            raise _SessionRefused from None  # no usable token in the session
        except (AtProtocolError, httpx.HTTPError, ValueError) as exc:  # models, network, JSON
            raise tls.connection_error(f"Bluesky: {what}", exc,
                                       f"{type(exc).__name__}: {_safe(exc)}") from None

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

        def post(login: _Login) -> str:
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

    def _facets(self, login: _Login, message: OutgoingMessage) -> list[Any]:
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

    def _did(self, login: _Login, handle: str) -> str:
        key = handle.lower()
        if key not in self._dids:
            answer = login.client.com.atproto.identity.resolve_handle({"handle": key})
            self._dids[key] = str(answer.did)
        return self._dids[key]

    def _reply_ref(self, login: _Login, parent_uri: str) -> Any:
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
        def read(login: _Login) -> datetime | None:
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
        since = (message.not_before - CLOCK_SKEW) if message.not_before is not None else None

        def search(login: _Login) -> tuple[str, datetime] | None:
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
                    if self._is(message, post, indexed, since):
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

    def _is(self, message: OutgoingMessage, post: Any, indexed: datetime,
            since: datetime | None) -> bool:
        """Whether ``post`` on the persona's feed is ``message``."""
        record = post.record
        if _normal(str(_get(record, "text") or "")) != _normal(message.text):
            return False
        if since is not None and indexed < since:
            return False
        parent = _get(_get(_get(record, "reply"), "parent"), "uri")
        return bool(parent == message.in_reply_to)

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

        def read(login: _Login) -> list[tuple[datetime, Any]]:
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
        for login in self._logins.values():
            login.client.request.close()


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


def _error_code(exc: Any) -> str | None:
    content = exc.response.content if exc.response is not None else None
    if isinstance(content, XrpcError):
        return str(content.error)
    return None


def _detail(exc: Any) -> str:
    content = exc.response.content if exc.response is not None else None
    if isinstance(content, XrpcError):
        return f"{content.error}: {content.message}" if content.message else str(content.error)
    return ""


def _raise_for(exc: Any, what: str) -> NoReturn:
    """The project's error for an XRPC error answer (or a transport failure)."""
    if _error_code(exc) in TOKEN_ERRORS:
        raise _SessionRefused from None
    if exc.response is None:  # no answer: network error, timeout, TLS
        raise tls.connection_error(f"Bluesky: {what}", exc,
                                   f"{type(exc).__name__}: {_safe(exc)}") from None
    status = int(exc.response.status_code)
    message = f"Bluesky: {what}: {status} {_detail(exc)}".rstrip()
    if status == 401:
        raise AuthenticationFailed(message) from None
    raise http.error_for_status(status, message) from None
