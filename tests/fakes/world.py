"""A platform-neutral fake social world on a clock, shared by every fake platform.

Accounts post; brand accounts follow a :class:`BrandScript` (answer @mentions after a delay,
stay silent on name mentions, answer follow-ups in the thread, send a DM, auto-acknowledge).
Each fake server (X, Mastodon, Bluesky, email) renders this world in its platform's own routes
and JSON, so one end-to-end test can check any adapter against what the brands did.

Brand reactions are scheduled when the post they answer arrives and become visible (get their
id) only when the clock reaches them, so ids grow with time as on the real platforms and
``since_id`` reading works as it does there.
"""

from __future__ import annotations

import itertools
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from harness.clock import Clock

Kind = Literal["post", "dm", "email"]


@dataclass(frozen=True)
class BrandScript:
    """How a fake brand behaves. ``None`` delays mean it never does that."""

    at: timedelta | None = None
    """Answer a post that @mentions it, this long after."""
    name: timedelta | None = None
    """Answer a post that only names it, this long after (brands that search for their name)."""
    follow_up: timedelta | None = None
    """Answer a follow-up in a thread it replied in, this long after."""
    dm: timedelta | None = None
    """Send a direct message this long after each public reply."""
    auto_ack: timedelta | None = None
    """Send an automatic acknowledgement this long after each post that reaches it."""
    text: str = "Hi! Sorry about that, can you tell us more?"


@dataclass
class Account:
    """Someone on the platform: a persona or a brand."""

    id: str
    handle: str  # without "@"
    name: str
    token: str | None = None
    script: BrandScript | None = None


@dataclass
class Post:
    """A post, a reply, a direct message or an email."""

    id: str
    author: Account
    text: str
    created_at: datetime
    kind: Kind = "post"
    in_reply_to: Post | None = None
    to: Account | None = None
    automated: bool = False
    mentions: tuple[str, ...] = ()  # handles, lower case
    subject: str = ""
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def root(self) -> Post:
        post = self
        while post.in_reply_to is not None:
            post = post.in_reply_to
        return post


@dataclass(frozen=True)
class Reaction:
    """What a brand did, for tests to compare with what the harness recorded."""

    brand: str
    post_id: str  # filled when it became visible
    answers: str  # id of the post it answers
    kind: Kind
    delay: timedelta
    automated: bool


_MENTION = re.compile(r"@([A-Za-z0-9_.-]+)")


