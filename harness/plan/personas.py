"""The balanced persona deal: who sends each of a brand's messages.

A brand's messages are taken in time order; each gets, among the personas usable on its
channel, the one that comes first by, in turn:

1. fewest messages to this brand already today (personas rotate within a day: no persona
   sends a brand two messages on one day while another usable one has sent it none that day);
2. fewest messages to this brand in this message's mention mode (persona balanced against
   mention mode);
3. fewest messages to this brand in this message's category;
4. fewest messages to this brand in all;
5. next in turn after the persona chosen last, in a seeded order (each brand starts at a
   different point).

Then totals are evened out: while one persona has sent the brand two or more messages more
than another, one message passes from the first to the second, taken from a mention mode in
which the first has one more than the second (so that mode stays within one), on a day the
second sends the brand fewer messages than the first, in a category the first asks more often
than the second where there is one (the earliest such message).

When every channel of the brand has the same usable personas, this makes the personas' counts
in each mention mode differ by at most one (a day's messages, all in one mode, go to the
personas with the fewest in it) and their totals too, and a persona sends a brand more than one
message on a day only when the brand gets more messages that day than it has personas.
Categories are kept close to even, without a bound.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple


class Need(NamedTuple):
    """What the deal knows of one message: its day, mode, category and who may send it."""

    day: int
    mention: str
    category: str
    eligible: Sequence[int]
    """Indexes of the personas usable on its channel, in the seeded persona order."""


def deal_balanced(needs: Sequence[Need], personas: int, start: int,
                  usable: Sequence[int]) -> list[int]:
    """The persona (an index below ``personas``) of each of one brand's messages, given in
    time order; the turn (rule 5) starts at persona ``start``; ``usable`` are the personas
    any of the messages may have."""
    chosen, total, by_category = _greedy(needs, personas, start)
    if len(usable) > 1:
        evened = _spread(total, usable) > 1
        if evened:
            _even_totals(needs, chosen, usable)
        if evened or any(_spread(asked, usable) > 1 for asked in by_category.values()):
            _even_categories(needs, chosen, usable)
    return chosen


def _spread(counts: list[int], usable: Sequence[int]) -> int:
    values = [counts[p] for p in usable]
    return max(values) - min(values)


def _greedy(needs: Sequence[Need], personas: int,
            start: int) -> tuple[list[int], list[int], dict[str, list[int]]]:
    """Rules 1 to 5: the personas, their totals, and their counts per category."""
    today = [0] * personas
    total = [0] * personas
    by_mode: dict[str, list[int]] = {}
    by_category: dict[str, list[int]] = {}
    turn = start % personas
    day = None
    chosen: list[int] = []
    for need in needs:
        if need.day != day:
            day = need.day
            today = [0] * personas
        mode = by_mode.get(need.mention)
        if mode is None:
            mode = by_mode[need.mention] = [0] * personas
        category = by_category.get(need.category)
        if category is None:
            category = by_category[need.category] = [0] * personas
        eligible = need.eligible
        if len(eligible) == 1:
            best = eligible[0]
        else:
            best, best_key = -1, (0, 0, 0, 0, 0)
            for p in eligible:
                key = (today[p], mode[p], category[p], total[p], (p - turn) % personas)
                if best < 0 or key < best_key:
                    best, best_key = p, key
        today[best] += 1
        mode[best] += 1
        category[best] += 1
        total[best] += 1
        turn = (best + 1) % personas
        chosen.append(best)
    return chosen, total, by_category


def _even_totals(needs: Sequence[Need], chosen: list[int], usable: Sequence[int]) -> None:
    """Move messages from persona to persona (in place) until totals differ by at most one,
    as far as modes, days and channels allow (see the module's docstring)."""
    counts: dict[tuple[int, str], int] = {}
    per_day: dict[tuple[int, int], int] = {}
    for need, p in zip(needs, chosen, strict=True):
        for cell in ((p, "m:" + need.mention), (p, "c:" + need.category), (p, "")):
            counts[cell] = counts.get(cell, 0) + 1
        per_day[p, need.day] = per_day.get((p, need.day), 0) + 1
    for _ in range(len(needs)):  # each move narrows the gap between two totals
        order = sorted(usable, key=lambda p: (-counts.get((p, ""), 0), p))
        move = None
        for high in order:
            for low in reversed(order):
                if counts.get((high, ""), 0) - counts.get((low, ""), 0) < 2:
                    break
                move = _movable(needs, chosen, high, low, counts, per_day)
                if move is not None:
                    break
            if move is not None:
                break
        if move is None:
            return
        index, high, low = move
        need = needs[index]
        for name in ("m:" + need.mention, "c:" + need.category, ""):
            counts[high, name] -= 1
            counts[low, name] = counts.get((low, name), 0) + 1
        per_day[high, need.day] -= 1
        per_day[low, need.day] = per_day.get((low, need.day), 0) + 1
        chosen[index] = low


def _movable(needs: Sequence[Need], chosen: list[int], high: int, low: int,
             counts: dict[tuple[int, str], int],
             per_day: dict[tuple[int, int], int]) -> tuple[int, int, int] | None:
    """The message ``high`` sends that ``low`` may take over, or ``None``."""
    fallback = None
    for index, (need, p) in enumerate(zip(needs, chosen, strict=True)):
        if p != high or low not in need.eligible:
            continue
        mode = "m:" + need.mention
        if counts.get((high, mode), 0) - counts.get((low, mode), 0) != 1:
            continue
        if per_day.get((low, need.day), 0) >= per_day.get((high, need.day), 0):
            continue
        category = "c:" + need.category
        if counts.get((high, category), 0) > counts.get((low, category), 0):
            return index, high, low
        if fallback is None:
            fallback = (index, high, low)
    return fallback


def _even_categories(needs: Sequence[Need], chosen: list[int],
                     usable: Sequence[int]) -> None:
    """Swap messages between two personas (in place) while a category is asked two or more
    times more often by one than by the other, as far as modes, days and channels allow: the
    swap is of two messages in the same mode, so mode counts and totals stay as they are."""
    categories = sorted({need.category for need in needs})
    asked: dict[tuple[int, str], int] = {}
    per_day: dict[tuple[int, int], int] = {}
    for need, p in zip(needs, chosen, strict=True):
        asked[p, need.category] = asked.get((p, need.category), 0) + 1
        per_day[p, need.day] = per_day.get((p, need.day), 0) + 1
    swapped = True
    while swapped:  # each swap lowers the sum of squared counts: this ends
        swapped = False
        for category in categories:
            order = sorted(usable, key=lambda p: (-asked.get((p, category), 0), p))
            high, low = order[0], order[-1]
            if asked.get((high, category), 0) - asked.get((low, category), 0) < 2:
                continue
            pair = _swappable(needs, chosen, high, low, category, asked, per_day)
            if pair is None:
                continue
            for index, was, now in ((pair[0], high, low), (pair[1], low, high)):
                need = needs[index]
                asked[was, need.category] -= 1
                asked[now, need.category] = asked.get((now, need.category), 0) + 1
                per_day[was, need.day] -= 1
                per_day[now, need.day] = per_day.get((now, need.day), 0) + 1
                chosen[index] = now
            swapped = True


def _swappable(needs: Sequence[Need], chosen: list[int], high: int, low: int, category: str,
               asked: dict[tuple[int, str], int],
               per_day: dict[tuple[int, int], int]) -> tuple[int, int] | None:
    """A message of ``category`` from ``high`` and one of another category from ``low``, in
    the same mode, that the two may exchange; or ``None``."""
    mine = [i for i, p in enumerate(chosen) if p == high and needs[i].category == category
            and low in needs[i].eligible]
    theirs = [i for i, p in enumerate(chosen) if p == low and needs[i].category != category
              and high in needs[i].eligible
              and asked.get((low, needs[i].category), 0) > asked.get((high, needs[i].category), 0)]
    for i in mine:
        give = needs[i]
        for j in theirs:
            take = needs[j]
            if take.mention != give.mention:
                continue
            if give.day != take.day and (
                    per_day.get((low, give.day), 0) >= per_day.get((high, give.day), 0)
                    or per_day.get((high, take.day), 0) >= per_day.get((low, take.day), 0)):
                continue
            return i, j
    return None
