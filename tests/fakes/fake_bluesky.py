"""A fake Bluesky PDS + AppView on loopback: the XRPC routes and JSON ``atproto.Client`` uses,
over a World.

Accounts get ``did:plc`` DIDs and log in with app passwords (``createSession``), which hands
out JWT-shaped access and refresh tokens (expiry in real time, as the client checks them
against the system clock); requests carry them as ``Bearer`` tokens and unknown ones are
refused with the platform's ``InvalidToken`` / ``ExpiredToken`` errors. Posts are records
``at://<did>/app.bsky.feed.post/<tid>`` with a CID; times are ISO 8601 with milliseconds and
``Z``, and a post's ``indexedAt`` is the world's time it was made.

As on Bluesky, an @handle in a post's text reaches that account only when the post carries a
mention facet over exactly those bytes with the account's DID: the fake hands the world the
text with unfaceted mentions defused, so brands ignore them. Brands' own replies are rendered
with facets, and reply refs (root, parent), as the Bluesky app writes them.

Direct messages are not rendered (Bluesky chat is a separate service the adapter does not
read): :func:`serve` turns off the brands' scripted DMs and DM acknowledgements, so the world
records only what happens on this platform.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import ssl
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from tests.fakes.http import FakeServer, HttpPlatform, Request, Response
from tests.fakes.race import Kit
from tests.fakes.world import Account, Post, World

PERSONA_HANDLES = {"ana": "ana.test", "ben": "ben.test"}
BRAND_HANDLES = {"acme": "acme.test", "globex": "globex.test", "initech": "initech.test"}
PASSWORDS = {"ana": "ana-fake-app-pw-4kq7-zt2m", "ben": "ben-fake-app-pw-9xw3-hd5r"}
PASSWORD_ENV = {p: f"FAKE_BSKY_{p.upper()}_APP_PASSWORD" for p in PERSONA_HANDLES}
POST = "app.bsky.feed.post"
ACCESS_TTL_S = 2 * 3600
REFRESH_TTL_S = 60 * 86400
_MENTION = re.compile(r"@([A-Za-z0-9_.-]+)")  # as World finds mentions
_TID = "234567abcdefghijklmnopqrstuvwxyz"


def kit(url: str = "") -> Kit:
    """The race's settings, environment and names for a fake Bluesky at ``url``."""
    return Kit(
        adapter="bluesky", platform="bluesky",
        settings={"service": url or "http://127.0.0.1:9",
                  "passwords": {p: {"env": PASSWORD_ENV[p]} for p in PERSONA_HANDLES}},
        environ={PASSWORD_ENV[p]: PASSWORDS[p] for p in PERSONA_HANDLES},
        persona_handles={p: f"@{h}" for p, h in PERSONA_HANDLES.items()},
        brand_handles={b: f"@{h}" for b, h in BRAND_HANDLES.items()},
        dms=False,  # Bluesky chat is another service; brands here answer in public
        auto_acks=False,  # nothing marks an automatic answer on Bluesky
    )


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def did_of(account: Account) -> str:
    digest = hashlib.sha256(account.handle.lower().encode()).digest()
    return "did:plc:" + base64.b32encode(digest).decode().lower()[:24]


def tid(post: Post) -> str:
    """A record key like Bluesky's TIDs: microseconds since 1970, then a clock id."""
    number = (int(post.created_at.timestamp() * 1_000_000) << 10) | (int(post.id) % 1024)
    return "".join(_TID[(number >> shift) & 31] for shift in range(60, -1, -5))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _xrpc_error(status: int, error: str, message: str) -> Response:
    return Response(status, {"error": error, "message": message})


