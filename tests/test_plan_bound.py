"""A plan's size is counted from the scenario before anything is expanded: above the limit
(1,000,000 probes unless --max-probes says otherwise) validation refuses, naming the fields that
multiply, and nothing is written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import ScenarioError
from harness.plan.expand import build_plan
from harness.plan.size import MAX_PROBES, plan_size
from harness.session.scenarios import load_scenario, load_scenario_text

from .conftest import REPLAY, ROOT, SMALL

HEAD = """\
name: big
x-b: &b {industry: Retail, handles: {x: ["@A"]}}
personas:
  - {id: ana, name: Ana, accounts: {x: "@ana"}}
channels:
  - {id: x, adapter: simulated, platform: x}
categories:
  - {id: q, label: Q, templates: ["{{ mention }} hi"]}
schedule:
  start: 2024-01-01
  weeks: 520
  weekdays: [mon, tue, wed, thu, fri, sat, sun]
  messages_per_brand_per_day: 100
  send_window: {start: "00:00", end: "23:59"}
  observation_window: 1d
design: {type: replay, mentions: [at]}
brands:
"""
# 60 brands through one alias: a 4 KB file, 21,840,000 probes
MULTIPLIED = HEAD + "".join(f"  - {{<<: *b, id: b{i}, name: B{i}}}\n" for i in range(60))


def test_a_plan_over_the_limit_is_refused_naming_what_multiplies() -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario_text(MULTIPLIED, "big.yaml")
    [problem] = caught.value.problems
    assert (problem.file, problem.line, problem.column, problem.path) == (
        "big.yaml", 9, 1, "schedule")
    assert problem.message.startswith("the plan would have 21,840,000 probes, over the limit "
                                      "of 1,000,000: 60 brands x 3,640 sending days")
    assert "x 100 schedule.messages_per_brand_per_day" in problem.message
    assert "--max-probes" in problem.message


def test_validate_and_run_refuse_it_quickly_and_small_writing_nothing(tmp_path: Path) -> None:
    scenario = tmp_path / "big.yaml"
    scenario.write_text(MULTIPLIED, encoding="utf-8")
    # The peak of this very process (VmHWM starts afresh at exec; ru_maxrss would carry the
    # parent's peak from the fork on Linux).
    probe = ("import re, sys\nfrom harness.cli import main\ncode = main(sys.argv[1:])\n"
             "status = open('/proc/self/status').read()\n"
             "print(re.search(r'VmHWM:\\s+(\\d+) kB', status)[1])\nsys.exit(code)\n")
    for command in (["validate", str(scenario)],
                    ["run", str(scenario), "--simulate", "--out", str(tmp_path / "run")],
                    ["race", str(scenario), "--out", str(tmp_path / "race")]):
        result = subprocess.run([sys.executable, "-c", probe, *command], capture_output=True,
                                text=True, timeout=60, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert "21,840,000 probes" in result.stderr and "Traceback" not in result.stderr
        assert int(result.stdout.split()[-1]) < 300_000, "peak memory (KB) stays small"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.yaml"], "nothing written"


def test_max_probes_moves_the_limit_both_ways(small_file: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    probes = plan_size(load_scenario(small_file)).probes
    assert main(["validate", str(small_file), "--max-probes", str(probes)]) == 0
    assert f"{probes} probes" in capsys.readouterr().out
    assert main(["validate", str(small_file), "--max-probes", str(probes - 1)]) == 2
    assert f"over the limit of {probes - 1}" in capsys.readouterr().err
    assert main(["plan", str(small_file), "--max-probes", str(probes - 1)]) == 2


QA_SCENARIOS = sorted((ROOT / "scenarios").glob("qa-*.yaml"))


@pytest.mark.parametrize("text", [SMALL, REPLAY.read_text(encoding="utf-8"),
                                  *(p.read_text(encoding="utf-8") for p in QA_SCENARIOS)],
                         ids=["small", "replay", *(p.stem for p in QA_SCENARIOS)])
def test_the_counted_size_is_the_expanded_size(text: str) -> None:
    scenario = load_scenario_text(text, "s.yaml")
    assert plan_size(scenario).probes == len(build_plan(scenario)) <= MAX_PROBES


@pytest.mark.parametrize("seed", ["-1", str(2**63), "many"])
def test_a_seed_the_scenario_file_could_not_hold_is_a_usage_error(
        seed: str, small_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for command in (["plan", str(small_file)],
                    ["run", str(small_file), "--simulate", "--out", str(tmp_path / "r")]):
        with pytest.raises(SystemExit) as stopped:
            main([*command, "--seed", seed])
        assert stopped.value.code == 2
        assert "--seed" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
