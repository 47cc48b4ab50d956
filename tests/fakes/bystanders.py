"""Bystanders for the fake world: accounts that are neither a persona nor any brand's, who
reply in a persona's public thread (the helpful stranger, the reply guy, a bot).

:class:`Crowd` is a :class:`~tests.fakes.world.World` whose bystanders answer each new public
post of a persona that they ``join`` (by default every one), ``after`` a delay, publicly and in
the thread, like a brand's public reply. Every fake platform renders them as it renders any
account's reply (on X: a mention of the persona with ``referenced_tweets`` replied_to the
probe). Brands never react to them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta

from harness.clock import Clock, VirtualClock
from tests.fakes.race import BRANDS, PERSONAS, START, Kit
from tests.fakes.world import Account, Kind, Post, World


@dataclass(frozen=True)
class Bystander:
    account: Account
    after: timedelta
    text: str
    joins: Callable[[Post], bool]


class Crowd(World):
    """A world with bystanders in it."""

    def __init__(self, clock: Clock, first_id: int = 1_000_000) -> None:
        super().__init__(clock, first_id)
        self.bystanders: list[Bystander] = []

    def bystander(self, handle: str, name: str = "", *, after: timedelta, text: str,
                  joins: Callable[[Post], bool] = lambda post: True) -> Account:
        """Add a bystander who replies ``text`` in the thread of each persona post it
        ``joins``, ``after`` the post."""
        account = self.account(handle, name)
        self.bystanders.append(Bystander(account, after, text, joins))
        return account

    def is_bystander(self, account: Account) -> bool:
        return any(b.account is account for b in self.bystanders)

    def post(self, author: Account, text: str, *, in_reply_to: Post | None = None,
             kind: Kind = "post", to: Account | None = None, subject: str = "",
             headers: dict[str, str] | None = None) -> Post:
        with self.lock:
            post = super().post(author, text, in_reply_to=in_reply_to, kind=kind, to=to,
                                subject=subject, headers=headers)
            if (kind == "post" and in_reply_to is None and author.script is None
                    and not self.is_bystander(author)):
                for bystander in self.bystanders:
                    if bystander.joins(post):
                        self._schedule(bystander.account, post, bystander.after, "post",
                                       bystander.text)
            return post

    def by_bystanders(self) -> list[Post]:
        """The bystanders' posts so far, oldest first."""
        return [p for p in self.visible() if self.is_bystander(p.author)]

    def ours(self) -> list[Post]:
        """The personas' posts so far (not the brands', not the bystanders')."""
        return [p for p in self.visible()
                if p.author.script is None and not self.is_bystander(p.author)]


def new_crowd(kit: Kit, clock: VirtualClock | None = None) -> Crowd:
    """A crowd with the race's personas and its three scripted brands (as
    :func:`tests.fakes.race.new_world` makes them), and no bystander yet."""
    world = Crowd(clock or VirtualClock(START))
    for persona, name in PERSONAS.items():
        world.account(kit.persona_handles[persona], name, token=kit.tokens.get(persona))
    for brand, (name, script) in BRANDS.items():
        if not kit.auto_acks:
            script = replace(script, auto_ack=None)
        world.account(kit.brand_handles[brand], name, script=script)
    return world
