"""A fake X API v2 on loopback: the routes and JSON tweepy.Client uses, over a World.

Posts get snowflake ids (their creation time in the top bits, as on X), users authenticate
with OAuth 1.0a headers (the fake checks the consumer key and the user's token, not the
signature), lists come newest first with ``meta.newest_id`` and ``next_token`` as X sends them.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from harness.channels.x import TWITTER_EPOCH_MS
from tests.fakes.http import FakeServer, HttpPlatform, Request, Response
from tests.fakes.race import Kit
from tests.fakes.world import Account, Post, World

CONSUMER_KEY = "fake-consumer-key-7f3a"
CONSUMER_SECRET = "fake-consumer-secret-91bd"
PERSONA_HANDLES = {"ana": "ana_shops", "ben": "ben_buys"}
BRAND_HANDLES = {"acme": "AcmeHelp", "globex": "GlobexCares", "initech": "Initech"}


def snowflake(post: Post) -> str:
    millis = int(post.created_at.timestamp() * 1000) - TWITTER_EPOCH_MS
    return str((millis << 22) | (int(post.id) % 4096))


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def kit(url: str = "") -> Kit:
    """The race's settings, environment and names for a fake X at ``url``."""
    return Kit(
        adapter="x", platform="x",
        settings={
            "consumer_key": {"env": "FAKE_X_CONSUMER_KEY"},
            "consumer_secret": {"env": "FAKE_X_CONSUMER_SECRET"},
            "tokens": {p: {"access_token": {"env": f"FAKE_X_{p.upper()}_TOKEN"},
                           "access_token_secret": {"env": f"FAKE_X_{p.upper()}_SECRET"}}
                       for p in PERSONA_HANDLES},
            "api_base": url,
        },
        environ={"FAKE_X_CONSUMER_KEY": CONSUMER_KEY,
                 "FAKE_X_CONSUMER_SECRET": CONSUMER_SECRET,
                 **{f"FAKE_X_{p.upper()}_TOKEN": f"tok-{p}-5e1c9" for p in PERSONA_HANDLES},
                 **{f"FAKE_X_{p.upper()}_SECRET": f"sec-{p}-77d02" for p in PERSONA_HANDLES}},
        persona_handles={p: f"@{h}" for p, h in PERSONA_HANDLES.items()},
        brand_handles={b: f"@{h}" for b, h in BRAND_HANDLES.items()},
        tokens={p: f"tok-{p}-5e1c9" for p in PERSONA_HANDLES},
        auto_acks=False,  # X marks no message as automatic
    )


