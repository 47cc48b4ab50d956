"""Durations written the way people write them: ``90s``, ``15m``, ``2h30m``, ``7d``."""

from __future__ import annotations

import re
from datetime import timedelta

# ASCII digits and spaces only, and no `$`: read alike by Python and by an editor's ECMA-262
# engine (the scenario schema anchors it; see harness.scenario.patterns).
PATTERN = r"[ \t]*([0-9]+(\.[0-9]+)?[ \t]*(w|d|h|m|s)[ \t]*)+"
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)[ \t]*(w|d|h|m|s)")
_UNIT_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> timedelta:
    """Parse ``"1h30m"``-style text; raise ``ValueError`` with a readable message."""
    if not isinstance(text, str) or not re.fullmatch(PATTERN, text):
        raise ValueError(f"expected a duration like '90s', '15m', '2h30m' or '7d', got {text!r}")
    seconds = sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _PART.findall(text))
    return timedelta(seconds=seconds)


def format_duration(value: timedelta | float) -> str:
    """A short human form: ``'2h 05m'``, ``'3d 4h'``, ``'45s'``."""
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    sign = "-" if seconds < 0 else ""
    seconds = abs(round(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days}d {hours}h"
    if hours:
        return f"{sign}{hours}h {minutes:02d}m"
    if minutes:
        return f"{sign}{minutes}m {secs:02d}s"
    return f"{sign}{secs}s"


def compact_duration(value: timedelta) -> str:
    """The shortest scenario spelling: ``'7d'``, ``'1h30m'``, ``'90s'`` -> ``'1m30s'``."""
    seconds = round(value.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"
