"""Build the report of a run folder: what `shopper report` and `shopper race` write."""

from __future__ import annotations

from pathlib import Path

from harness.errors import UsageError
from harness.report.build import ReportFiles, build_report
from harness.store.folder import RunFolder


def write_report(folder: Path, out: Path) -> ReportFiles:
    """Build the report of the run in ``folder`` into ``out``."""
    store = RunFolder(folder).open_store()
    try:
        return build_report(store, out)
    except OSError as exc:  # the disk filled, or the folder went away while writing
        raise UsageError(f"{out}: cannot write the report: {exc.strerror or exc}") from None
    finally:
        store.close()
