"""`shopper power`: the exact figures, the vectorised tests against the verdicts' own, the
error rates under equal profiles, the command line, `--vary` and the warnings."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from harness.analysis.power import low_power_warnings, power_analysis
from harness.analysis.power_exact import probes_for_power, rate_power, smallest_detectable
from harness.analysis.power_tests import fisher_table, holm_rows, mann_whitney
from harness.analysis.rates import Rate
from harness.analysis.verdicts import holm, rate_p_value, speed_p_value
from harness.scenario.behaviour_model import ReplyClock
from harness.scenario.model import Brand
from harness.session.power import run_power
from harness.session.scenarios import load_scenario_text

ROOT = Path(__file__).resolve().parent.parent
REPLAY = ROOT / "scenarios" / "great-race-2013.yaml"


def scenario_text(rates: list[tuple[float, float]], *, industries: list[str] | None = None,
                  weeks: int = 4, mentions: str = "[at]") -> str:
    """Brands b0, b1, ... with reply chances (at, name); one category, one persona."""
    brands = "".join(textwrap.dedent(f"""\
        - id: b{i}
          name: Brand {i}
          industry: {industries[i] if industries else "Retail"}
          handles: {{x: ["@B{i}"]}}
          simulate:
            reply: {{at: {at}, name: {name}}}
            latency: {{median: 1h, spread: 1.0}}
        """) for i, (at, name) in enumerate(rates))
    return textwrap.dedent(f"""\
        name: power-test
        seed: 1
        timezone: UTC
        personas:
          - {{id: ana, name: Ana, accounts: {{x: "@ana"}}}}
        channels:
          - {{id: x, adapter: simulated, platform: x, poll_every: 5m}}
        categories:
          - {{id: q, label: Question, templates: ["{{{{ mention }}}} do you deliver?"]}}
        schedule: {{start: 2024-03-04, weeks: {weeks}, observation_window: 7d}}
        design: {{type: replay, mentions: {mentions}}}
        brands:
        """) + textwrap.indent(brands, "  ")


def test_the_issues_figures_exactly() -> None:
    # "With 20 messages per brand, the power to tell 35% from 10% is 0.36; 80% needs about
    # 49 per brand" (Fisher, alpha 0.05, no Holm).
    assert rate_power(0.35, 20, 0.10, 20, 0.05) == pytest.approx(0.36, abs=0.005)
    assert probes_for_power(0.35, 0.10, 0.05) == 49
    assert rate_power(0.35, 49, 0.10, 49, 0.05) >= 0.8 > rate_power(0.35, 48, 0.10, 48, 0.05)
    detectable = smallest_detectable(0.10, 20, 20, 0.05)
    assert detectable is not None
    assert rate_power(0.10 + detectable, 20, 0.10, 20, 0.05) == pytest.approx(0.8, abs=1e-6)


def test_the_issues_figure_by_simulation() -> None:
    scenario = load_scenario_text(scenario_text([(0.35, 0.0), (0.10, 0.0)]))
    result = power_analysis(scenario, 10_000)
    (only,) = result.matchups
    assert only.probes == (20, 20)
    assert only.true_leader == "b0"
    se = result.standard_error(only.rate_power)
    assert only.rate_power is not None and se is not None
    assert abs(only.rate_power - rate_power(0.35, 20, 0.10, 20, 0.05)) < 3 * se
    assert only.rate_false_winner < 0.002  # naming b1 would take a miracle
    assert only.coverage is not None and only.coverage > 0.93


def test_equal_profiles_name_false_winners_at_most_alpha() -> None:
    text = scenario_text([(0.3, 0.3)] * 14, industries=[f"I{i // 2}" for i in range(14)])
    result = power_analysis(load_scenario_text(text), 4000)
    assert len(result.matchups) == 7
    assert all(m.true_leader is None and m.rate_power is None for m in result.matchups)
    se = math.sqrt(0.05 * 0.95 / result.replicates)
    assert result.rate_any_false_winner <= 0.05 + 3 * se
    assert result.speed_any_false_winner <= 0.05 + 3 * se
    for m in result.matchups:
        assert abs(m.bias or 0.0) < 0.2  # the reported difference is the leader's: >= 0


def test_fisher_table_is_the_verdicts_fisher() -> None:
    for n1, n2 in ((20, 20), (7, 13), (1, 30)):
        table = fisher_table(n1, n2)
        for k1 in range(n1 + 1):
            for k2 in range(n2 + 1):
                expected = rate_p_value(Rate(k1, n1), Rate(k2, n2))
                assert table[k1, k2] == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_mann_whitney_is_the_verdicts_speed_test() -> None:
    rng = np.random.default_rng(3)
    rows = 600
    a = np.ceil(rng.lognormal(3, 1, (rows, 12)))
    b = np.ceil(rng.lognormal(3.3, 1, (rows, 9)))
    a[rng.random(a.shape) < 0.5] = np.nan
    b[rng.random(b.shape) < 0.4] = np.nan
    a[:10] = np.nan
    a[10:20], b[10:20] = 7.0, 7.0  # every value the same
    a[20:40, :4], b[20:40, :3] = 30.0, 30.0  # ties at the minimum
    p = mann_whitney(a, b)
    for row in range(rows):
        x, y = a[row][~np.isnan(a[row])], b[row][~np.isnan(b[row])]
        expected = speed_p_value(list(x), list(y), 1)
        if expected is None:
            assert np.isnan(p[row])
        else:
            assert p[row] == pytest.approx(expected, rel=1e-9, abs=1e-12), row


def test_holm_rows_is_the_verdicts_holm() -> None:
    rng = np.random.default_rng(4)
    p = rng.random((300, 7))
    p[rng.random(p.shape) < 0.3] = np.nan
    adjusted = holm_rows(p)
    for row in range(len(p)):
        expected = holm([None if np.isnan(v) else float(v) for v in p[row]])
        for want, got in zip(expected, adjusted[row], strict=True):
            assert (want is None and np.isnan(got)) or got == pytest.approx(want, abs=1e-12)


@pytest.mark.parametrize("policy", [{"off_hours": "queue"}, {"weekends": "queue"},
                                    {"weekends": "answer", "off_hours": "queue"}, {}])
def test_spans_are_the_reply_clock(policy: dict[str, str]) -> None:
    brand = Brand.model_validate({"id": "b", "name": "B", "industry": "I",
                                  "simulate": {"reply": {"at": 1.0}, **policy}})
    clock = ReplyClock(brand, "America/New_York")
    rng = np.random.default_rng(5)
    start = datetime(2024, 3, 7, tzinfo=UTC)  # a Thursday; clocks change on the 10th
    for _ in range(60):
        sent = start + timedelta(seconds=int(rng.integers(0, 5 * 86400)))
        until = sent + timedelta(days=3)
        spans = clock.spans(sent, until)
        capacity = sum(length for _, length in spans)
        work = float(rng.uniform(0, capacity)) if capacity else 0.0
        done = 0.0
        for offset, length in spans:
            if work <= done + length:
                moment = sent + timedelta(seconds=offset + work - done)
                break
            done += length
        else:
            continue
        assert abs((clock.replied_at(sent, timedelta(seconds=work)) - moment)
                   .total_seconds()) < 1e-3


def test_vary_replans_each_setting() -> None:
    scenario = load_scenario_text(scenario_text([(0.35, 0.0), (0.10, 0.0)]))
    sweep = run_power(scenario, replicates=1000, vary="weeks=2,8")
    assert sweep.key == "weeks" and sweep.values == (2, 8)
    small, large = (r.matchups[0] for r in sweep.results)
    assert small.probes == (10, 10) and large.probes == (40, 40)
    assert (small.rate_power or 0) < (large.rate_power or 0)


def test_low_power_warnings() -> None:
    from harness.session.scenarios import load_scenario

    lines = low_power_warnings(load_scenario(REPLAY))
    assert len(lines) == 7
    assert lines[0].startswith("matchup mcdonalds vs starbucks: power 0.0")
    strong = load_scenario_text(scenario_text([(0.9, 0.0), (0.05, 0.0)]))
    assert low_power_warnings(strong) == []


def _shopper(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)


def test_cli_json_and_chart(tmp_path: Path) -> None:
    chart = tmp_path / "power.svg"
    done = _shopper("power", str(REPLAY), "--replicates", "200", "--format", "json",
                    "--vary", "messages_per_brand_per_day=1,2", "--chart", str(chart))
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["vary"] == "messages_per_brand_per_day"
    assert [r["probes"] for r in data["results"]] == [280, 560]
    assert [r["setting"] for r in data["results"]] == [{"messages_per_brand_per_day": 1},
                                                       {"messages_per_brand_per_day": 2}]
    assert len(data["results"][0]["matchups"]) == 7
    assert chart.read_text(encoding="utf-8").lstrip().startswith("<?xml")


def test_cli_table(tmp_path: Path) -> None:
    done = _shopper("power", str(REPLAY), "--replicates", "100", "--seed", "3", "--chart",
                    str(tmp_path / "p.png"))
    assert done.returncode == 0, done.stderr
    assert "mcdonalds vs starbucks" in done.stdout
    assert "7 of 7 matchups have power under 0.8" in done.stdout
    assert (tmp_path / "p.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("args", [
    ["--vary", "brands_per_side=1,2"], ["--vary", "weeks=two"], ["--vary", "colour=1"],
    ["--vary", "weeks=0"], ["--alpha", "2"], ["--replicates", "0"], ["--chart", "x.pdf"],
    ["--vary", "weeks=600"],
])
def test_cli_bad_input_is_one_line(args: list[str]) -> None:
    done = _shopper("power", str(REPLAY), "--replicates", "10", *args)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(("shopper", "usage"))
    assert len([line for line in done.stderr.splitlines() if "error" in line or
                line.startswith("shopper:")]) == 1


def test_cli_missing_scenario() -> None:
    done = _shopper("power", "no-such-file.yaml")
    assert done.returncode == 2 and "Traceback" not in done.stderr


def test_plan_warns_of_low_power() -> None:
    done = _shopper("plan", str(REPLAY), "--format", "csv")
    assert done.returncode == 0
    warnings = [line for line in done.stderr.splitlines() if "power" in line]
    assert len(warnings) == 7 and all(w.startswith("shopper: warning: matchup ")
                                      for w in warnings)
