"""Personas taking turns along a brand's messages, for plans made a week at a time.

Each message goes to the persona, among those usable on its channel, that comes first by, in
turn: fewest messages to the brand that day; fewest in the message's mention mode; fewest in
its category; fewest at its place in the day (the first, second... message of a day); fewest
in all; next in a seeded order after the persona chosen last. So personas rotate within a
day, stay within one of each other in each mention mode, and neither a category nor a send
time stays with one persona.

A choice depends only on the counts of the messages before it, which is what lets a
repeating schedule's plan be made week by week (:mod:`harness.plan.continuous`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class Turns:
    """One brand's persona counts so far: what its next choice depends on."""

    personas: int
    turn: int
    total: list[int]
    by_key: dict[str, list[int]] = field(default_factory=dict)
    """Counts per mention mode (``m:at``), category (``c:id``) and place in a day (``k:0``)."""

    @classmethod
    def fresh(cls, personas: int, start: int) -> Turns:
        """Nothing sent yet; the turn starts at persona ``start``."""
        return cls(personas, start % personas, [0] * personas)

    def copy(self) -> Turns:
        """The same counts, apart from these."""
        return Turns(self.personas, self.turn, list(self.total),
                     {key: list(counts) for key, counts in self.by_key.items()})

    def _counts(self, key: str) -> list[int]:
        counts = self.by_key.get(key)
        if counts is None:
            counts = self.by_key[key] = [0] * self.personas
        return counts

    def choose(self, eligible: Sequence[int], today: Counter[int], mention: str,
               category: str, place: int) -> int:
        """The persona of the next message (see the module docstring), counted in."""
        mode, asked, at = (self._counts(f"m:{mention}"), self._counts(f"c:{category}"),
                           self._counts(f"k:{place}"))
        best = min(eligible, key=lambda p: (today[p], mode[p], asked[p], at[p], self.total[p],
                                            (p - self.turn) % self.personas))
        today[best] += 1
        for counts in (mode, asked, at, self.total):
            counts[best] += 1
        self.turn = (best + 1) % self.personas
        return best
