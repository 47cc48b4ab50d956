"""Text patterns that mean the same to `shopper validate` and to an editor.

Editors check scenario files against the published JSON Schema with ECMA-262 regular
expressions; `shopper validate` uses Python's. The two read ``\\w``, ``\\d``, ``\\s`` and ``$``
differently (Python's ``\\d`` takes Arabic-Indic digits, its ``$`` a trailing line break; an
editor's ``\\w`` is ASCII only), so a pattern here is written only with what both read alike:
explicit classes, ``[0-9]``, ``\\x``/``\\u`` escapes. The schema gets it anchored with
``(?![\\s\\S])`` (the end of the text, in both) instead of ``$``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, WithJsonSchema

# Characters that are never part of a name-like token: ASCII controls, space and punctuation
# but '_', C1 controls, and Unicode spaces, joiners and marks that do not print.
_NOT_WORD = (r"\x00-\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f\x80-\xa0\u00ad\u1680\u180e"
             r"\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\ufeff\ufff0-\uffff")
HASHTAG = rf"#[^{_NOT_WORD}]+"
"""'#' then letters, digits or '_' in any script (``#Acme``, ``#café``, ``#星巴克``)."""
HANDLE = r"[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\ufeff]+"
"""An account on a platform (``@Acme``, ``care@acme.example``, ``@ana@mastodon.social``):
one token, without spaces or invisible characters."""

IDENTIFIER = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"
"""Ids of personas, brands, categories and channels."""
SLUG = r"[a-z0-9][a-z0-9_-]{0,63}"
"""A scenario's name: it names the default results folder."""


def schema_pattern(core: str) -> str:
    """``core`` anchored at both ends, as ECMA-262 and Python read alike."""
    return rf"^(?:{core})(?![\s\S])"


def pattern_text(core: str, rule: str) -> Any:
    """A ``str`` field type that must match ``core`` whole; ``rule`` says what is wanted in a
    problem (`a hashtag is '#' then letters, digits or '_'`)."""
    compiled = re.compile(core)

    def check(value: str) -> str:
        if compiled.fullmatch(value) is None:
            raise ValueError(f"{rule} (got {value!r})")
        return value

    return Annotated[str, AfterValidator(check),
                     WithJsonSchema({"type": "string", "pattern": schema_pattern(core)})]
