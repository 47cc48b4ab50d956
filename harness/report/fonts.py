"""Fonts for the scripts people write brand and persona names in, and an honest word when a
script has none.

matplotlib draws each character with the first font in ``font.family`` that has it, so the
charts and the poster list DejaVu Sans (bundled with matplotlib) and then whichever of the
Noto fonts and Symbola are installed (Debian: ``fonts-noto-core fonts-noto-cjk
fonts-symbola``; `.ci/run` installs them). A character no listed font has would be drawn as an
empty box with one matplotlib warning per character; :func:`missing_glyphs` collects those
instead and :func:`advice` turns them into one line per script, naming it.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

FALLBACK = (
    "DejaVu Sans",  # Latin, Greek, Cyrillic and much more; always there (matplotlib's own)
    "Noto Sans", "Noto Sans CJK JP", "Noto Sans Arabic", "Noto Sans Hebrew",
    "Noto Sans Devanagari", "Noto Sans Bengali", "Noto Sans Gurmukhi", "Noto Sans Gujarati",
    "Noto Sans Tamil", "Noto Sans Telugu", "Noto Sans Kannada", "Noto Sans Malayalam",
    "Noto Sans Sinhala", "Noto Sans Thai", "Noto Sans Lao", "Noto Sans Khmer",
    "Noto Sans Myanmar", "Noto Sans Georgian", "Noto Sans Armenian", "Noto Sans Ethiopic",
    "Noto Sans Tibetan", "Noto Serif Tibetan", "Noto Sans Symbols", "Noto Sans Symbols2",
    "Symbola",  # emoji and symbols, drawn in outline (matplotlib draws no colour emoji)
)
"""Font families in the order they are tried; only the installed ones are used."""
INSTALL_HINT = "install fonts for it (Debian: apt-get install fonts-noto-core fonts-noto-cjk " \
               "fonts-symbola)"
_MISSING = re.compile(r"Glyph (\d+) .*missing from (?:current )?font")


@lru_cache(maxsize=1)
def font_families() -> tuple[str, ...]:
    """The families of :data:`FALLBACK` that are installed, in order."""
    import logging

    from matplotlib import font_manager

    # A fallback family with no bold face is drawn in its regular weight: that is expected,
    # not worth one "findfont: Failed to find font weight bold" line per family on stderr.
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)

    installed = {entry.name for entry in font_manager.fontManager.ttflist}
    return tuple(name for name in FALLBACK if name in installed or name == "DejaVu Sans")


def script_of(character: str) -> str:
    """The script a character belongs to, as its Unicode name begins (``CJK``, ``TIBETAN``)."""
    name = unicodedata.name(character, "")
    if not name:
        return f"U+{ord(character):04X}"
    first = name.split()[0]
    return "emoji and symbols" if first in ("FACE", "EMOJI") or ord(character) >= 0x1F000 \
        else first


@contextmanager
def missing_glyphs() -> Iterator[dict[str, str]]:
    """While drawing: matplotlib's warnings about characters no font has are kept out of the
    way and gathered as {script: an example character}."""
    found: dict[str, str] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield found
    for warning in caught:
        match = _MISSING.search(str(warning.message))
        if match:
            character = chr(int(match[1]))
            found.setdefault(script_of(character), character)
        else:  # anything else is not ours to hide
            warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                   warning.lineno)


def advice(missing: dict[str, str]) -> list[str]:
    """One line per script that was drawn as empty boxes."""
    return [f"no installed font draws {script} text (such as {example!r}): it shows as empty "
            f"boxes in the PNG and SVG charts and the poster; {INSTALL_HINT}"
            for script, example in sorted(missing.items())]