class World:
    """Accounts, posts and scheduled brand reactions, guarded by one lock."""

    def __init__(self, clock: Clock, first_id: int = 1_000_000) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.accounts: dict[str, Account] = {}  # by lower-case handle
        self.posts: list[Post] = []
        self.reactions: list[Reaction] = []
        self._pending: list[tuple[datetime, int, Post, Reaction]] = []
        self._ids = itertools.count(first_id)
        self._order = itertools.count()

    # -- set-up -----------------------------------------------------------------------------

    def account(self, handle: str, name: str = "", *, token: str | None = None,
                script: BrandScript | None = None) -> Account:
        """Add an account (``script`` makes it a brand)."""
        handle = handle.lstrip("@")
        account = Account(id=str(next(self._ids)), handle=handle, name=name or handle,
                          token=token, script=script)
        self.accounts[handle.lower()] = account
        return account

    def by_token(self, token: str) -> Account | None:
        return next((a for a in self.accounts.values() if a.token and a.token == token), None)

    def by_id(self, account_id: str) -> Account | None:
        return next((a for a in self.accounts.values() if a.id == account_id), None)

    def by_handle(self, handle: str) -> Account | None:
        return self.accounts.get(handle.lstrip("@").lower())

    def post_by_id(self, post_id: str) -> Post | None:
        with self.lock:
            self.advance()
            return next((p for p in self.posts if p.id == post_id), None)

    # -- time -------------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock.now().replace(microsecond=0)

    def advance(self) -> None:
        """Make every reaction whose time has come visible, oldest first."""
        with self.lock:
            now = self.clock.now()
            self._pending.sort(key=lambda item: (item[0], item[1]))
            while self._pending and self._pending[0][0] <= now:
                _, _, post, reaction = self._pending.pop(0)
                post.id = str(next(self._ids))
                self.posts.append(post)
                self.reactions.append(Reaction(reaction.brand, post.id, reaction.answers,
                                               reaction.kind, reaction.delay,
                                               reaction.automated))
                if post.kind == "post" and not post.automated:
                    self._react_to_own_reply(post)

    # -- acting -----------------------------------------------------------------------------

    def post(self, author: Account, text: str, *, in_reply_to: Post | None = None,
             kind: Kind = "post", to: Account | None = None, subject: str = "",
             headers: dict[str, str] | None = None) -> Post:
        """``author`` posts now; brands it reaches schedule their reactions."""
        with self.lock:
            self.advance()
            mentions = tuple(m.lower() for m in _MENTION.findall(text))
            if in_reply_to is not None and in_reply_to.author.handle.lower() not in mentions:
                mentions = (in_reply_to.author.handle.lower(), *mentions)
            post = Post(id=str(next(self._ids)), author=author, text=text,
                        created_at=self.now(), kind=kind, in_reply_to=in_reply_to, to=to,
                        mentions=mentions, subject=subject, headers=dict(headers or {}))
            self.posts.append(post)
            if author.script is None:
                self._brands_react(post)
            return post

    def _brands_react(self, post: Post) -> None:
        for brand in self.accounts.values():
            script = brand.script
            if script is None:
                continue
            delay: timedelta | None
            parent = post.in_reply_to
            if parent is not None and parent.author is brand:
                delay = script.follow_up
            elif ((post.kind in ("dm", "email") and post.to is brand)
                  or brand.handle.lower() in post.mentions):
                delay = script.at
            elif brand.name.lower() in post.text.lower():
                delay = script.name
            else:
                continue
            if script.auto_ack is not None:
                self._schedule(brand, post, script.auto_ack, "dm" if post.kind == "post"
                               else post.kind, "Thanks for your message! We'll be in touch.",
                               automated=True)
            if delay is not None:
                kind: Kind = "email" if post.kind == "email" else (
                    "dm" if post.kind == "dm" else "post")
                self._schedule(brand, post, delay, kind, script.text)

    def _react_to_own_reply(self, reply: Post) -> None:
        script = reply.author.script
        if script is not None and script.dm is not None and reply.in_reply_to is not None:
            self._schedule(reply.author, reply.in_reply_to, script.dm, "dm",
                           "Please send us your order number in a DM.", after=reply)

    def _schedule(self, brand: Account, answers: Post, delay: timedelta, kind: Kind, text: str,
                  *, automated: bool = False, after: Post | None = None) -> None:
        start = (after or answers).created_at
        to = answers.author
        mentions = (to.handle.lower(),)
        reply = Post(id="", author=brand, text=text if kind != "post" else
                     f"@{to.handle} {text}", created_at=start + delay, kind=kind,
                     in_reply_to=answers if kind == "post" or kind == "email" else None,
                     to=to, automated=automated, mentions=mentions,
                     subject=f"Re: {answers.subject}" if kind == "email" else "",
                     headers={"Auto-Submitted": "auto-replied"} if automated else {})
        self._pending.append((start + delay, next(self._order), reply,
                              Reaction(brand.handle, "", answers.id, kind,
                                       start + delay - answers.created_at, automated)))

    # -- reading ----------------------------------------------------------------------------

    def visible(self) -> list[Post]:
        with self.lock:
            self.advance()
            return list(self.posts)

    def mentions_of(self, account: Account) -> list[Post]:
        """Public posts by others that mention ``account``, oldest first."""
        handle = account.handle.lower()
        return [p for p in self.visible()
                if p.kind == "post" and p.author is not account and handle in p.mentions]

    def timeline(self, account: Account) -> list[Post]:
        """``account``'s own public posts, oldest first."""
        return [p for p in self.visible() if p.kind == "post" and p.author is account]

    def messages_to(self, account: Account, kind: Kind) -> list[Post]:
        """Direct messages or emails to ``account``, oldest first."""
        return [p for p in self.visible() if p.kind == kind and p.to is account]