class FakeX(HttpPlatform):
    """X API v2 over a World."""

    SEND = (r"^/2/tweets$", "POST")
    READS = ((r"/mentions$", "GET"), (r"^/2/dm_events$", "GET"))

    def __init__(self, world: World, server: FakeServer) -> None:
        self.world = world
        self.server = server
        self.kit = kit(server.url)
        route = server.route
        route("GET", "/2/users/me", self.me)
        route("POST", "/2/tweets", self.create_tweet)
        route("GET", "/2/users/{id}/mentions", self.mentions)
        route("GET", "/2/users/{id}/tweets", self.user_tweets)
        route("GET", "/2/dm_events", self.dm_events)

    # -- the FakePlatform protocol ----------------------------------------------------------

    @staticmethod
    def reset_headers(reset: datetime) -> dict[str, str]:
        """A 429's headers saying to come back at ``reset`` (epoch seconds, as X sends)."""
        return {"x-rate-limit-reset": str(int(reset.timestamp())),
                "x-rate-limit-remaining": "0"}

    def world_id(self, post_id: str) -> str:
        post = self._by_snowflake(post_id)
        assert post is not None, f"X never had post {post_id}"
        return post.id

    def post_as(self, persona: str, text: str) -> str:
        account = self.world.by_handle(PERSONA_HANDLES[persona])
        assert account is not None
        return snowflake(self.world.post(account, text))

    # -- helpers ----------------------------------------------------------------------------

    def _user(self, request: Request) -> Account | None:
        auth = request.headers.get("authorization", "")
        fields = dict(re.findall(r'(\w+)="([^"]*)"', auth))
        if fields.get("oauth_consumer_key") != CONSUMER_KEY:
            return None
        return self.world.by_token(fields.get("oauth_token", ""))

    def _unauthorized(self) -> Response:
        return Response(401, {"title": "Unauthorized", "type": "about:blank",
                              "status": 401, "detail": "Unauthorized"})

    def _by_snowflake(self, post_id: str) -> Post | None:
        return next((p for p in self.world.visible() if snowflake(p) == post_id), None)

    def tweet(self, post: Post) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": snowflake(post), "text": post.text, "created_at": _iso(post.created_at),
            "author_id": post.author.id, "conversation_id": snowflake(post.root),
            "edit_history_tweet_ids": [snowflake(post)],
        }
        if post.in_reply_to is not None:
            data["in_reply_to_user_id"] = post.in_reply_to.author.id
            data["referenced_tweets"] = [{"type": "replied_to",
                                          "id": snowflake(post.in_reply_to)}]
        return data

    def _page(self, request: Request, posts: list[Post]) -> Response:
        """Posts newest first, after ``since_id``, paginated as X does."""
        since = request.arg("since_id")
        chosen = [p for p in reversed(posts) if since is None or int(snowflake(p)) > int(since)]
        start_time = request.arg("start_time")
        if start_time:
            begin = datetime.fromisoformat(start_time.replace("Z", "+00:00"))
            chosen = [p for p in chosen if p.created_at >= begin]
        size = int(request.arg("max_results") or 10)
        offset = int(request.arg("pagination_token") or 0)
        page = chosen[offset:offset + size]
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta |= {"newest_id": snowflake(page[0]), "oldest_id": snowflake(page[-1])}
        if offset + size < len(chosen):
            meta["next_token"] = str(offset + size)
        body: dict[str, Any] = {"meta": meta}
        if page:
            body["data"] = [self.tweet(p) for p in page]
            authors = {p.author.id: p.author for p in page}
            body["includes"] = {"users": [{"id": a.id, "name": a.name, "username": a.handle}
                                          for a in authors.values()]}
        return Response(200, body)

    # -- routes -----------------------------------------------------------------------------

    def me(self, request: Request) -> Response:
        user = self._user(request)
        if user is None:
            return self._unauthorized()
        return Response(200, {"data": {"id": user.id, "name": user.name,
                                       "username": user.handle}})

    def create_tweet(self, request: Request) -> Response:
        user = self._user(request)
        if user is None:
            return self._unauthorized()
        body = request.json()
        parent = None
        reply_to = (body.get("reply") or {}).get("in_reply_to_tweet_id")
        if reply_to:
            parent = self._by_snowflake(str(reply_to))
            if parent is None:
                return Response(400, {"errors": [{"message": "reply target not found"}]})
        post = self.world.post(user, body["text"], in_reply_to=parent)
        return Response(201, {"data": {"id": snowflake(post), "text": post.text,
                                       "edit_history_tweet_ids": [snowflake(post)]}})

    def mentions(self, request: Request) -> Response:
        user = self._user(request)
        if user is None or user.id != request.params["id"]:
            return self._unauthorized()
        return self._page(request, self.world.mentions_of(user))

    def user_tweets(self, request: Request) -> Response:
        user = self._user(request)
        if user is None:
            return self._unauthorized()
        owner = self.world.by_id(request.params["id"])
        return self._page(request, self.world.timeline(owner) if owner else [])

    def dm_events(self, request: Request) -> Response:
        user = self._user(request)
        if user is None:
            return self._unauthorized()
        messages = list(reversed(self.world.messages_to(user, "dm")))[:100]
        events = [{"id": snowflake(p), "event_type": "MessageCreate", "text": p.text,
                   "created_at": _iso(p.created_at), "sender_id": p.author.id,
                   "dm_conversation_id": "-".join(sorted((p.author.id, user.id)))}
                  for p in messages]
        body: dict[str, Any] = {"meta": {"result_count": len(events)}}
        if events:
            body["data"] = events
            body["includes"] = {"users": [{"id": p.author.id, "name": p.author.name,
                                           "username": p.author.handle} for p in messages]}
        return Response(200, body)


@contextmanager
def serve(world: World, tls: ssl.SSLContext | None = None) -> Iterator[FakeX]:
    """A fake X on loopback over ``world`` (with the race's personas and brands in it)."""
    with FakeServer(world.clock, tls=tls) as server:
        yield FakeX(world, server)
