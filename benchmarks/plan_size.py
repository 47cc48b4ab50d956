"""Planning time and peak memory at 100,000 and 1,000,000 probes (the default plan limit), and
the cost of refusing a plan over the limit.

Usage: python benchmarks/plan_size.py [--sizes 100000,1000000]

Each size runs in a fresh child process: a generated scenario (N/200 brands x 40 sending days
x 5 messages a day) is loaded and checked (`load_s`, which counts the plan without expanding
it), then expanded (`plan_s`); `peak_rss_mb` is the child's peak. `refused` loads a 21,840,000-
probe scenario (60 brands x 520 weeks x 7 days x 100 a day), which validation refuses from its
count alone. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = """
import re, sys, time
from harness.errors import ScenarioError
from harness.plan.expand import build_plan
from harness.session.scenarios import load_scenario_text

def peak_mb():
    # this process's own peak (VmHWM starts afresh at exec; ru_maxrss keeps the parent's)
    return round(int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read())[1]) / 1024)

brands, weeks, days, per_day, limit = (int(a) for a in sys.argv[1:6])
weekdays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][:days]
text = f'''name: size
x-b: &b {{industry: Retail, handles: {{x: ["@A"]}}}}
personas:
  - {{id: ana, name: Ana, accounts: {{x: "@ana"}}}}
channels:
  - {{id: x, adapter: simulated, platform: x}}
categories:
  - {{id: q, label: Q, templates: ["{{{{ mention }}}} hi"]}}
schedule:
  start: 2024-01-01
  weeks: {weeks}
  weekdays: {weekdays}
  messages_per_brand_per_day: {per_day}
  send_window: {{start: "08:00", end: "20:00"}}
  observation_window: 1d
design: {{type: replay, mentions: [at]}}
brands:
''' + "".join(f"  - {{<<: *b, id: b{i}, name: B{i}}}\\n" for i in range(brands))
started = time.perf_counter()
try:
    scenario = load_scenario_text(text, "size.yaml", max_probes=limit)
except ScenarioError as exc:
    print({"refused": True, "load_s": round(time.perf_counter() - started, 3),
           "problem": str(exc.problems[0].message)[:80],
           "peak_rss_mb": peak_mb()})
    sys.exit(0)
loaded = time.perf_counter()
probes = build_plan(scenario)
planned = time.perf_counter()
print({"refused": False, "probes": len(probes), "load_s": round(loaded - started, 3),
       "plan_s": round(planned - loaded, 2),
       "peak_rss_mb": peak_mb()})
"""


def _child(brands: int, weeks: int, days: int, per_day: int, limit: int) -> object:
    result = subprocess.run([sys.executable, "-c", CHILD, str(brands), str(weeks), str(days),
                             str(per_day), str(limit)], capture_output=True, text=True,
                            check=True)
    import ast

    return ast.literal_eval(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    sizes = [int(s) for s in parser.parse_args().sizes.split(",")]
    results: dict[str, object] = {}
    for size in sizes:
        print(f"planning {size:,} probes...", file=sys.stderr)
        results[f"{size}"] = _child(size // 200, 8, 5, 5, max(size, 1_000_000))
    print("refusing 21,840,000 probes...", file=sys.stderr)
    results["refused_21840000"] = _child(60, 520, 7, 100, 1_000_000)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
