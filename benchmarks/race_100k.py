"""Benchmark: a 100,000-probe race through the real runner, in simulation.

Generates a large scenario in memory (default 5,000 brands x 4 weeks x 5 weekdays x 1 message
= 100,000 probes; 4 personas, 5 categories, one simulated channel on platform x, per-brand
`simulate:` profiles so that roughly a fifth of the probes get a reply, a follow-up on the
`technical` category), loads it with ``load_scenario_text``, runs it with
``harness.session.runs.simulate`` exactly as ``shopper run --simulate`` does, and prints one JSON
object with the timings, the peak memory, and the "floor": the time SQLite needs to insert the
same rows into bare tables in a single transaction.

    python benchmarks/race_100k.py [--brands N] [--out DIR]

Phases and what each figure means:

- ``gen_s``: building the YAML text (not part of ``wall_s``).
- ``load_s``: ``load_scenario_text`` (YAML parse, model validation, cross-checks including the
  render of every template for every persona x brand x mention mode).
- ``run_s``: ``simulate(scenario, folder)``: builds the plan again, creates the
  store with it, and runs the race on a virtual clock until every probe is closed.
- ``plan_s``: ``build_plan(scenario)`` alone, timed *after* the run so that its memory does not
  pollute the peak; it is a breakdown of ``run_s`` (simulate plans again), not an extra phase.
- ``wall_s`` = ``load_s + run_s``: what ``shopper run --simulate`` spends after start-up.
- ``peak_rss_mb``: ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` taken right after the run, so
  it covers generation, load and run (and not the floor or the standalone plan). tracemalloc is
  deliberately not used: it would slow the run several times over and count only Python objects.
- ``floor_s``: the best of three tries, each in a fresh SQLite file with the store's
  simulated-run pragmas (WAL, ``synchronous=OFF``), of one transaction that creates three
  bare tables (same columns as
  ``probes``, ``sends`` and ``replies`` in ``harness/store/schema.sql``, but no keys, no
  constraints and no indexes) and inserts, with ``executemany``, the same rows the run left
  in those tables: every probe, every send attempt (follow-ups included) and every reply.
  The rows are read from the finished run's store before the clock starts; the timing covers
  connect, create, insert, commit and close.
- ``ratio_to_floor`` = ``wall_s / floor_s`` (load, plan and run: the whole run);
  ``run_ratio_to_floor`` = ``run_s / floor_s`` (plan and run, the scenario already loaded).
  Targets: the whole run at most 30x the floor, and peak RSS under 500 MB.

With ``--out DIR`` the scenario (``race-100k.yaml``), the run folder (``run/``), the floor
database (``floor.sqlite``) and the JSON (``result.json``) are kept in DIR; otherwise everything
lives in a temporary directory that is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import platform as python_platform
import random
import resource
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from harness.plan.expand import build_plan
from harness.session.runs import simulate
from harness.session.scenarios import load_scenario_text
from harness.store.sqlite import STORE_FILE

TARGET_RATIO = 30
TARGET_PEAK_MB = 500
SEED = 2024
WEEKS = 4
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]
CHANNEL = "x"

PERSONAS = [
    ("alex", "Alex", "@alex_asks", 410),
    ("blair", "Blair", "@blairbuys", 1250),
    ("casey", "Casey", "@casey_c", 180),
    ("devon", "Devon", "@devon_dials", 690),
]

INDUSTRIES = [
    "Fast food", "Soft drinks", "Credit cards", "Banking", "Retail", "Consumer tech",
    "Personal care", "Airlines", "Hotels", "Telecom", "Insurance", "Car rental", "Streaming",
    "Grocery", "Apparel", "Sportswear", "Furniture", "Electronics", "Pharmacy", "Utilities",
    "Delivery", "Ride hailing", "Coffee", "Cosmetics", "Toys",
]
NAME_HEADS = [
    "Northwind", "Bluebird", "Summit", "Harbor", "Evergreen", "Redwood", "Lighthouse", "Granite",
    "Silverline", "Maple", "Horizon", "Copperleaf", "Riverside", "Brightside", "Ironwood",
    "Sunset", "Keystone", "Pioneer", "Oakridge", "Starling", "Crescent", "Meridian", "Cobalt",
    "Juniper", "Falcon", "Highland", "Pinnacle", "Driftwood", "Aurora", "Beacon",
]
NAME_TAILS = [
    "Foods", "Bank", "Air", "Mobile", "Outfitters", "Market", "Motors", "Labs", "Coffee",
    "Pharmacy", "Home", "Wireless", "Insurance", "Hotels", "Goods", "Supply", "Energy",
    "Express", "Beauty", "Toys",
]
TIMEZONES = ["America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"]
LATENCIES = ["10m", "25m", "45m", "1h30m", "3h", "6h", "12h", "24h"]
REPLY_TEXTS = [
    ["Sorry to hear this. Please share details on our website so we can look into it."],
    ["Thanks for reaching out! We'd love to hear more, please DM us."],
    ["Hey! Thanks for the shout. Let us know how we can help.",
     "We hear you! Send us a DM with the details."],
    ["Thanks for reaching out. Please contact the branch that handled your order."],
    ["We're sorry for the trouble. Please follow us and DM your details so we can help."],
    ["We're here to help. Please DM us (no account numbers) and we'll look into it.",
     "Thanks for letting us know! Is there anything we can help with?"],
    ["Thanks for your feedback. We've passed it along to the store."],
    ["Sorry about that! Can you email us your order number so we can make it right?"],
]

HEADER = """\
# Generated by benchmarks/race_100k.py: {brands} brands x {weeks} weeks x {days} weekdays x 1
# message = {probes} probes. Per-brand simulate profiles are drawn from a seeded generator so
# that roughly a fifth of the probes get a reply. Names, handles and texts are invented.

