"""Facts about the platforms messages go to: how long a message may be and how it is counted."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, get_args

_URL = re.compile(r"https?://\S+")


def x_length(text: str) -> int:
    """Length as X counts it: URLs count 23, most non-Latin characters count 2."""
    if text.isascii() and "://" not in text:
        return len(text)  # every ASCII character counts 1
    text = unicodedata.normalize("NFC", text)
    length = 0
    for match_or_text in _URL.split(text):
        for char in match_or_text:
            code = ord(char)
            light = (
                code <= 0x10FF
                or 0x2000 <= code <= 0x200D
                or 0x2010 <= code <= 0x201F
                or 0x2032 <= code <= 0x2037
            )
            length += 1 if light else 2
    return length + 23 * len(_URL.findall(text))


def plain_length(text: str) -> int:
    """Length in Unicode code points."""
    return len(text)


@dataclass(frozen=True)
class Platform:
    """A platform's limits, as far as composing a message is concerned."""

    name: str
    max_length: int | None
    length: Callable[[str], int] = plain_length
    mention_prefix: str = "@"
    accounts_are_tokens: bool = True
    """Whether an account here is one token (``@Acme``, ``care@acme.example``), so a space in
    one is a mistake; on ``other`` (manual channels: a Facebook page, a phone line) an
    account may be any label."""


PlatformName = Literal["x", "mastodon", "bluesky", "email", "other"]
"""The platforms a channel may be on (``other``: manual channels such as a phone line)."""

SendMode = Literal["auto", "confirm", "assisted"]
"""Who posts: the harness (auto), the harness once a person says yes (confirm), or a person
whose post the harness then finds (assisted)."""
SEND_MODES: tuple[SendMode, ...] = get_args(SendMode)

ReplyKind = Literal["public_reply", "direct_message", "email", "other"]
"""How a reply came back."""
REPLY_KINDS: tuple[ReplyKind, ...] = get_args(ReplyKind)

PLATFORMS: dict[PlatformName, Platform] = {
    "x": Platform("x", 280, x_length),
    "mastodon": Platform("mastodon", 500),
    "bluesky": Platform("bluesky", 300),
    "email": Platform("email", None, mention_prefix=""),
    "other": Platform("other", None, accounts_are_tokens=False),
}
