"""The command-line side of repeating schedules: `--start`, `--until`, `--weeks`, and
`run --once` with `--now`, and how a repeating schedule is described.

Standard library only at import (argument types and parser additions): `shopper --help`
stays fast.
"""

from __future__ import annotations

import argparse
from datetime import date, datetime, tzinfo

PREVIEW_WEEKS = 4  # as harness.plan.calendar.PREVIEW_WEEKS (not imported: --help stays light)


def parse_date(text: str) -> date:
    """An argument's date: ``YYYY-MM-DD``."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a date: {text!r} (expected YYYY-MM-DD, e.g. 2025-03-03)") from None


def parse_moment(text: str) -> datetime:
    """An argument's moment: ISO 8601, with or without a UTC offset (without: read later in
    the scenario's time zone, see :func:`in_zone`)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a time: {text!r} (expected ISO 8601, e.g. 2025-03-03T10:00 or "
            "2025-03-03T10:00+01:00)") from None
    if not 1970 < moment.year < 9000:  # a zone or a window away must still be a date
        raise argparse.ArgumentTypeError(f"{text!r}: a moment between the years 1971 and 8999")
    return moment


def in_zone(moment: datetime, zone: tzinfo) -> datetime:
    """``moment``, read in ``zone`` if it says no offset of its own."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def _weeks(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= 520:
        raise argparse.ArgumentTypeError(f"--weeks is between 1 and 520, not {value:,}")
    return value


def add_schedule_arguments(command: argparse.ArgumentParser, *, weeks: bool = False) -> None:
    """``--start`` and ``--until`` (and, with ``weeks``, ``--weeks N``)."""
    command.add_argument("--start", type=parse_date, metavar="DATE",
                         help="override the schedule's start (YYYY-MM-DD): a weekly job "
                         "need not rewrite the file")
    command.add_argument("--until", type=parse_date, metavar="DATE",
                         help="end a repeating schedule on DATE (its last sending day), "
                         "overriding schedule.until")
    if weeks:
        command.add_argument("--weeks", type=_weeks, metavar="N",
                             help="of a repeating schedule, show the first N weeks (default "
                             f"{PREVIEW_WEEKS})")


def add_once_arguments(run: argparse.ArgumentParser) -> None:
    """``--once`` and ``--now`` of `shopper run`."""
    run.add_argument("--once", action="store_true",
                     help="one pass: send what is due, poll every channel once, close what "
                     "is due, then exit (0 unless a channel stopped); creates the run the "
                     "first time, resumes it after: for cron or a CI job")
    run.add_argument("--now", type=parse_moment, metavar="TIME",
                     help="with --once --simulate: the moment the virtual clock shows for "
                     "this pass (ISO 8601; without an offset, in the scenario's time zone); "
                     "to rehearse a cron job")


def repeats(until: date | None) -> str:
    """How a repeating schedule goes on, in words."""
    return f"repeats every week until {until.isoformat()}" if until else \
        "repeats every week without end"


def first_weeks(weeks: int) -> str:
    """``the first 4 weeks``, ``the first week``."""
    return "the first week" if weeks == 1 else f"the first {weeks} weeks"
