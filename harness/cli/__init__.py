"""The `shopper` command line: the one place that wires the parts together.

Only the standard library is imported here; each command imports what it needs when it runs,
so `shopper --help` stays fast and never loads matplotlib, scipy or tweepy.

Exit codes: 0 ok, 1 ran but something failed, 2 usage or input error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from harness import __version__
from harness.analysis.dimensions import CHART_GROUPS, METRICS
from harness.cli.repeating import add_once_arguments, add_schedule_arguments
from harness.platforms import REPLY_KINDS
from harness.runner.limits import DEFAULT_PER_BRAND_PER_DAY, DEFAULT_TOTAL

if TYPE_CHECKING:
    from datetime import datetime

Command = Callable[[argparse.Namespace], int]


def _lazy(module: str, function: str) -> Command:
    def command(args: argparse.Namespace) -> int:
        import importlib

        return int(getattr(importlib.import_module(module), function)(args))

    return command


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="shopper",
        description="Mystery-shopper experiments for social customer service: write a "
        "scenario, check it, plan it, run it (simulated or live), and report on it.",
        epilog="Start with: shopper race scenarios/great-race-2013.yaml",
    )
    parser.add_argument("--version", action="version", version=f"shopper {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    validate = commands.add_parser(
        "validate", help="check scenario files and list every problem",
        description="Check scenario files. Every problem is listed as FILE:LINE:COL: field: "
        "message. Exit status 0 if all are valid, 2 otherwise. Nothing is sent or written.")
    validate.add_argument("scenarios", nargs="+", metavar="SCENARIO", help="scenario YAML files")
    _max_probes_argument(validate)
    add_schedule_arguments(validate, weeks=True)
    validate.set_defaults(handler=_lazy("harness.cli.inspect", "validate"))

    plan = commands.add_parser(
        "plan", help="show the expanded probes and their balance",
        description="Expand a scenario into its probes (one planned message each) and show "
        "them with the balance tables. The same scenario and seed always give the same plan.")
    plan.add_argument("scenario", metavar="SCENARIO")
    plan.add_argument("--format", choices=("table", "csv", "json"), default="table",
                      help="table (default) for people; csv or json as data")
    plan.add_argument("--seed", type=_seed, help="override the scenario's seed")
    _max_probes_argument(plan)
    add_schedule_arguments(plan, weeks=True)
    plan.set_defaults(handler=_lazy("harness.cli.inspect", "plan"))

    power = commands.add_parser(
        "power", help="how often the design's verdicts would be right (simulated)",
        description="Draw the scenario's design many times under its brands' simulate: "
        "profiles and judge each replicate by the report's rules: per matchup the power, the "
        "rate of false winners, the smallest difference detectable with 80% power, the "
        "interval's width, coverage and bias; the mention effect's power. See docs/power.md.")
    power.add_argument("scenario", metavar="SCENARIO")
    power.add_argument("--replicates", type=_replicates, default=2000, metavar="N",
                       help="replicates to draw (default 2000)")
    power.add_argument("--alpha", type=_alpha, default=None, metavar="A",
                       help="the verdicts' level (default: the scenario's report.alpha)")
    power.add_argument("--seed", type=_seed, help="override the scenario's seed")
    power.add_argument("--vary", metavar="KEY=V1,V2",
                       help="re-plan with each value of messages_per_brand_per_day or weeks")
    power.add_argument("--chart", metavar="FILE", help="draw power against probes per "
                       "brand to FILE.png or FILE.svg")
    power.add_argument("--format", choices=("table", "json"), default="table")
    power.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    power.set_defaults(handler=_lazy("harness.cli.power", "power"))

    schema = commands.add_parser(
        "schema", help="print the scenario JSON Schema (for editors)",
        description="Print the JSON Schema of scenario files, generated from the model. Point "
        "your editor's YAML language server at it for completion and checking.")
    schema.set_defaults(handler=_lazy("harness.cli.inspect", "schema"))

    run = commands.add_parser(
        "run", help="run a scenario (simulated) into a run folder",
        description="Run a scenario: send each probe when due, poll for replies, record "
        "everything in DIR/run.sqlite. Rerunning on the same DIR resumes where it stopped and "
        "never sends a probe twice; on a finished DIR it does nothing.")
    _run_arguments(run)
    run.set_defaults(handler=_lazy("harness.cli.running", "run"))

    race = commands.add_parser(
        "race", help="simulate a scenario and show the results",
        description="Simulate a scenario (like `run --simulate`), show the results and build "
        "the report in DIR/report. On a finished run folder it only shows and reports.")
    race.add_argument("scenario", metavar="SCENARIO")
    race.add_argument("--out", metavar="DIR", help="run folder (default: results/<name>/)")
    race.add_argument("--seed", type=_seed, help="override the scenario's seed")
    add_schedule_arguments(race)
    _max_probes_argument(race)
    race.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    race.add_argument("--replicates", type=_replicates, metavar="N",
                      help="simulate N seeds (from --seed, default the scenario's) and show each "
                      "figure's median and 95%% range and how often each matchup gets each "
                      "verdict, beside the scenario's published figures if it has them; writes "
                      "DIR/replicates.json")
    race.set_defaults(handler=_lazy("harness.cli.running", "race"), simulate=True)

    status = commands.add_parser(
        "status", help="show how far a run has got",
        description="Show a run folder's progress: sent, pending, replied, open, next due.")
    status.add_argument("folder", metavar="DIR")
    status.set_defaults(handler=_lazy("harness.cli.inspect", "status"))

    check = commands.add_parser(
        "check", help="judge the run's service-level objectives (exit 1 if any does not pass)",
        description="Judge every objective of the run's scenario, per brand: pass, fail or "
        "insufficient, with k/n, the 95%% interval and the rule. Exit 0 when all pass, 1 when "
        "any fails or is insufficient, 2 on bad input. See docs/monitoring.md.")
    check.add_argument("folder", metavar="DIR")
    check.add_argument("--at", metavar="TIME", type=_moment,
                       help="judge as at this moment (ISO 8601, e.g. 2027-02-08T09:00+00:00; "
                       "default: now, or a simulated run's last moment)")
    check.add_argument("--junit", metavar="FILE", help="also write JUnit XML here")
    check.add_argument("--markdown", metavar="FILE", help="also write a Markdown summary here")
    check.add_argument("--github", action="store_true",
                       help="print GitHub Actions annotations and append the summary to "
                       "$GITHUB_STEP_SUMMARY")
    check.add_argument("--format", choices=("table", "json"), default="table")
    check.add_argument("--notify", action="store_true",
                       help="also send the alerts: that this moment calls for, and any not "
                       "yet delivered (docs/monitoring.md, Alerts)")
    check.set_defaults(handler=_lazy("harness.cli.check", "check"))

    metrics = commands.add_parser(
        "metrics", help="the run's numbers in Prometheus' text format",
        description="Write what `shopper check` judges (per objective and brand) and what was "
        "sent and answered (per brand, channel, category and mention mode) in Prometheus' "
        "text exposition format, for dashboards and alert rules. The names and labels are in "
        "docs/monitoring.md. Exit 0 whatever the verdicts; 2 on bad input.")
    metrics.add_argument("folder", metavar="DIR")
    metrics.add_argument("--at", metavar="TIME", type=_moment,
                         help="as at this moment (ISO 8601; default: now, or a simulated "
                         "run's last moment)")
    metrics.add_argument("-o", "--output", metavar="FILE", help="write here, replacing it "
                         "whole (for node_exporter's textfile collector: NAME.prom); default: "
                         "stdout")
    metrics.set_defaults(handler=_lazy("harness.cli.metrics", "metrics"))

    export = commands.add_parser(
        "export", help="write one row per probe (CSV or JSON)",
        description="Write one record per probe with what was sent and what came back. "
        "The columns are documented in docs/export.md.")
    export.add_argument("folder", metavar="DIR")
    export.add_argument("--format", choices=("csv", "json"), default="csv")
    export.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")
    export.set_defaults(handler=_lazy("harness.cli.inspect", "export"))
    calibrate = commands.add_parser(
        "calibrate", help="fit each brand's simulate: profile from a finished run",
        description="Fit each brand's `simulate:` profile (reply chance per mention mode and "
        "category, latency, off-hours and weekend behaviour, moves to DM or email, "
        "acknowledgements) from a finished run, with 95% intervals, and write them as YAML "
        "to paste into the next scenario (docs/calibration.md).")
    calibrate.add_argument("folder", metavar="DIR")
    calibrate.add_argument("-o", "--output", required=True, metavar="FILE",
                           help="the profiles file to write (YAML)")
    calibrate.set_defaults(handler=_lazy("harness.cli.calibrate", "calibrate"))
    report = commands.add_parser(
        "report", help="build the race report (HTML, poster, charts, CSV, JSON)",
        description="Build the report of a run folder: report.html (self-contained), "
        "infographic.png, charts/ (PNG and SVG), probes.csv and summary.json. A pure "
        "function of the store: rebuild it any time, even while a run goes on.")
    report.add_argument("folder", metavar="DIR")
    report.add_argument("--out", metavar="OUTDIR", help="where to write (default: DIR/report)")
    report.set_defaults(handler=_lazy("harness.cli.results", "report"))

    chart = commands.add_parser(
        "chart", help="draw one chart (PNG or SVG)",
        description="Draw one chart of a run: a metric by a grouping, titled and labelled, "
        "as PNG or SVG (by the file's suffix).")
    chart.add_argument("folder", metavar="DIR")
    chart.add_argument("--metric", required=True, choices=METRICS)
    chart.add_argument("--by", required=True, choices=CHART_GROUPS)
    chart.add_argument("--out", required=True, metavar="FILE", help="FILE.png or FILE.svg")
    chart.set_defaults(handler=_lazy("harness.cli.results", "chart"))

    channels = commands.add_parser(
        "channels", help="list channel adapters and whether a scenario's are ready",
        description="List the registered channel adapters. With a scenario: each of its "
        "channels, its adapter and send mode, its settings (secrets shown only by the name of "
        "their environment variable) and whether it is configured, or why not. Nothing is "
        "sent.")
    channels.add_argument("scenario", metavar="SCENARIO", nargs="?")
    channels.add_argument("--check", action="store_true",
                          help="also connect and log in as each persona, read-only, as a live "
                          "run does before it starts (nothing is posted or marked read)")
    channels.add_argument("--settings", metavar="ADAPTER",
                          help="show the settings ADAPTER takes: type, default, whether "
                          "required or secret, and what each is")
    channels.set_defaults(handler=_lazy("harness.cli.channels", "channels"))

    log = commands.add_parser(
        "log", help="record by hand what was sent or came back on a manual channel",
        description="For channels with the `manual` adapter (platforms without a usable API: "
        "Facebook, Instagram, Yelp, phone, web chat): record that a probe's message was sent, "
        "or that a reply came back, with its time. A running `shopper run --live` picks the "
        "record up at its next poll, and it flows into the store and report like any other.")
    log.add_argument("folder", metavar="DIR", help="the run folder")
    log.add_argument("--probe", required=True, help="probe id (see `shopper todo DIR`)")
    log.add_argument("--step", type=int, default=0,
                     help="0 for the probe's message (default), 1.. for follow-ups")
    what = log.add_mutually_exclusive_group(required=True)
    what.add_argument("--sent", action="store_true", help="the message was sent")
    what.add_argument("--reply", action="store_true", help="a reply came back")
    log.add_argument("--at", default="now",
                     help="when, as shown by the platform: ISO 8601 (with or without zone; "
                     "without, the scenario's zone) or 'now' (default)")
    log.add_argument("--kind", default="public_reply",
                     choices=REPLY_KINDS,
                     help="for --reply: what came back (default public_reply)")
    log.add_argument("--author", help="for --reply: who answered (default: the brand's "
                     "first handle on the channel)")
    log.add_argument("--text", default="", help="the text (of the reply, or as sent)")
    log.add_argument("--url", help="the post's or reply's URL, if any")
    log.add_argument("--automated", action="store_true",
                     help="for --reply: an automatic acknowledgement")
    log.set_defaults(handler=_lazy("harness.cli.logbook", "log"))

    stop = commands.add_parser(
        "stop", help="kill switch: stop a live run's sending at once (polling goes on)",
        description="Turn on a run folder's kill switch (a STOP file): the running `shopper "
        "run --live` sends nothing more from its next pass on, keeps polling until every probe "
        "it sent is closed, then ends. --undo turns it off again (then rerun to send the rest).")
    stop.add_argument("folder", metavar="DIR")
    stop.add_argument("--undo", action="store_true", help="turn the kill switch off")
    stop.set_defaults(handler=_lazy("harness.cli.safety", "stop"))

    resolve = commands.add_parser(
        "resolve", help="settle a send a crash left uncertain",
        description="A send a crash interrupted, on a platform that cannot say whether it "
        "was posted, is 'uncertain' and never resent (see `shopper status`). Look on the "
        "platform, then settle it: --posted with the post's id or URL and time, or "
        "--not-posted (it will be sent at the next `shopper run`). Needs the run stopped.")
    resolve.add_argument("folder", metavar="DIR")
    resolve.add_argument("--probe", required=True)
    resolve.add_argument("--step", type=int, default=0, help="0 (default) or a follow-up")
    outcome = resolve.add_mutually_exclusive_group(required=True)
    outcome.add_argument("--posted", metavar="ID_OR_URL",
                         help="it was posted: the platform's id or URL of the post")
    outcome.add_argument("--not-posted", action="store_true", help="it never appeared")
    resolve.add_argument("--at", help="with --posted: the post's time as the platform shows "
                         "it (ISO 8601; without a zone, the scenario's)")
    resolve.set_defaults(handler=_lazy("harness.cli.safety", "resolve"))

    todo = commands.add_parser(
        "todo", help="list the posts a person has to make (assisted and manual channels)",
        description="List the messages waiting for a person to post them, with their text, "
        "account and time; for a live run in assisted or manual mode.")
    todo.add_argument("folder", metavar="DIR")
    todo.set_defaults(handler=_lazy("harness.cli.logbook", "todo"))
    return parser


def _run_arguments(run: argparse.ArgumentParser) -> None:
    run.add_argument("scenario", metavar="SCENARIO")
    mode = run.add_mutually_exclusive_group()
    mode.add_argument("--simulate", action="store_true",
                      help="use simulated channels and a virtual clock (seconds, not weeks)")
    mode.add_argument("--live", action="store_true",
                      help="use the scenario's real channel adapters on the system clock; "
                      "shows what will happen and asks before starting")
    run.add_argument("--yes", "-y", action="store_true",
                     help="with --live: start without asking (unattended runs)")
    run.add_argument("--max-per-brand-per-day", type=_cap, default=DEFAULT_PER_BRAND_PER_DAY,
                     metavar="N", help="with --live: never send a brand more than N messages "
                     "(first messages and follow-ups) on one day in its time zone, whatever "
                     f"the scenario says (default {DEFAULT_PER_BRAND_PER_DAY}; 0: no cap)")
    run.add_argument("--max-messages", type=_cap, default=DEFAULT_TOTAL, metavar="N",
                     help="with --live: never send more than N messages in the whole run "
                     f"(default {DEFAULT_TOTAL}; 0: no cap)")
    run.add_argument("--out", metavar="DIR", help="run folder (default: results/<name>/)")
    run.add_argument("--seed", type=_seed, help="override the scenario's seed")
    add_schedule_arguments(run)
    add_once_arguments(run)
    _max_probes_argument(run)
    run.add_argument("--quiet", "-q", action="store_true", help="no progress output")


MAX_SEED = 2**63 - 1  # as the scenario's own `seed:` allows


def _whole_number(text: str, low: int, high: int | None, what: str) -> int:
    """``text`` as a whole number in ``low..high``, or a usage error saying what it must be."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < low or (high is not None and value > high):
        raise argparse.ArgumentTypeError(f"{what}, not {value:,}")
    return value


