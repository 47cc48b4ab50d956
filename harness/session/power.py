"""`shopper power`: a scenario's power, for its design as written or over a range of sizes.

Loads nothing itself (the CLI hands in the loaded scenario); re-plans each ``--vary`` setting,
runs :func:`harness.analysis.power.power_analysis` on it, and turns the results into records
(JSON), table rows and the power chart. Nothing is sent or written except the chart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from harness.analysis.power import PowerResult, power_analysis
from harness.analysis.power_exact import power_curve
from harness.errors import UsageError
from harness.plan.size import plan_size
from harness.scenario.model import Scenario, Schedule

VARY_KEYS = ("messages_per_brand_per_day", "weeks", "brands_per_side")
MAX_PROBES = 200_000
"""The largest plan drawn (a replicate holds every probe)."""


@dataclass(frozen=True)
class Sweep:
    """Power at each setting of one schedule field (``key`` None: the design as written)."""

    key: str | None
    values: tuple[int, ...]
    results: tuple[PowerResult, ...]


def parse_vary(text: str) -> tuple[str, tuple[int, ...]]:
    """``KEY=V1,V2,...`` as the key and its values; a UsageError saying what is wrong."""
    key, sep, values = text.partition("=")
    key = key.strip()
    if not sep or key not in VARY_KEYS:
        raise UsageError(f"--vary {text}: expected KEY=V1,V2 with KEY one of "
                         f"{', '.join(VARY_KEYS)}")
    if key == "brands_per_side":
        raise UsageError("--vary brands_per_side: a matchup in this scenario format is a list "
                         "of brands judged leader against runner-up, with no sides to add "
                         "brands to; vary messages_per_brand_per_day or weeks")
    try:
        numbers = tuple(int(v) for v in values.split(","))
    except ValueError:
        raise UsageError(f"--vary {text}: values must be whole numbers, comma-separated"
                         ) from None
    if not numbers or any(n < 1 for n in numbers):
        raise UsageError(f"--vary {text}: values must be at least 1")
    return key, numbers


def varied(scenario: Scenario, key: str, value: int) -> Scenario:
    """``scenario`` with its schedule's ``key`` set to ``value`` (checked as the file is)."""
    fields = scenario.schedule.model_dump()
    fields[key] = value
    try:
        schedule = Schedule.model_validate(fields)
    except ValidationError as exc:
        raise UsageError(f"--vary {key}={value}: {exc.errors()[0]['msg'].lower()}") from None
    changed = scenario.model_copy(update={"schedule": schedule})
    size = plan_size(changed).probes
    if size > MAX_PROBES:
        raise UsageError(f"--vary {key}={value}: {size:,} probes; power draws at most "
                         f"{MAX_PROBES:,}")
    return changed


def run_power(scenario: Scenario, *, replicates: int, alpha: float | None = None,
              seed: int | None = None, vary: str | None = None,
              progress: Callable[[int, int], None] | None = None) -> Sweep:
    """The power of ``scenario`` (or of each ``vary`` setting of it)."""
    if plan_size(scenario).probes > MAX_PROBES:
        raise UsageError(f"{scenario.name}: more than {MAX_PROBES:,} probes; too many to draw")
    if vary is None:
        settings: list[tuple[int | None, Scenario]] = [(None, scenario)]
        key = None
    else:
        key, values = parse_vary(vary)
        settings = [(v, varied(scenario, key, v)) for v in values]
    total = replicates * len(settings)
    results = []
    for number, (_, each) in enumerate(settings):
        def step(done: int, _: int, base: int = number * replicates) -> None:
            if progress is not None:
                progress(base + done, total)

        results.append(power_analysis(each, replicates, alpha=alpha, seed=seed,
                                      progress=step))
    return Sweep(key, tuple(v for v, _ in settings if v is not None), tuple(results))


def record(sweep: Sweep) -> dict[str, Any]:
    """The sweep as JSON-ready data."""
    entries = []
    for value, result in zip(sweep.values or (None,), sweep.results, strict=True):
        entry = asdict(result)
        if sweep.key is not None:
            entry["setting"] = {sweep.key: value}
        entries.append(entry)
    return {"vary": sweep.key, "results": entries}


def chart_lines(sweep: Sweep) -> tuple[dict[str, list[tuple[float, float]]], str]:
    """Per matchup, ``(probes per brand, power)`` points for the chart, and a note on where
    they come from: the simulated power at each ``--vary`` setting, or else the exact power
    of its two best brands' true rates over a range of sizes."""
    lines: dict[str, list[tuple[float, float]]] = {}
    if sweep.key is not None:
        for result in sweep.results:
            for m in result.matchups:
                if m.rate_power is not None:
                    lines.setdefault(" vs ".join(m.brands), []).append(
                        (float(min(m.probes)), m.rate_power))
        return lines, f"simulated ({sweep.results[0].replicates:,} replicates per point), " \
                      "Holm over the matchups"
    result = sweep.results[0]
    families = max(1, sum(1 for m in result.matchups if len(m.brands) >= 2))
    for m in result.matchups:
        if m.true_leader is None:
            continue
        top = sorted(m.true_rates, reverse=True)
        current = min(m.probes)
        sizes = sorted({*range(5, max(60, 3 * current) + 1, 5), current})
        lines[" vs ".join(m.brands)] = list(zip(
            (float(s) for s in sizes),
            power_curve(top[0], top[1], result.alpha / families, sizes), strict=True))
    return lines, (f"exact: Fisher's test at alpha/{families} (Holm's strictest step) for "
                   "the two best brands' true rates")


def write_chart(sweep: Sweep, target: Path) -> None:
    """Draw the power chart to ``target`` (.png or .svg), written whole or not at all."""
    from harness.atomic import replace_atomically
    from harness.report.power_chart import power_chart, save_power_chart

    image_format = target.suffix.lower()[1:]
    lines, note = chart_lines(sweep)
    drawn = power_chart(lines, title=f"Power of {sweep.results[0].scenario}'s matchups "
                        "(response rate)", note=note)
    try:
        replace_atomically(target, lambda staging: save_power_chart(drawn, staging,
                                                                    image_format))
    except OSError as exc:
        raise UsageError(f"--chart {target}: cannot write: {exc.strerror or exc}") from None