name: race-100k
title: Benchmark race ({brands} brands)
description: A large synthetic race for timing the runner in simulation.
seed: {seed}
timezone: America/Chicago

personas:
{personas}

channels:
  - {{id: {channel}, adapter: simulated, platform: x, poll_every: 5m}}

matchups: by_industry

categories:
  - id: urgent
    label: Urgent (point of purchase)
    templates:
      - "{{{{ mention }}}} I'm at the register right now and my card won't go through. Help?"
      - "Standing in line at {{{{ brand.name }}}}... does the deal in the ad apply in store?
        {{{{ mention if mention_mode == 'at' else '' }}}}"
  - id: positive
    label: Positive (thank you)
    templates:
      - "Just want to say thank you {{{{ mention }}}}, the staff today were fantastic!"
      - "Big thanks to {{{{ mention }}}} for making my day a little easier."
  - id: negative
    label: Negative (complaint)
    templates:
      - "Really disappointed with {{{{ mention }}}} today. Waited 40 minutes and nobody helped."
      - "Third time this month {{{{ mention }}}} got my order wrong. Not happy."
  - id: faq
    label: FAQ question
    templates:
      - "Quick question for {{{{ mention }}}}: what's your return policy without a receipt?"
      - "Hey {{{{ mention }}}}, do you have a store locator that shows opening hours?"
  - id: technical
    label: Technical (more than one interaction)
    templates:
      - "{{{{ mention }}}} your app keeps logging me out whenever I try to check out. Any fix?"
      - "Having trouble resetting my password on the {{{{ brand.name }}}} site.
        The link never arrives."
    follow_up:
      - after: 15m
        template: "Thanks! I tried that and it still does the same thing. What should I try next?"

schedule:
  start: 2024-03-04          # a Monday
  weeks: {weeks}
  weekdays: [{weekdays}]
  send_window: {{start: "09:00", end: "17:00"}}
  messages_per_brand_per_day: 1
  observation_window: 7d

design:
  type: replay
  mentions: [at, name]

# Shared pieces, referenced by the brands below.
x-texts:
{texts}
x-categories:
  - &negative_rarely {{negative: 0.3, urgent: 1.2, faq: 1.2, technical: 1.2}}
  - &urgent_first {{urgent: 1.5, positive: 0.6}}
  - &complaints_only {{negative: 1.6, positive: 0.4, faq: 0.8}}
  - &flat {{}}

