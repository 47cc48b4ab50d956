"""The person at the terminal of a live run: approves posts (confirm mode) and is reminded to
make them (assisted and manual modes)."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import TextIO

from harness.channels.base import OutgoingMessage
from harness.cli.output import printable


class TerminalOperator:
    """Asks on the terminal; writes reminders to stderr (and a bell, to be noticed)."""

    def __init__(self, stdin: TextIO | None = None, out: TextIO | None = None) -> None:
        self.stdin = stdin or sys.stdin
        self.out = out or sys.stderr

    def _show(self, heading: str, channel: str, message: OutgoingMessage) -> None:
        step = "first message" if message.step == 0 else f"follow-up {message.step}"
        lines = [
            f"\n{heading} [{datetime.now().astimezone():%Y-%m-%d %H:%M %Z}]",
            f"  probe {message.probe_id} ({step}) on {channel}",
            f"  as {printable(message.persona_account)} to "
            f"{printable(', '.join(message.brand_handles) or message.brand_id)}",
        ]
        if message.in_reply_to:
            lines.append(f"  in reply to {printable(message.in_reply_to)}")
        lines.append("  text: " + printable(message.text))
        print("\n".join(lines), file=self.out, flush=True)

    def approve(self, channel: str, message: OutgoingMessage) -> bool:
        self._show("Ready to post", channel, message)
        print("Post it now? [y/N] ", end="", file=self.out, flush=True)
        answer = self.stdin.readline()
        return answer.strip().lower() in ("y", "yes")

    def remind(self, channel: str, message: OutgoingMessage) -> None:
        self._show("\aPlease post this now, from the persona's own account", channel,
                   message)
        print("  (the harness looks for it on the timeline and tracks its replies; "
              "`shopper todo DIR` lists what is waiting)", file=self.out, flush=True)
