"""`shopper metrics DIR`: the run's numbers for Prometheus (standard output, or a file for
node_exporter's textfile collector, replaced whole)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.atomic import write_atomically
from harness.cli.output import inert_lines
from harness.cli.paths import writable_file
from harness.errors import UsageError
from harness.session.metrics import metrics_text


def metrics(args: argparse.Namespace) -> int:
    """Write the metrics; 0 (whatever the verdicts: `shopper check` is the gate)."""
    target = writable_file(Path(args.output), "-o") if args.output else None
    text = metrics_text(Path(args.folder), args.at)
    if target is not None:
        try:
            write_atomically(target, text)
        except OSError as exc:
            raise UsageError(f"-o {target}: cannot write: {exc.strerror or exc}") from None
    elif sys.stdout.isatty():  # shown, not saved: nothing in a name may drive the terminal
        sys.stdout.write(inert_lines(text))
    else:
        sys.stdout.write(text)
    return 0
