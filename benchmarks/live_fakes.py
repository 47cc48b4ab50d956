"""The small live race through every live adapter against its fake platform on loopback.

Usage: python benchmarks/live_fakes.py [--per-day N]

For each adapter (x, mastodon, bluesky, email): the race of tests/fakes/race.py (2 personas x 3
brands x 5 days, @ and name modes, a follow-up; ``--per-day`` probes per brand a day, default
1) on a virtual clock through the real SDK against the fake, in-process. Prints JSON per
adapter: wall time, probes sent, requests the fake served, polls, reads of mentions or
notifications per poll (min and max: the number of personas, whatever the number of open
probes), and whether the export was checked against what the fake brands did (with one probe
per brand a day; with more, a brand's direct messages, which carry no thread, are matched to
the persona's latest probe to that brand, as in a live run).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes.race import check_against_world, new_world, run_race  # noqa: E402

ADAPTERS = ("x", "mastodon", "bluesky", "email")


def measure(name: str, per_day: int, folder: Path) -> dict[str, object]:
    module = importlib.import_module(f"tests.fakes.fake_{name}")
    world = new_world(module.kit())
    with module.serve(world) as fake:
        started = time.perf_counter()
        result = run_race(fake.kit, world, folder, per_day=per_day)
        wall = time.perf_counter() - started
        reads = Counter(fake.read_times())
        served = len(fake.server.log) if hasattr(fake, "server") else None
    checked = per_day == 1
    if checked:  # with many probes a day, DMs (which carry no thread) match the newest probe
        check_against_world(fake.kit, world, folder, world_id=getattr(fake, "world_id", None))
    return {
        "adapter": name, "wall_s": round(wall, 2), "sent": result.sent,
        "planned": result.planned, "http_requests": served, "polls": len(reads),
        "reads_per_poll_min": min(reads.values()), "reads_per_poll_max": max(reads.values()),
        "export_checked_against_fake_brands": checked,  # and it matched: it raises otherwise
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-day", type=int, default=1)
    per_day = parser.parse_args().per_day
    with tempfile.TemporaryDirectory() as scratch:
        figures = [measure(name, per_day, Path(scratch) / name) for name in ADAPTERS]
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
