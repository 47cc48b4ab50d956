"""`shopper power SCENARIO`: how often the scenario's verdicts would be right."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.cli.output import table
from harness.cli.paths import writable_file
from harness.errors import UsageError
from harness.report.files import write_json


def power(args: argparse.Namespace) -> int:
    """Simulate the design, judge every replicate, print the diagnosands."""
    from harness.session.power import record, run_power, write_chart
    from harness.session.scenarios import load_scenario

    target = None
    if args.chart:
        target = writable_file(Path(args.chart), "--chart")
        if target.suffix.lower() not in (".png", ".svg"):
            raise UsageError(f"--chart {target}: the chart file must end in .png or .svg")
    scenario = load_scenario(args.scenario, seed=args.seed)
    shown = not args.quiet and sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        if shown:
            print(f"\rpower: {done:,}/{total:,} replicates", end="" if done < total else "\n",
                  file=sys.stderr, flush=True)

    sweep = run_power(scenario, replicates=args.replicates, alpha=args.alpha, vary=args.vary,
                      progress=progress)
    if target is not None:
        write_chart(sweep, target)
    if args.format == "json":
        write_json(record(sweep), sys.stdout)
    else:
        _print_tables(sweep)
    if target is not None:
        print(f"chart: {target}", file=sys.stderr)
    return 0


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _share(value: float | None, se: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" + (f"±{se:.2f}" if se else "")


def _print_tables(sweep: object) -> None:
    from harness.session.power import Sweep

    assert isinstance(sweep, Sweep)
    out = sys.stdout
    for value, result in zip(sweep.values or (None,), sweep.results, strict=True):
        heading = f"{result.scenario}: {result.probes} probes, {result.replicates:,} " \
                  f"replicates, alpha {result.alpha:g} (Holm over {len(result.matchups)} " \
                  f"matchups), seed {result.seed}"
        if sweep.key is not None:
            heading += f"; {sweep.key} = {value}"
        rows = []
        for m in result.matchups:
            rows.append((
                " vs ".join(m.brands), "/".join(str(n) for n in m.probes),
                "/".join(_pct(r) for r in m.true_rates), m.true_leader or "(equal)",
                _share(m.rate_power, result.standard_error(m.rate_power)),
                _share(m.rate_false_winner, None), _pct(m.smallest_detectable),
                f"{m.interval_width:.2f}" if m.interval_width is not None else "-",
                _pct(m.coverage), f"{m.bias:+.3f}" if m.bias is not None else "-",
                _pct(m.speed_compared),
                _share(m.speed_power, result.standard_error(m.speed_power)),
                _share(m.speed_false_winner, None)))
        out.write(heading + "\n" + table(
            ("matchup", "probes", "true rates", "true leader", "power", "false win",
             "MDE80", "CI width", "coverage", "bias", "speed cmp", "speed power",
             "speed false"), rows, "lrrlrrrrrrrrr") + "\n")
        mention = result.mention
        if mention is not None:
            out.write(f"mention effect (at vs name, all brands, Fisher at {result.alpha:g}): "
                      f"true rates {_pct(mention.true_rates[0])} vs "
                      f"{_pct(mention.true_rates[1])} over {mention.probes[0]}/"
                      f"{mention.probes[1]} probes; power "
                      f"{_share(mention.power, result.standard_error(mention.power))}, "
                      f"false {mention.false_rate:.2f}\n")
        out.write(f"any false winner in the family: rate {result.rate_any_false_winner:.3f}, "
                  f"speed {result.speed_any_false_winner:.3f}\n")
        weak = [m for m in result.matchups if m.rate_power is not None and m.rate_power < 0.8]
        if weak:
            out.write(f"{len(weak)} of {len(result.matchups)} matchups have power under 0.8 "
                      "on response rate.\n")
        out.write("\n")
    out.write("power: share of replicates naming the true leader; false win: naming a winner "
              "when the top two are equal, or the wrong one; MDE80: smallest difference over "
              "the true runner-up found with 80% power (exact, Fisher at alpha/matchups); "
              "coverage and width: the Newcombe 95% interval of the reported difference; "
              "bias: its mean error. See docs/power.md.\n")
