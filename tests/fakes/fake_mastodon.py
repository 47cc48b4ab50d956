"""A fake Mastodon server on loopback: the routes and JSON Mastodon.py calls, over a World.

What it renders as Mastodon does (checked against Mastodon 4.x's API entities):

- statuses with ``id`` (the world's post id), ``created_at`` in ISO 8601 with milliseconds and
  ``Z``, ``content`` as sanitised HTML (``<p>``, escaped text, mentions as ``h-card`` links),
  ``visibility``, ``in_reply_to_id``, ``account`` and ``mentions``;
- notifications with ids of their own (a separate, smaller sequence than status ids, so an
  adapter that confuses the two misses replies), newest first, ``since_id``/``max_id``/
  ``min_id``/``limit`` as Mastodon pages them, with ``Link`` headers;
- conversations (direct statuses grouped by thread), paged by their last status's id;
- Bearer token auth (an unknown token gets 401), ``X-RateLimit-*`` headers on every answer and
  Mastodon's 300 requests per 5 minutes per token, ``Idempotency-Key`` on posting.

A brand's direct message (a World post of kind ``dm``) is a direct status mentioning the
persona; a brand's answer to a direct status is direct too, as Mastodon's clients make it.
Mastodon has no per-status "automatic reply" marker, so brands here send no auto-acks (the
kit says so); accounts listed in :attr:`FakeMastodon.bots` carry Mastodon's ``bot`` flag.
"""

from __future__ import annotations

import html
import re
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlencode

from tests.fakes.http import FakeServer, HttpPlatform, Request, Response
from tests.fakes.race import Kit
from tests.fakes.world import Account, Post, World

PERSONA_HANDLES = {"ana": "ana_shops", "ben": "ben_buys"}
BRAND_HANDLES = {"acme": "AcmeHelp", "globex": "GlobexCares", "initech": "Initech"}
TOKENS = {"ana": "fake-masto-token-ana-3c9e1d", "ben": "fake-masto-token-ben-b47d20"}
ENV = {persona: f"FAKE_MASTODON_{persona.upper()}_TOKEN" for persona in PERSONA_HANDLES}
RATE_LIMIT = 300
RATE_WINDOW = timedelta(minutes=5)
MAX_CHARS = 500
VISIBILITIES = ("public", "unlisted", "private", "direct")
T = TypeVar("T")


def iso(moment: datetime) -> str:
    """A time as Mastodon writes it: ``2025-03-03T09:00:00.000Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def kit(url: str = "") -> Kit:
    """The race's settings, environment and names for a fake Mastodon at ``url``."""
    return Kit(
        adapter="mastodon", platform="mastodon",
        settings={"instance": url or "http://127.0.0.1:9",
                  "tokens": {p: {"env": ENV[p]} for p in PERSONA_HANDLES}},
        environ={ENV[p]: TOKENS[p] for p in PERSONA_HANDLES},
        persona_handles={p: f"@{h}" for p, h in PERSONA_HANDLES.items()},
        brand_handles={b: f"@{h}" for b, h in BRAND_HANDLES.items()},
        tokens=dict(TOKENS),
        auto_acks=False,  # Mastodon marks no status as an automatic reply
    )