def _moment(text: str) -> datetime:
    """An ISO 8601 moment; one without an offset is taken as UTC."""
    from datetime import UTC, datetime

    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a moment: write ISO 8601, like 2027-02-08T09:00+00:00") from None
    if not 1970 < moment.year < 9000:  # a zone or a window away must still be a date
        raise argparse.ArgumentTypeError(f"{text!r}: a moment between the years 1971 and 8999")
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _seed(text: str) -> int:
    return _whole_number(text, 0, MAX_SEED,
                         f"a seed is between 0 and {MAX_SEED:,} (as in the scenario file)")


def _replicates(text: str) -> int:
    return _whole_number(text, 1, 1_000_000, "--replicates is between 1 and 1,000,000")


def _alpha(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"alpha is between 0 and 1, not {text}")
    return value


def _max_probes_argument(command: argparse.ArgumentParser) -> None:
    command.add_argument("--max-probes", type=_positive, default=None, metavar="N",
                         help="refuse a plan of more than N probes (default 1,000,000: "
                         "about 0.9 GB to expand); counted before anything is expanded")


def _positive(text: str) -> int:
    return _whole_number(text, 1, None, "must be at least 1")


def _cap(text: str) -> int | None:
    return _whole_number(text, 0, None, "a cap cannot be negative") or None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from harness.errors import HarnessError

    try:
        return int(args.handler(args))
    except HarnessError as exc:
        print(f"shopper: {exc}" if "\n" not in str(exc) else str(exc), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("shopper: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
