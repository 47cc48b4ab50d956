"""`shopper stop` (the kill switch) and `shopper resolve` (settling uncertain sends)."""

from __future__ import annotations

import argparse
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from harness.cli.logbook import parse_time
from harness.errors import RunFolderError, UsageError
from harness.runner.limits import STOP_FILE
from harness.runner.sending import resolved
from harness.store.folder import RunFolder
from harness.store.records import WriteBatch


def stop(args: argparse.Namespace) -> int:
    """Turn a run folder's kill switch on (or off with ``--undo``)."""
    folder = RunFolder(Path(args.folder))
    if not folder.exists():
        raise RunFolderError(f"{args.folder}: no run here (expected {folder.store_path.name})")
    switch = folder.path / STOP_FILE
    if args.undo:
        if not switch.exists():
            print(f"{args.folder}: the kill switch is already off")
            return 0
        switch.unlink()
        print(f"{args.folder}: kill switch off; rerun `shopper run ... --live` to send the rest")
        return 0
    switch.write_text(f"stopped at {datetime.now(UTC).isoformat()} by pid {os.getpid()}\n",
                      encoding="utf-8")
    print(f"{args.folder}: kill switch on: nothing more is sent; a running live run keeps "
          "polling until every probe it sent is closed. `shopper stop DIR --undo` to go on.")
    return 0


def resolve(args: argparse.Namespace) -> int:
    """Settle an uncertain send by what the operator saw on the platform."""
    folder = RunFolder(Path(args.folder))
    if not folder.exists():  # checked before locking: the lock would create the folder
        raise RunFolderError(f"{args.folder}: no run here (expected {folder.store_path.name})")
    with folder:  # refused while a run is going
        store = folder.open_store()
        try:
            zone = ZoneInfo(store.meta()["timezone"])
            attempts = [s for s in store.sends()
                        if s.probe_id == args.probe and s.step == args.step]
            if not attempts:
                raise UsageError(f"probe {args.probe!r} step {args.step} was never attempted "
                                 f"in {args.folder} (see `shopper status {args.folder}`)")
            latest = max(attempts, key=lambda s: s.attempt)
            if latest.state != "uncertain":
                raise UsageError(f"probe {args.probe} step {args.step} is {latest.state!r}, not "
                                 "uncertain: nothing to resolve")
            if args.posted:
                if not args.at:
                    raise UsageError("--posted needs --at: the post's time as the platform "
                                     "shows it")
                post_id = _post_id(args.posted)
                outcome = resolved(latest, (post_id, parse_time(args.at, zone)),
                                   datetime.now(UTC))
                said = f"posted as {post_id}"
            else:
                outcome = resolved(latest, None, datetime.now(UTC))
                said = "not posted: it is sent at the next `shopper run`"
            store.write(WriteBatch(outcomes=[outcome]))
            if "finished_at" in store.meta():  # the settled probe has to be followed again
                store.clear_meta("finished_at")
                said += "; the run is open again: rerun `shopper run` to follow it"
        finally:
            store.close()
    print(f"{args.probe} step {args.step}: {said}")
    return 0


def _post_id(value: str) -> str:
    """A platform id, from an id or a post's URL (X and Mastodon URLs end with the id)."""
    value = value.strip()
    if not value:
        raise UsageError("--posted: give the post's id or URL")
    match = re.fullmatch(r"https?://\S+?/(\d+)/?", value)
    return match.group(1) if match else value
