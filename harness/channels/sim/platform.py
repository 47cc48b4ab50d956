"""An in-process social platform that brands answer according to their simulate profiles.

It behaves like an outside service: what was posted survives our process being killed (an
append-only journal in the run folder, one JSON list of a post's fields per line, written with
one ``write`` call per post), post ids and
timestamps are its own, and replies become visible only when their time comes. After a crash
it is rebuilt from the journal, and since every reaction is a pure function of the post, the
rebuilt platform holds exactly what the old one did.
"""

from __future__ import annotations

import bisect
import json
import os
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from harness.channels.sim.behaviour import BrandBehaviour, Stimulus

_ENCODER = json.JSONEncoder(ensure_ascii=False)


class Post(NamedTuple):
    """A message a persona posted."""

    platform_id: str
    probe_id: str
    step: int
    persona: str
    account: str
    brand: str
    mention: str
    category: str
    text: str
    created_at: datetime
    in_reply_to: str | None


class Event(NamedTuple):
    """Something a brand sent to a persona, visible from ``created_at`` on."""

    created_at: datetime
    platform_id: str
    post: Post
    author: str
    kind: str
    text: str
    automated: bool


class SimulatedPlatform:
    """Posts, and the brand reactions they trigger, on a timeline."""

    def __init__(self, journal: Path, behaviours: dict[str, BrandBehaviour],
                 brand_authors: dict[str, str], persona_names: dict[str, str]) -> None:
        self.journal = journal
        self.behaviours = behaviours
        self.brand_authors = brand_authors
        self.persona_names = persona_names
        self.posts: dict[tuple[str, int], Post] = {}
        self.events: list[tuple[datetime, str, Event]] = []
        self._replay_journal()
        journal.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def _replay_journal(self) -> None:
        if not self.journal.exists():
            return
        whole = 0  # bytes of the journal that end in a complete line
        with self.journal.open("rb") as handle:
            for line in handle:
                if not line.endswith(b"\n"):
                    break  # a write cut short by a crash: the post never happened
                whole += len(line)
                record = json.loads(line)  # the fields of a Post, in order
                record[9] = datetime.fromisoformat(record[9])
                self._accept(Post(*record))
        if whole < self.journal.stat().st_size:
            # Cut the torn tail off, or the next post would be appended to it and the line
            # holding both would be unreadable ever after.
            os.truncate(self.journal, whole)

    def post(self, post: Post) -> Post:
        """Publish ``post`` (journal first, like a server's commit) and schedule reactions."""
        record = [*post[:9], post.created_at.isoformat(), post.in_reply_to]
        os.write(self._fd, (_ENCODER.encode(record) + "\n").encode("utf-8"))
        self._accept(post)
        return post

    def _accept(self, post: Post) -> None:
        self.posts[(post.probe_id, post.step)] = post
        behaviour = self.behaviours[post.brand]
        stimulus = Stimulus(post.probe_id, post.step, post.mention, post.category,
                            self.persona_names.get(post.persona, post.persona), post.created_at)
        for number, reaction in enumerate(behaviour.react(stimulus), start=1):
            event = Event(reaction.created_at, f"{post.platform_id}-r{number}", post,
                          self.brand_authors[post.brand], reaction.kind, reaction.text,
                          reaction.automated)
            bisect.insort(self.events, (event.created_at, event.platform_id, event))

    def find(self, probe_id: str, step: int) -> Post | None:
        """The post made for this probe step, if any."""
        return self.posts.get((probe_id, step))

    def visible(self, after: datetime | None, until: datetime) -> list[Event]:
        """Events with ``after < created_at <= until``, oldest first."""
        low = 0 if after is None else bisect.bisect_right(self.events, (after, "\uffff"))
        high = bisect.bisect_right(self.events, (until, "\uffff"))
        return [event for _, _, event in self.events[low:high]]

    def next_event_after(self, after: datetime | None) -> datetime | None:
        """When the first event later than ``after`` becomes visible."""
        low = 0 if after is None else bisect.bisect_right(self.events, (after, "\uffff"))
        return self.events[low][0] if low < len(self.events) else None

    def close(self) -> None:
        """Close the journal."""
        os.close(self._fd)