brands:
"""


def scenario_yaml(brands: int, seed: int = SEED) -> str:
    """The scenario text: fixed sections, then one flow-style line per brand."""
    rng = random.Random(f"{seed}:benchmark")
    personas = "\n".join(
        f"  - {{id: {pid}, name: {name}, accounts: {{{CHANNEL}: \"{account}\"}}, "
        f"attributes: {{followers: {followers}}}}}"
        for pid, name, account, followers in PERSONAS)
    texts = "\n".join(
        f"  - &t{i} [{', '.join(json.dumps(t) for t in group)}]"
        for i, group in enumerate(REPLY_TEXTS))
    lines = [HEADER.format(brands=brands, weeks=WEEKS, days=len(WEEKDAYS),
                           probes=brands * WEEKS * len(WEEKDAYS), seed=seed,
                           personas=personas, channel=CHANNEL, weekdays=", ".join(WEEKDAYS),
                           texts=texts)]
    categories = ["negative_rarely", "negative_rarely", "urgent_first", "complaints_only", "flat"]
    for n in range(brands):
        head = NAME_HEADS[n % len(NAME_HEADS)]
        tail = NAME_TAILS[(n // len(NAME_HEADS)) % len(NAME_TAILS)]
        name = f"{head} {tail}" + (f" {n // 600 + 1}" if n >= 600 else "")
        handle = f"@{head}{tail}{n // 600 + 1 if n >= 600 else ''}"
        fields = [f"id: brand-{n:05d}", f"name: {name}",
                  f"industry: {INDUSTRIES[n % len(INDUSTRIES)]}",
                  f"handles: {{{CHANNEL}: \"{handle}\"}}"]
        if rng.random() < 0.4:
            fields.append(f"timezone: {rng.choice(TIMEZONES)}")
        roll = rng.random()
        if roll < 0.2:  # silent brand: never answers
            fields.append("simulate: {reply: {}}")
        else:
            at = round(rng.uniform(0.1, 0.65), 2)
            reply = f"at: {at}"
            if rng.random() < 0.5:
                reply += f", name: {round(rng.uniform(0.02, 0.2), 2)}"
            parts = [f"reply: {{{reply}}}", f"category: *{rng.choice(categories)}",
                     f"latency: {{median: {rng.choice(LATENCIES)}, "
                     f"spread: {round(rng.uniform(0.7, 1.2), 1)}}}"]
            if rng.random() < 0.25:
                parts.append("off_hours: queue")
            if rng.random() < 0.3:
                parts.append(f"direct_message: {round(rng.uniform(0.1, 0.4), 2)}")
            if rng.random() < 0.1:
                parts.append(f"email: {round(rng.uniform(0.05, 0.2), 2)}")
            if rng.random() < 0.05:
                parts.append("auto_ack: {probability: 1.0, after: 1m}")
            parts.append(f"texts: *t{rng.randrange(len(REPLY_TEXTS))}")
            fields.append(f"simulate: {{{', '.join(parts)}}}")
        lines.append(f"  - {{{', '.join(fields)}}}\n")
    return "".join(lines)


def peak_rss_mb() -> float:
    """The process's peak resident set size so far (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


# The floor's tables: the store's columns, as bare tables (no keys, constraints or indexes).
FLOOR_TABLES = {
    "probes": ("probe_id", "seq", "persona", "brand", "industry", "channel", "category",
               "mention", "week", "day", "scheduled_at", "text", "follow_ups", "closed_at"),
    "sends": ("probe_id", "step", "attempt", "state", "intended_at", "sent_at", "platform_id",
              "in_reply_to", "text", "error", "retry_at"),
    "replies": ("channel", "platform_id", "probe_id", "step", "matched_by", "author",
                "from_brand", "kind", "automated", "text", "created_at", "received_at",
                "in_reply_to", "raw"),
}


def floor_rows(store_path: Path) -> dict[str, list[tuple[object, ...]]]:
    """From the finished run: every row of its probes, sends and replies, as stored."""
    db = sqlite3.connect(f"file:{store_path}?mode=ro", uri=True)
    try:
        return {table: db.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall()
                for table, columns in FLOOR_TABLES.items()}
    finally:
        db.close()


def run_counts(store_path: Path) -> dict[str, int]:
    """Counts read straight from the run's store (not from the CLI's result object)."""
    db = sqlite3.connect(f"file:{store_path}?mode=ro", uri=True)
    query = {
        "sent": "SELECT COUNT(*) FROM sends WHERE step = 0 AND state = 'sent'",
        "follow_ups_sent": "SELECT COUNT(*) FROM sends WHERE step > 0 AND state = 'sent'",
        "brand_replies": "SELECT COUNT(*) FROM replies WHERE from_brand = 1 AND automated = 0",
        "answered_probes": "SELECT COUNT(DISTINCT probe_id) FROM replies WHERE from_brand = 1"
                           " AND automated = 0 AND probe_id IS NOT NULL",
        "reply_rows": "SELECT COUNT(*) FROM replies",
    }
    try:
        return {key: db.execute(sql).fetchone()[0] for key, sql in query.items()}
    finally:
        db.close()


