"""`shopper calibrate DIR -o FILE.yaml`: fit each brand's `simulate:` profile from a finished
run and write the profiles file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.atomic import write_atomically
from harness.cli.paths import writable_file
from harness.durations import format_duration
from harness.errors import UsageError


def calibrate(args: argparse.Namespace) -> int:
    """Fit, write the profiles file, and say in one line per brand what came out."""
    from harness.session.calibration import calibrate_folder, profiles_yaml

    target = writable_file(Path(args.output), "-o")
    calibration = calibrate_folder(Path(args.folder))
    text = profiles_yaml(calibration)
    try:
        write_atomically(target, text)
    except OSError as exc:
        raise UsageError(f"-o {target}: cannot write: {exc.strerror or exc}") from None
    for brand in calibration.brands:
        rates = ", ".join(f"{mode} {e.k}/{e.n}" for mode, e in brand.reply.items())
        latency = (f"median delay {format_duration(brand.latency.median.value)}"
                   if brand.latency is not None else "no replies")
        print(f"{brand.brand}: {rates}; {latency}; off_hours {brand.hours.policy[0]}, "
              f"weekends {brand.hours.policy[1]}", file=sys.stderr)
    print(f"{target}: {len(calibration.brands)} brand profiles")
    return 0