class FakeMastodon(HttpPlatform):
    """Mastodon's REST API over a World, on a FakeServer."""

    SEND = (r"^/api/v1/statuses$", "POST")
    READS = ((r"^/api/v1/notifications$", "GET"), (r"^/api/v1/conversations/?$", "GET"))

    def __init__(self, world: World, server: FakeServer) -> None:
        self.world = world
        self.server = server
        self.kit = kit(server.url)
        self.bots: set[str] = set()
        """Account ids flagged ``bot`` (Mastodon's marker for automated accounts)."""
        self.filter_private_mentions = False
        """Leave direct mentions out of notifications, as Mastodon 4.3's notification policy
        does for people one does not follow (they still show in conversations)."""
        self.visibility: dict[str, str] = {}  # status id -> visibility, for posts made here
        self._notification_ids: dict[tuple[str, str], int] = {}  # (status, account) -> id
        self._scanned = 0
        self._conversation_ids: dict[str, int] = {}  # thread root status id -> id
        self._idempotent: dict[tuple[str, str], str] = {}  # (account, key) -> status id
        self._requests: dict[tuple[str, datetime], int] = {}
        for method, pattern, handler in (
            ("GET", "/api/v1/accounts/verify_credentials", self.verify_credentials),
            ("POST", "/api/v1/statuses", self.post_status),
            ("GET", "/api/v1/statuses/{id}", self.get_status),
            ("GET", "/api/v1/notifications", self.notifications),
            ("GET", "/api/v1/conversations", self.conversations),
            ("GET", "/api/v1/conversations/", self.conversations),
            ("GET", "/api/v1/accounts/{id}/statuses", self.account_statuses),
        ):
            server.route(method, pattern, self._authenticated(handler))

    # -- the FakePlatform protocol ----------------------------------------------------------

    @staticmethod
    def reset_headers(reset: datetime) -> dict[str, str]:
        """A 429's headers saying to come back at ``reset`` (ISO 8601, as Mastodon sends)."""
        return {"X-RateLimit-Limit": str(RATE_LIMIT),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": iso(reset)}

    def post_as(self, persona: str, text: str, *, in_reply_to: str | None = None,
                visibility: str = "public") -> str:
        """Post as ``persona`` "by hand" (as a person would in their app); returns its id."""
        account = self.world.by_handle(PERSONA_HANDLES[persona])
        assert account is not None
        parent = self.world.post_by_id(in_reply_to) if in_reply_to else None
        post = self.world.post(account, text, in_reply_to=parent)
        self.visibility[post.id] = visibility
        return post.id

    # -- rendering --------------------------------------------------------------------------

    def account_json(self, account: Account) -> dict[str, Any]:
        base = self.server.url
        return {
            "id": account.id, "username": account.handle, "acct": account.handle,
            "display_name": account.name, "locked": False, "bot": account.id in self.bots,
            "discoverable": True, "group": False, "created_at": "2020-01-01T00:00:00.000Z",
            "note": "", "url": f"{base}/@{account.handle}",
            "uri": f"{base}/users/{account.handle}",
            "avatar": f"{base}/avatars/original/missing.png",
            "avatar_static": f"{base}/avatars/original/missing.png",
            "header": f"{base}/headers/original/missing.png",
            "header_static": f"{base}/headers/original/missing.png",
            "followers_count": 0, "following_count": 0, "statuses_count": 0,
            "last_status_at": None, "emojis": [], "fields": [],
        }

    def status_visibility(self, post: Post) -> str:
        if post.id in self.visibility:
            return self.visibility[post.id]
        if post.kind == "dm":
            return "direct"
        if post.in_reply_to is not None and self.status_visibility(post.in_reply_to) == "direct":
            return "direct"
        return "public"

    def _text(self, post: Post) -> str:
        """The status's text: a direct message names whom it is for, as Mastodon needs."""
        if (post.kind == "dm" and post.to is not None
                and f"@{post.to.handle.lower()}" not in post.text.lower()):
            return f"@{post.to.handle} {post.text}"
        return post.text

    def _mentioned(self, post: Post) -> list[Account]:
        handles = list(post.mentions)
        if post.to is not None and post.to.handle.lower() not in handles:
            handles.append(post.to.handle.lower())
        return [a for a in (self.world.by_handle(h) for h in handles) if a is not None]

    def _content(self, post: Post) -> str:
        base = self.server.url

        def mention(match: re.Match[str]) -> str:
            account = self.world.by_handle(match.group(1))
            if account is None:
                return match.group(0)
            return (f'<span class="h-card" translate="no"><a href="{base}/@{account.handle}" '
                    f'class="u-url mention">@<span>{account.handle}</span></a></span>')

        paragraphs = []
        for paragraph in re.split(r"\n{2,}", self._text(post)):
            escaped = html.escape(paragraph, quote=True).replace("\n", "<br />")
            paragraphs.append("<p>" + re.sub(r"@([A-Za-z0-9_]+)", mention, escaped) + "</p>")
        return "".join(paragraphs)

    def status_json(self, post: Post) -> dict[str, Any]:
        base = self.server.url
        parent = post.in_reply_to
        return {
            "id": post.id, "uri": f"{base}/users/{post.author.handle}/statuses/{post.id}",
            "url": f"{base}/@{post.author.handle}/{post.id}",
            "created_at": iso(post.created_at), "edited_at": None,
            "account": self.account_json(post.author), "content": self._content(post),
            "visibility": self.status_visibility(post), "sensitive": False,
            "spoiler_text": "", "language": "en",
            "in_reply_to_id": parent.id if parent is not None else None,
            "in_reply_to_account_id": parent.author.id if parent is not None else None,
            "reblog": None, "application": None,
            "mentions": [{"id": a.id, "username": a.handle, "acct": a.handle,
                          "url": f"{base}/@{a.handle}"} for a in self._mentioned(post)],
            "tags": [], "emojis": [], "media_attachments": [], "card": None, "poll": None,
            "replies_count": 0, "reblogs_count": 0, "favourites_count": 0,
            "favourited": False, "reblogged": False, "muted": False, "bookmarked": False,
            "filtered": [],
        }

    # -- who sees what ----------------------------------------------------------------------

    def _notifies(self, post: Post, account: Account) -> bool:
        """Whether ``post`` gives ``account`` a mention notification."""
        if post.author is account or post.kind not in ("post", "dm"):
            return False
        return post.to is account or account.handle.lower() in post.mentions

    def _notification_list(self, account: Account) -> list[tuple[int, Post]]:
        """(notification id, status) of ``account``'s mentions, oldest first."""
        with self.world.lock:
            posts = self.world.visible()
            for post in posts[self._scanned:]:  # number them in the order they appeared
                for reader in self.world.accounts.values():
                    if self._notifies(post, reader):
                        key = (post.id, reader.id)
                        self._notification_ids[key] = len(self._notification_ids) + 1
            self._scanned = len(posts)
            return [(self._notification_ids[(p.id, account.id)], p) for p in posts
                    if (p.id, account.id) in self._notification_ids
                    and not (self.filter_private_mentions
                             and self.status_visibility(p) == "direct")]

    def _involves(self, post: Post, account: Account) -> bool:
        return post.author is account or account in self._mentioned(post)

    # -- routes -----------------------------------------------------------------------------

    def _authenticated(self, handler: Callable[[Request, Account], Response]) -> Callable[
            [Request], Response]:
        def serve(request: Request) -> Response:
            account = self.world.by_token(request.bearer or "")
            if account is None:
                return Response(401, {"error": "The access token is invalid"})
            now = self.world.now()
            window = datetime.fromtimestamp(
                now.timestamp() // RATE_WINDOW.total_seconds() * RATE_WINDOW.total_seconds(),
                now.tzinfo)
            used = self._requests[(account.id, window)] = self._requests.get(
                (account.id, window), 0) + 1
            headers = {"X-RateLimit-Limit": str(RATE_LIMIT),
                       "X-RateLimit-Remaining": str(max(0, RATE_LIMIT - used)),
                       "X-RateLimit-Reset": iso(window + RATE_WINDOW)}
            if used > RATE_LIMIT:
                return Response(429, {"error": "Too many requests"}, headers)
            response = handler(request, account)
            response.headers = {**headers, **response.headers}
            return response

        return serve

    def verify_credentials(self, request: Request, account: Account) -> Response:
        return Response(200, {**self.account_json(account),
                              "source": {"privacy": "public", "sensitive": False,
                                         "language": "en", "note": "", "fields": []}})

    def post_status(self, request: Request, account: Account) -> Response:
        form = request.form()
        key = request.headers.get("idempotency-key")
        if key and (account.id, key) in self._idempotent:
            earlier = self.world.post_by_id(self._idempotent[(account.id, key)])
            assert earlier is not None
            return Response(200, self.status_json(earlier))
        text = form.get("status", "")
        visibility = form.get("visibility", "public")
        if not text.strip():
            return Response(422, {"error": "Validation failed: Text can't be blank"})
        if len(text) > MAX_CHARS:
            return Response(422, {"error": "Validation failed: Text character limit of "
                                           f"{MAX_CHARS} exceeded"})
        if visibility not in VISIBILITIES:
            return Response(422, {"error": "Validation failed: Visibility is not included in "
                                           "the list"})
        parent = None
        if form.get("in_reply_to_id"):
            parent = self.world.post_by_id(form["in_reply_to_id"])
            if parent is None:
                return Response(404, {"error": "Record not found"})
        post = self.world.post(account, text, in_reply_to=parent)
        self.visibility[post.id] = visibility
        if key:
            self._idempotent[(account.id, key)] = post.id
        return Response(200, self.status_json(post))

    def get_status(self, request: Request, account: Account) -> Response:
        post = self.world.post_by_id(request.params["id"])
        if post is None or (self.status_visibility(post) in ("private", "direct")
                            and not self._involves(post, account)):
            return Response(404, {"error": "Record not found"})
        return Response(200, self.status_json(post))

    def notifications(self, request: Request, account: Account) -> Response:
        types = request.args("types")
        excluded = request.args("exclude_types")
        items = [] if (types and "mention" not in types) or "mention" in excluded else [
            (nid, (nid, post)) for nid, post in self._notification_list(account)]
        page, link = _page(request, items, 40, 80, self.server.url)
        body = [{"id": str(nid), "type": "mention", "created_at": iso(post.created_at),
                 "group_key": f"ungrouped-{nid}", "account": self.account_json(post.author),
                 "status": self.status_json(post)} for nid, post in page]
        return Response(200, body, link)

    def conversations(self, request: Request, account: Account) -> Response:
        threads: dict[str, list[Post]] = {}
        for post in self.world.visible():
            if (post.kind in ("post", "dm") and self.status_visibility(post) == "direct"
                    and self._involves(post, account)):
                threads.setdefault(post.root.id, []).append(post)
        items = []
        for root, posts in threads.items():
            if root not in self._conversation_ids:
                self._conversation_ids[root] = len(self._conversation_ids) + 1
            items.append((int(posts[-1].id), (self._conversation_ids[root], posts)))
        items.sort(key=lambda item: item[0])
        page, link = _page(request, items, 20, 40, self.server.url)
        body = []
        for conversation_id, posts in page:
            others = {a.id: a for p in posts for a in [p.author, *self._mentioned(p)]
                      if a is not account}
            body.append({"id": str(conversation_id), "unread": True,
                         "accounts": [self.account_json(a) for a in others.values()],
                         "last_status": self.status_json(posts[-1])})
        return Response(200, body, link)

    def account_statuses(self, request: Request, account: Account) -> Response:
        owner = self.world.by_id(request.params["id"])
        if owner is None:
            return Response(404, {"error": "Record not found"})
        hidden = () if owner is account else ("private", "direct")
        statuses = [p for p in self.world.visible()
                    if p.author is owner and p.kind in ("post", "dm")
                    and self.status_visibility(p) not in hidden
                    and not (request.arg("exclude_replies") in ("1", "true")
                             and p.in_reply_to is not None)]
        page, link = _page(request, [(int(p.id), p) for p in statuses], 20, 40,
                           self.server.url)
        return Response(200, [self.status_json(p) for p in page], link)


def _page(request: Request, items: list[tuple[int, T]], default: int, maximum: int,
          base: str) -> tuple[list[T], dict[str, str]]:
    """One page of ``items`` (sorted by id, oldest first) as Mastodon pages them: newest
    first; ``max_id`` and ``since_id`` bound it, ``min_id`` asks for the oldest page after it."""
    def number(name: str) -> int | None:
        value = request.arg(name)
        return int(value) if value else None

    since, before, after = number("since_id"), number("max_id"), number("min_id")
    limit = min(number("limit") or default, maximum)
    chosen = [(i, item) for i, item in items
              if (since is None or i > since) and (before is None or i < before)
              and (after is None or i > after)]
    page = chosen[:limit] if after is not None else chosen[-limit:]
    page.reverse()
    if not page:
        return [], {}
    url = f"{base}{request.path}"
    link = (f'<{url}?{urlencode({"max_id": page[-1][0]})}>; rel="next", '
            f'<{url}?{urlencode({"min_id": page[0][0]})}>; rel="prev"')
    return [item for _, item in page], {"Link": link}


@contextmanager
def serve(world: World, tls: ssl.SSLContext | None = None) -> Iterator[FakeMastodon]:
    """A fake Mastodon on loopback over ``world`` (with the race's personas and brands)."""
    with FakeServer(world.clock, tls=tls) as server:
        yield FakeMastodon(world, server)


def attach(server: FakeServer, world: World) -> FakeMastodon:
    """A fake Mastodon over ``world`` on a server that is already running (tests reuse one
    server: stopping one takes half a second). Forgets the server's routes, faults and log."""
    server.routes.clear()
    server.faults.clear()
    server.outages.clear()
    server.injector.configure(0.0, 0, [])
    server.log.clear()
    server.clock = world.clock
    return FakeMastodon(world, server)