def measure_floor(path: Path, rows: dict[str, list[tuple[object, ...]]]) -> float:
    """Seconds to insert ``rows`` into bare tables of a fresh file, in one transaction."""
    for leftover in path.parent.glob(path.name + "*"):
        leftover.unlink()
    start = time.perf_counter()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = OFF")
    db.execute("BEGIN IMMEDIATE")
    for table, columns in FLOOR_TABLES.items():
        db.execute(f"CREATE TABLE {table} ({', '.join(columns)})")
        db.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(columns))})",
                       rows[table])
    db.execute("COMMIT")
    db.close()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--brands", type=int, default=5000,
                        help="number of brands (probes = brands x 20); default 5000")
    parser.add_argument("--out", type=Path, default=None,
                        help="keep the scenario, run folder, floor database and JSON here "
                             "(default: a temporary directory, removed afterwards)")
    args = parser.parse_args(argv)
    if args.brands < 1:
        parser.error("--brands must be at least 1")

    if args.out is not None:
        base = args.out
        if (base / "run").exists() or (base / "floor.sqlite").exists():
            parser.error(f"{base} already holds a benchmark run; choose an empty --out")
        base.mkdir(parents=True, exist_ok=True)
    else:
        base = Path(tempfile.mkdtemp(prefix="race-100k-"))
    try:
        result = benchmark(args.brands, base)
        text = json.dumps(result, indent=2)
        if args.out is not None:
            (base / "result.json").write_text(text + "\n", encoding="utf-8")
        print(text)
    finally:
        if args.out is None:
            shutil.rmtree(base, ignore_errors=True)
    return 0


def benchmark(brands: int, base: Path) -> dict[str, object]:
    def note(message: str) -> None:
        print(f"[race_100k] {message}", file=sys.stderr, flush=True)

    start = time.perf_counter()
    source = scenario_yaml(brands)
    gen_s = time.perf_counter() - start
    scenario_path = base / "race-100k.yaml"
    scenario_path.write_text(source, encoding="utf-8")
    note(f"generated {len(source.encode()):,} bytes of YAML in {gen_s:.2f}s")

    start = time.perf_counter()
    scenario = load_scenario_text(source, str(scenario_path))
    load_s = time.perf_counter() - start
    note(f"loaded and validated in {load_s:.2f}s")

    folder = base / "run"
    start = time.perf_counter()
    outcome = simulate(scenario, folder, source=source, source_name=str(scenario_path))
    run_s = time.perf_counter() - start
    peak_mb = peak_rss_mb()
    counts = run_counts(folder / STORE_FILE)
    note(f"ran in {run_s:.2f}s: {counts['sent']:,} sent, {counts['brand_replies']:,} brand "
         f"replies, finished={outcome.finished}")

    start = time.perf_counter()
    plan = build_plan(scenario)
    plan_s = time.perf_counter() - start
    probes = len(plan)
    del plan
    note(f"planned (standalone, for the breakdown) in {plan_s:.2f}s")

    rows = floor_rows(folder / STORE_FILE)
    floor_s = min(measure_floor(base / "floor.sqlite", rows) for _ in range(3))
    note(f"floor: {sum(len(r) for r in rows.values()):,} rows in {floor_s:.3f}s")

    wall_s = load_s + run_s
    ratio = wall_s / floor_s
    return {
        "probes": probes,
        "brands": brands,
        "wall_s": round(wall_s, 3),
        "load_s": round(load_s, 3),
        "plan_s": round(plan_s, 3),
        "run_s": round(run_s, 3),
        "probes_per_s": round(probes / wall_s, 1),
        "peak_rss_mb": round(peak_mb, 1),
        "floor_s": round(floor_s, 3),
        "ratio_to_floor": round(ratio, 1),
        "run_ratio_to_floor": round(run_s / floor_s, 1),
        "replies": counts["brand_replies"],
        "target_ratio": TARGET_RATIO,
        "target_peak_mb": TARGET_PEAK_MB,
        "meets_targets": ratio <= TARGET_RATIO and peak_mb < TARGET_PEAK_MB,
        # Extra context for reading the figures above.
        "finished": outcome.finished,
        "sent": counts["sent"],
        "follow_ups_sent": counts["follow_ups_sent"],
        "answered_probes": counts["answered_probes"],
        "reply_rows": counts["reply_rows"],
        "floor_rows": {table: len(r) for table, r in rows.items()},
        "gen_s": round(gen_s, 3),
        "scenario_bytes": len(source.encode("utf-8")),
        "python": python_platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }


if __name__ == "__main__":
    sys.exit(main())
