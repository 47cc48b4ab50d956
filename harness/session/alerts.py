"""`shopper check DIR --notify`: judge a run's objectives at a moment and send the alerts
that calls for, for a cron job over a run that another process feeds (a `shopper run --once`
from cron, say). A run that is running sends its alerts itself: the folder's lock tells."""

from __future__ import annotations

from pathlib import Path

from harness.errors import RunFolderError, UsageError
from harness.monitor.watch import Round, Say
from harness.session.checks import Check
from harness.store.folder import RunFolder


def notify_run(folder: Path, check: Check, say: Say) -> Round | None:
    """Decide, record and deliver the notifications ``check`` calls for (and any not yet
    delivered); None when a running `shopper run` holds the folder (it sends them itself)."""
    from harness.monitor.watch import Monitor  # Apprise only when alerts are wanted

    if check.scenario.alerts is None:
        raise UsageError(f"{folder}: the run's scenario has no alerts: section, so --notify "
                         "has nowhere to send (see docs/monitoring.md, Alerts)")
    run_folder = RunFolder(folder)
    try:
        run_folder.lock()
    except RunFolderError as exc:
        say(f"shopper: {exc}; a running run sends its own alerts: --notify sent nothing")
        return None
    try:
        store = run_folder.open_store()
        try:
            return Monitor(store, check.scenario, say=say).round(check.at, check.verdicts)
        finally:
            store.close()
    finally:
        run_folder.unlock()
