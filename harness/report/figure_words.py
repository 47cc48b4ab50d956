"""A replay's figures (:mod:`harness.analysis.replay`) as a person reads them: the terminal
and the page say them the same way."""

from __future__ import annotations

from harness.durations import format_duration

_KINDS = {"replies": "replies", "mean_among_replies_s": "mean time among replies",
          "category_replies": "replies in category"}
_WHOLE = {"answered": "messages answered", "answered_without_at": "answered without the @handle"}


def label(name: str, names: dict[str, str]) -> str:
    """A figure's name in words, brands by their names."""
    kind, _, key = name.partition(":")
    if kind == "difference":
        return f"replies, {label_matchup(key, names)} (difference)"
    if key:
        return f"{_KINDS.get(kind, kind)}: {names.get(key, key)}"
    return _WHOLE.get(kind, kind)


def label_matchup(pair: str, names: dict[str, str]) -> str:
    """``"a vs b"`` with the brands' names."""
    return " vs ".join(names.get(b, b) for b in pair.split(" vs "))


def shown(name: str, value: float | None) -> str:
    """A figure's value: a duration for a time, a count otherwise; "-" for none."""
    if value is None:
        return "-"
    if name.startswith("mean_among_replies_s:"):
        return format_duration(value)
    return f"{value:g}"