class FakeBluesky(HttpPlatform):
    """Bluesky's XRPC over a World."""

    SEND = (r"/xrpc/com\.atproto\.repo\.createRecord$", "POST")
    READS = ((r"/xrpc/app\.bsky\.notification\.listNotifications$", "GET"),)

    def __init__(self, world: World, server: FakeServer, *,
                 access_ttl_s: int = ACCESS_TTL_S) -> None:
        self.world = world
        self.server = server
        self.kit = kit(server.url)
        self.access_ttl_s = access_ttl_s
        self.logins: Counter[str] = Counter()
        """Sessions opened with a password (``createSession``), by handle."""
        self.refreshes = 0
        self.records: dict[str, dict[str, Any]] = {}
        """Records as their authors wrote them, by world post id (our posts)."""
        self._access: dict[str, Account] = {}
        self._refresh: dict[str, Account] = {}
        self._expired: set[str] = set()
        self._lock = threading.Lock()
        self._jti = itertools.count(1)
        for path, method, handler in [
            ("com.atproto.server.createSession", "POST", self.create_session),
            ("com.atproto.server.refreshSession", "POST", self.refresh_session),
            ("com.atproto.server.getSession", "GET", self.get_session),
            ("com.atproto.identity.resolveHandle", "GET", self.resolve_handle),
            ("com.atproto.repo.createRecord", "POST", self.create_record),
            ("app.bsky.actor.getProfile", "GET", self.get_profile),
            ("app.bsky.feed.getPosts", "GET", self.get_posts),
            ("app.bsky.feed.getAuthorFeed", "GET", self.get_author_feed),
            ("app.bsky.notification.listNotifications", "GET", self.list_notifications),
        ]:
            server.route(method, f"/xrpc/{path}", handler)

    # -- the FakePlatform protocol ----------------------------------------------------------

    @staticmethod
    def reset_headers(reset: datetime) -> dict[str, str]:
        """A 429's headers saying to come back at ``reset`` (epoch seconds, as Bluesky's PDS
        sends)."""
        return {"ratelimit-limit": "5000",
                "ratelimit-remaining": "0",
                "ratelimit-reset": str(int(reset.timestamp())),
                "ratelimit-policy": "5000;w=3600"}

    def post_as(self, persona: str, text: str, in_reply_to: str | None = None) -> str:
        """Post "by hand" in the Bluesky app, which adds mention facets and reply refs."""
        account = self.world.by_handle(PERSONA_HANDLES[persona])
        assert account is not None
        record: dict[str, Any] = {"$type": POST, "text": text,
                                  "createdAt": iso(self.world.clock.now()), "langs": ["en"]}
        facets = self._facets(text)
        if facets:
            record["facets"] = facets
        if in_reply_to is not None:
            parent = self.post_at(in_reply_to)
            assert parent is not None, f"no post {in_reply_to}"
            record["reply"] = {"root": self._ref(parent.root), "parent": self._ref(parent)}
        made = self.create(account, record)
        assert isinstance(made, Post)
        return self.uri(made)

    # -- for tests --------------------------------------------------------------------------

    def world_id(self, uri: str) -> str:
        post = self.post_at(uri)
        assert post is not None, f"Bluesky never had post {uri}"
        return post.id

    def did(self, handle: str) -> str:
        account = self.world.by_handle(handle)
        assert account is not None
        return did_of(account)

    def revoke_sessions(self, error: str = "InvalidToken") -> None:
        """Refuse every token handed out so far: as unknown (``InvalidToken``) or as
        expired (``ExpiredToken``)."""
        with self._lock:
            if error == "ExpiredToken":
                self._expired.update(self._access)
                self._expired.update(self._refresh)
            self._access.clear()
            self._refresh.clear()

    # -- rendering --------------------------------------------------------------------------

    def uri(self, post: Post) -> str:
        return f"at://{did_of(post.author)}/{POST}/{tid(post)}"

    def cid(self, post: Post) -> str:
        digest = hashlib.sha256(f"{self.uri(post)}\n{post.text}".encode()).digest()
        return "bafyrei" + base64.b32encode(digest).decode().lower().rstrip("=")[:52]

    def post_at(self, uri: str) -> Post | None:
        match = re.fullmatch(r"at://([^/]+)/" + re.escape(POST) + r"/([^/]+)", uri)
        if not match:
            return None
        return next((p for p in self.world.visible() if p.kind == "post"
                     and did_of(p.author) == match[1] and tid(p) == match[2]), None)

    def _ref(self, post: Post) -> dict[str, str]:
        return {"uri": self.uri(post), "cid": self.cid(post)}

    def _account_of(self, actor: str) -> Account | None:
        if actor.startswith("did:"):
            return next((a for a in self.world.accounts.values() if did_of(a) == actor), None)
        return self.world.by_handle(actor)

    def _facets(self, text: str) -> list[dict[str, Any]]:
        """Mention facets for the @handles of known accounts, as the Bluesky app adds them."""
        facets = []
        for found in _MENTION.finditer(text):
            account = self.world.by_handle(found[1])
            if account is None:
                continue
            start = len(text[:found.start()].encode())
            facets.append({
                "$type": "app.bsky.richtext.facet",
                "index": {"byteStart": start, "byteEnd": start + len(found[0].encode())},
                "features": [{"$type": "app.bsky.richtext.facet#mention",
                              "did": did_of(account)}]})
        return facets

    def record(self, post: Post) -> dict[str, Any]:
        if post.id in self.records:
            return self.records[post.id]
        record: dict[str, Any] = {"$type": POST, "text": post.text,
                                  "createdAt": iso(post.created_at), "langs": ["en"]}
        facets = self._facets(post.text)
        if facets:
            record["facets"] = facets
        if post.in_reply_to is not None:
            record["reply"] = {"root": self._ref(post.root), "parent": self._ref(post.in_reply_to)}
        return record

    def profile(self, account: Account) -> dict[str, Any]:
        return {"did": did_of(account), "handle": account.handle, "displayName": account.name,
                "labels": [], "createdAt": "2023-04-01T00:00:00.000Z"}

    def post_view(self, post: Post) -> dict[str, Any]:
        replies = sum(1 for p in self.world.visible() if p.in_reply_to is post)
        return {"$type": "app.bsky.feed.defs#postView", "uri": self.uri(post),
                "cid": self.cid(post), "author": self.profile(post.author),
                "record": self.record(post), "replyCount": replies, "repostCount": 0,
                "likeCount": 0, "quoteCount": 0, "indexedAt": iso(post.created_at),
                "labels": []}

    def did_doc(self, account: Account) -> dict[str, Any]:
        did = did_of(account)
        return {"@context": ["https://www.w3.org/ns/did/v1"], "id": did,
                "alsoKnownAs": [f"at://{account.handle}"],
                "verificationMethod": [{"id": f"{did}#atproto", "type": "Multikey",
                                        "controller": did,
                                        "publicKeyMultibase": "zQ3shfakefakefakefake"}],
                "service": [{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer",
                             "serviceEndpoint": self.server.url}]}

    @staticmethod
    def _page(request: Request, posts: list[Post], default: int = 50
              ) -> tuple[list[Post], str | None] | Response:
        """``posts`` (oldest first) newest first after the request's cursor, one page."""
        try:
            limit = int(request.arg("limit") or default)
        except ValueError:
            limit = 0
        if not 1 <= limit <= 100:
            return _xrpc_error(400, "InvalidRequest", "limit must be between 1 and 100")
        chosen = sorted(posts, key=lambda p: (p.created_at, int(p.id)), reverse=True)
        cursor = request.arg("cursor")
        if cursor:
            at, _, after = cursor.partition("::")
            key = (int(at), int(after))
            chosen = [p for p in chosen
                      if (int(p.created_at.timestamp() * 1000), int(p.id)) < key]
        page = chosen[:limit]
        last = page[-1] if page else None
        next_cursor = (f"{int(last.created_at.timestamp() * 1000)}::{last.id}"
                       if last is not None else None)
        return page, next_cursor

    # -- authentication ---------------------------------------------------------------------

    def _jwt(self, account: Account, scope: str, ttl: int) -> str:
        now = int(time.time())  # the client checks expiry against the system clock
        header = {"typ": "at+jwt" if scope != "com.atproto.refresh" else "refresh+jwt",
                  "alg": "ES256K"}
        payload = {"scope": scope, "sub": did_of(account), "aud": "did:web:fake.pds.test",
                   "iat": now, "exp": now + ttl, "jti": f"fake-{next(self._jti)}"}
        signature = hashlib.sha256(json.dumps(payload).encode()).digest()
        return ".".join(_b64(json.dumps(part).encode()) for part in (header, payload)) + (
            "." + _b64(signature))

    def _session(self, account: Account) -> dict[str, Any]:
        access = self._jwt(account, "com.atproto.appPass", self.access_ttl_s)
        refresh = self._jwt(account, "com.atproto.refresh", REFRESH_TTL_S)
        with self._lock:
            self._access[access] = account
            self._refresh[refresh] = account
        return {"accessJwt": access, "refreshJwt": refresh, "handle": account.handle,
                "did": did_of(account), "didDoc": self.did_doc(account), "active": True,
                "emailConfirmed": True}

    def _user(self, request: Request) -> Account | Response:
        token = request.bearer
        if not token:
            return _xrpc_error(401, "AuthenticationRequired", "Authentication Required")
        with self._lock:
            account = self._access.get(token)
            expired = token in self._expired
        if account is not None:
            return account
        if expired:
            return _xrpc_error(400, "ExpiredToken", "Token has expired")
        return _xrpc_error(401, "InvalidToken", "Token could not be verified")

    # -- routes -----------------------------------------------------------------------------

    def create_session(self, request: Request) -> Response:
        body = request.json()
        account = self._account_of(str(body.get("identifier", "")))
        persona = next((p for p, h in PERSONA_HANDLES.items()
                        if account is not None and account.handle.lower() == h), None)
        if persona is None or body.get("password") != PASSWORDS[persona]:
            return _xrpc_error(401, "AuthenticationRequired", "Invalid identifier or password")
        assert account is not None
        self.logins[account.handle] += 1
        return Response(200, self._session(account))

    def refresh_session(self, request: Request) -> Response:
        token = request.bearer or ""
        with self._lock:
            account = self._refresh.pop(token, None)
        if account is None:
            return _xrpc_error(400, "ExpiredToken", "Token has been revoked")
        self.refreshes += 1
        return Response(200, self._session(account))

    def get_session(self, request: Request) -> Response:
        user = self._user(request)
        if isinstance(user, Response):
            return user
        return Response(200, {"handle": user.handle, "did": did_of(user),
                              "didDoc": self.did_doc(user), "active": True})

    def resolve_handle(self, request: Request) -> Response:
        account = self.world.by_handle(request.arg("handle") or "")
        if account is None:
            return _xrpc_error(400, "InvalidRequest", "Unable to resolve handle")
        return Response(200, {"did": did_of(account)})

    def get_profile(self, request: Request) -> Response:
        user = self._user(request)
        if isinstance(user, Response):
            return user
        account = self._account_of(request.arg("actor") or "")
        if account is None:
            return _xrpc_error(400, "InvalidRequest", "Profile not found")
        return Response(200, self.profile(account))

    def create_record(self, request: Request) -> Response:
        user = self._user(request)
        if isinstance(user, Response):
            return user
        body = request.json()
        if body.get("repo") not in (did_of(user), user.handle):
            return _xrpc_error(403, "InvalidRequest", "Can not create records in another repo")
        if body.get("collection") != POST:
            return _xrpc_error(400, "InvalidRequest", "this fake only takes posts")
        made = self.create(user, body.get("record"))
        if isinstance(made, Response):
            return made
        return Response(200, {"uri": self.uri(made), "cid": self.cid(made),
                              "commit": {"cid": self.cid(made), "rev": tid(made)},
                              "validationStatus": "valid"})

    def create(self, author: Account, record: Any) -> Post | Response:
        """Validate a post record, hand it to the world, keep it as written."""
        if not isinstance(record, dict) or record.get("$type", POST) != POST:
            return _xrpc_error(400, "InvalidRequest", "Invalid app.bsky.feed.post record")
        text = record.get("text")
        if not isinstance(text, str) or not isinstance(record.get("createdAt"), str):
            return _xrpc_error(400, "InvalidRequest", "Record must have text and createdAt")
        try:
            datetime.fromisoformat(record["createdAt"].replace("Z", "+00:00"))
        except ValueError:
            return _xrpc_error(400, "InvalidRequest", "createdAt must be a datetime")
        parent = None
        reply = record.get("reply")
        if reply is not None:
            parent = self.post_at(str((reply.get("parent") or {}).get("uri", "")))
            root = (reply.get("root") or {}).get("uri")
            if (parent is None or reply["parent"].get("cid") != self.cid(parent)
                    or root != self.uri(parent.root)):
                return _xrpc_error(400, "InvalidRequest", "Invalid reply refs")
        facets = record.get("facets") or []
        size = len(text.encode())
        for facet in facets:
            index = facet.get("index") or {}
            start, end = index.get("byteStart"), index.get("byteEnd")
            if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= size):
                return _xrpc_error(400, "InvalidRequest", "Invalid facet byte slice")
        post = self.world.post(author, self._defused(text, facets), in_reply_to=parent)
        self.records[post.id] = dict(record, **{"$type": POST})
        return post

    def _defused(self, text: str, facets: list[dict[str, Any]]) -> str:
        """``text`` with the @mentions no facet backs made plain, for the World (which reacts
        to any @handle in the text, where Bluesky notifies only on facets)."""
        faceted = {((f.get("index") or {}).get("byteStart"), (f.get("index") or {}).get("byteEnd"),
                    feature.get("did"))
                   for f in facets for feature in f.get("features") or []
                   if feature.get("$type") == "app.bsky.richtext.facet#mention"}
        out = text
        for found in reversed(list(_MENTION.finditer(text))):
            account = self.world.by_handle(found[1])
            if account is None:
                continue
            start = len(text[:found.start()].encode())
            end = start + len(found[0].encode())
            if (start, end, did_of(account)) not in faceted:
                out = out[:found.start()] + "@\u2060" + out[found.start() + 1:]
        return out

    def get_posts(self, request: Request) -> Response:
        user = self._user(request)
        if isinstance(user, Response):
            return user
        uris = request.args("uris")
        if len(uris) > 25:
            return _xrpc_error(400, "InvalidRequest", "at most 25 uris")
        found = [self.post_at(uri) for uri in uris]
        return Response(200, {"posts": [self.post_view(p) for p in found if p is not None]})

    def get_author_feed(self, request: Request) -> Response:
        user = self._user(request)
        if isinstance(user, Response):
            return user
        owner = self._account_of(request.arg("actor") or "")
        if owner is None:
            return _xrpc_error(400, "InvalidRequest", "Profile not found")
        posts = self.world.timeline(owner)
        if request.arg("filter") == "posts_no_replies":
            posts = [p for p in posts if p.in_reply_to is None]
        paged = self._page(request, posts)
        if isinstance(paged, Response):
            return paged
        page, cursor = paged
        body: dict[str, Any] = {"feed": [{"post": self.post_view(p)} for p in page]}
        if cursor:
            body["cursor"] = cursor
        return Response(200, body)

    def list_notifications(self, request: Request) -> Response:
        user = self._user(request)
        if isinstance(user, Response):
            return user
        wanted = set(request.args("reasons"))
        handle = user.handle.lower()
        reasons: dict[str, str] = {}
        chosen = []
        for post in self.world.visible():
            if post.kind != "post" or post.author is user:
                continue
            if post.in_reply_to is not None and post.in_reply_to.author is user:
                reason = "reply"
            elif handle in post.mentions:
                reason = "mention"
            else:
                continue
            if wanted and reason not in wanted:
                continue
            reasons[post.id] = reason
            chosen.append(post)
        paged = self._page(request, chosen)
        if isinstance(paged, Response):
            return paged
        page, cursor = paged
        notifications = []
        for post in page:
            item = {"uri": self.uri(post), "cid": self.cid(post),
                    "author": self.profile(post.author), "reason": reasons[post.id],
                    "record": self.record(post), "isRead": False,
                    "indexedAt": iso(post.created_at), "labels": []}
            if reasons[post.id] == "reply" and post.in_reply_to is not None:
                item["reasonSubject"] = self.uri(post.in_reply_to)
            notifications.append(item)
        body: dict[str, Any] = {"notifications": notifications, "priority": False,
                                "seenAt": iso(self.world.clock.now())}
        if cursor:
            body["cursor"] = cursor
        return Response(200, body)


@contextmanager
def serve(world: World, *, access_ttl_s: int = ACCESS_TTL_S,
          tls: ssl.SSLContext | None = None) -> Iterator[FakeBluesky]:
    """A fake Bluesky on loopback over ``world`` (with the race's personas and brands in it).
    ``access_ttl_s``: how long access tokens live, in real seconds (the client refreshes
    them 15 minutes before they expire). Brands send no direct messages here."""
    with world.lock:
        for account in world.accounts.values():
            if account.script is not None:
                account.script = replace(account.script, dm=None, auto_ack=None)
    with FakeServer(world.clock, tls=tls) as server:
        yield FakeBluesky(world, server, access_ttl_s=access_ttl_s)
