"""The settings tables of ``docs/channels.md``, made from the adapters' declarations.

::

    python -m harness.channels.docs            # rewrite docs/channels.md in place
    python -m harness.channels.docs --check    # only say whether a table is stale (exit 1)

Each adapter's table sits between ``<!-- settings:NAME -->`` and ``<!-- /settings:NAME -->``
and is :func:`settings_table` of its ``settings_spec`` (blank lines around it, so Markdown
ends the table before the closing marker); nothing else in the file is touched.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from harness.atomic import write_atomically
from harness.channels.base import ChannelAdapter
from harness.channels.registry import get_adapter
from harness.channels.settings import Described, PerPersona, Setting, Table

DOCS = Path(__file__).resolve().parents[2] / "docs" / "channels.md"
"""Where the channels' documentation lives in a checkout."""
MARKED = re.compile(r"(?P<open><!-- settings:(?P<name>[\w.-]+) -->\n)(?P<body>.*?)"
                    r"(?P<close><!-- /settings:(?P=name) -->)", re.S)
HEADER = ("| setting | type | required | default | secret | what it is |\n"
          "|---|---|---|---|---|---|\n")


def settings_table(spec: Sequence[Setting] | None) -> str:
    """``spec`` as a Markdown table, one row per setting and per field of a table setting
    (``smtp.host``; ``tokens.<persona>.access_token`` for a table per persona)."""
    if spec is None:
        return "Takes any settings, and reads none.\n"
    if not spec:
        return "No settings.\n"
    rows = [f"| `{name}` | {_cell(setting.type.label)} | {'yes' if setting.required else ''} "
            f"| {_default(setting)} | {'yes' if secret else ''} | {_cell(setting.help)} |\n"
            for name, setting, secret in setting_rows(spec)]
    return HEADER + "".join(rows)


def setting_rows(spec: Sequence[Setting], prefix: str = "",
                 secret: bool = False) -> Iterator[tuple[str, Setting, bool]]:
    """Each setting of ``spec`` and each field of a table setting, with its dotted name and
    whether it is (or sits inside) a secret."""
    for setting in spec:
        name, hidden = prefix + setting.name, secret or setting.secret
        yield name, setting, hidden
        kind, inner = setting.type, f"{name}."
        if isinstance(kind, PerPersona):
            kind, inner = kind.of, f"{name}.<persona>."
        if isinstance(kind, Table):
            yield from setting_rows(kind.fields, inner, hidden)


def _default(setting: Setting) -> str:
    value = setting.default
    if value is None:
        return ""
    if isinstance(value, Described):
        return _cell(value.text)
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    return f"`{value}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render(text: str,
           adapter: Callable[[str], type[ChannelAdapter]] = get_adapter) -> str:
    """``text`` with every marked table made afresh from its adapter's declarations."""
    return MARKED.sub(lambda found: found["open"] + "\n" + settings_table(
        adapter(found["name"]).settings_spec) + "\n" + found["close"], text)


def marked_adapters(text: str) -> list[str]:
    """The adapters whose tables ``text`` marks, in order."""
    return [found["name"] for found in MARKED.finditer(text)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.channels.docs",
                                     description="Make the settings tables of the channels' "
                                                 "documentation from the adapters' declarations.")
    parser.add_argument("path", nargs="?", type=Path, default=DOCS,
                        help=f"the Markdown file (default: {DOCS})")
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 if a table is stale")
    args = parser.parse_args(argv)
    text = args.path.read_text(encoding="utf-8")
    fresh = render(text)
    if fresh == text:
        print(f"{args.path}: settings tables are up to date")
        return 0
    if args.check:
        print(f"{args.path}: settings tables are stale; run python -m harness.channels.docs",
              file=sys.stderr)
        return 1
    write_atomically(args.path, fresh)
    print(f"{args.path}: settings tables rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
