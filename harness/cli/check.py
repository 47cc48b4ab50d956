"""`shopper check DIR`: the objectives' verdicts, for a person, a CI job and GitHub."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from harness.atomic import write_atomically
from harness.cli.output import printable, table
from harness.cli.paths import writable_file
from harness.errors import UsageError
from harness.report import objectives as formats
from harness.session.checks import Check, check_run


def check(args: argparse.Namespace) -> int:
    """Print the verdicts, write the files asked for; 0 all pass, 1 otherwise."""
    targets = {flag: writable_file(Path(value), f"--{flag}")
               for flag, value in (("junit", args.junit), ("markdown", args.markdown)) if value}
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY") if args.github else None
    result = check_run(Path(args.folder), args.at)
    if args.notify and result.at > result.latest:
        # Alert state moves forward only: judging (and recording) a later moment would leave
        # every real round until then deciding nothing.
        raise UsageError(f"--notify --at {result.at.isoformat()}: later than the run has got "
                         f"({result.latest.isoformat()}); alerts are sent for moments the run "
                         "has reached")
    if args.notify:
        from harness.cli.alerts import notify

        notify(Path(args.folder), result)
    verdicts = result.verdicts
    title = result.title or result.run
    if "junit" in targets:
        _write(targets["junit"], formats.junit_xml(result.run, verdicts,
                                                   simulated=result.simulated, seed=result.seed))
    summary = formats.markdown(title, verdicts, simulated=result.simulated, seed=result.seed)
    if "markdown" in targets:
        _write(targets["markdown"], summary)
    if args.format == "json":
        print(json.dumps(_as_json(result), indent=2, ensure_ascii=False))
    else:
        _print_table(result)
    if args.github:
        for line in formats.github_annotations(verdicts):
            print(line)
        if summary_file:
            try:
                with open(summary_file, "a", encoding="utf-8") as out:
                    out.write(summary)
            except OSError as exc:
                raise UsageError(f"GITHUB_STEP_SUMMARY {summary_file}: cannot append: "
                                 f"{exc.strerror or exc}") from None
    return 0 if all(v.passed for v in verdicts) else 1


def _write(path: Path, text: str) -> None:
    try:
        write_atomically(path, text)
    except OSError as exc:
        raise UsageError(f"{path}: cannot write: {exc.strerror or exc}") from None


def _print_table(result: Check) -> None:
    if result.simulated:
        print(f"{formats.SIMULATED_NOTE} (seed {result.seed}).")
    print(f"{printable(result.title or result.run)}: objectives judged at "
          f"{result.at.isoformat()}\n")
    rows = []
    for v in result.verdicts:
        ci = f"{v.interval[0]:.0%}-{v.interval[1]:.0%}" if v.interval else "-"
        share = f"{v.share:.0%}" if v.share is not None else "-"
        rows.append((printable(v.objective), printable(v.brand), v.status.upper(),
                     f"{v.good}/{v.decided}", share, ci, f"{v.target:.0%}",
                     str(v.pending), str(v.muted)))
    print(table(("objective", "brand", "result", "good", "share", "95% CI", "target",
                 "pending", "muted"), rows, "lllrrrrrr"))
    print()
    for v in result.verdicts:
        print(f"{printable(v.objective)} / {printable(v.brand)}: {formats.evidence(v)}")
        if v.warning:
            print(f"  early warning: {v.warning}")
    failing = sum(1 for v in result.verdicts if not v.passed)
    print(f"\n{len(result.verdicts) - failing} of {len(result.verdicts)} pass"
          + (f"; {failing} do not (fail or insufficient): exit 1" if failing else ""))


def _as_json(result: Check) -> dict[str, object]:
    return {
        "run": result.run, "simulated": result.simulated,
        "seed": result.seed if result.simulated else None, "at": result.at.isoformat(),
        "passed": all(v.passed for v in result.verdicts),
        "verdicts": [{
            "objective": v.objective, "brand": v.brand, "status": v.status, "good": v.good,
            "decided": v.decided, "pending": v.pending, "muted": v.muted,
            "share": v.share, "interval": list(v.interval) if v.interval else None,
            "target": v.target, "straddles": v.straddles, "indicator": v.indicator,
            "rule": v.rule, "reason": v.reason, "warning": v.warning,
            "window_start": v.window_start.isoformat() if v.window_start else None,
            "not_good": list(v.bad_probes),
        } for v in result.verdicts],
    }
