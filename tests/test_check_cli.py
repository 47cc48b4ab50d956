"""`shopper check` as a CI job runs it: exit codes, JUnit XML a real consumer reads, Markdown,
GitHub Actions' annotations and step summary."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import junitparser
import pytest
import xmlschema

from .conftest import SMALL

XSD = Path(__file__).parent / "data" / "junit-10.xsd"

OBJECTIVES = """\
objectives:
  - name: fast-answers
    brands: [fast]
    indicator: {kind: response_rate}
    target: 10%
  - name: "urgent <b>&</b> | quick"
    brands: [mute, fast]
    indicator: {kind: replied_within, within: 1h}
    target: 0.5
"""


def shopper(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True,
                          text=True, timeout=120, env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("check")
    scenario = base / "watch.yaml"
    scenario.write_text(SMALL + OBJECTIVES, encoding="utf-8")
    out = base / "run"
    done = shopper("run", str(scenario), "--simulate", "--out", str(out))
    assert done.returncode == 0, done.stderr
    return out


def test_a_failing_objective_exits_1_and_the_table_gives_the_evidence(run_folder: Path) -> None:
    result = shopper("check", str(run_folder))
    assert result.returncode == 1, result.stderr
    out = result.stdout
    assert out.startswith("SIMULATED: brand behaviour models on a virtual clock")
    # Mute Inc never answers: 0 of all its decided probes, a fail with its interval from 0%.
    mute = next(line for line in out.splitlines() if "urgent" in line and "mute" in line
                and "FAIL" in line)
    assert " 0/" in mute and " 0%-" in mute
    assert "fast-answers / fast: " in out and "pass" in out.lower()
    assert "do not (fail or insufficient): exit 1" in out


def test_junit_is_valid_against_the_xsd_and_agrees_with_the_exit_code(run_folder: Path,
                                                                     tmp_path: Path) -> None:
    target = tmp_path / "checks.xml"
    result = shopper("check", str(run_folder), "--junit", str(target), "--format", "json")
    verdicts = json.loads(result.stdout)["verdicts"]
    xmlschema.XMLSchema(XSD).validate(target)
    xml = junitparser.JUnitXml.fromfile(str(target))
    suites = list(xml) if isinstance(xml, junitparser.JUnitXml) else [xml]
    cases = [case for suite in suites for case in suite]
    assert len(cases) == len(verdicts) == 3
    failed = [case for case in cases if not case.is_passed]
    assert len(failed) == sum(1 for v in verdicts if v["status"] != "pass") >= 1
    assert (result.returncode == 1) == bool(failed)
    mute = next(case for case in cases if case.name == "mute")
    assert mute.classname == "urgent <b>&</b> | quick"  # escaped by the writer, read back whole
    assert mute.result[0].type == "fail" and "0/" in mute.result[0].message
    properties = {p.name: p.value for p in suites[0].properties()}  # type: ignore[no-untyped-call]
    assert properties["simulated"] == "true" and properties["seed"] == "7"


def test_markdown_and_github_outputs(run_folder: Path, tmp_path: Path) -> None:
    summary = tmp_path / "step-summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    markdown = tmp_path / "checks.md"
    result = shopper("check", str(run_folder), "--github", "--markdown", str(markdown),
                     env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert result.returncode == 1
    annotations = [line for line in result.stdout.splitlines() if line.startswith("::")]
    assert annotations and all(line.startswith(("::error ", "::warning ")) for line in annotations)
    mute = next(line for line in annotations if "(mute)" in line)
    # A colon or comma in a property would end it early: both are encoded.
    assert mute.startswith("::error title=urgent <b>&</b> | quick (mute)%3A fail::0/")
    text = markdown.read_text(encoding="utf-8")
    assert "urgent &lt;b&gt;&amp;&lt;/b&gt; \\| quick" in text and "❌ fail" in text
    assert "SIMULATED" in text
    assert summary.read_text(encoding="utf-8") == "earlier step\n" + text


def test_all_passing_exits_0_and_insufficient_exits_1(run_folder: Path, tmp_path: Path) -> None:
    for objectives, code, status in (
            (OBJECTIVES.split("  - name: \"urgent")[0], 0, "pass"),
            (OBJECTIVES.split("  - name: \"urgent")[0] + "    min_probes: 1000\n", 1,
             "insufficient")):
        scenario = tmp_path / f"watch-{code}.yaml"
        scenario.write_text(SMALL + objectives, encoding="utf-8")
        # Objectives do not shape a run: the same folder takes the edited ones.
        adopted = shopper("run", str(scenario), "--simulate", "--out", str(run_folder))
        assert adopted.returncode == 0, adopted.stderr
        assert "objectives, maintenance or alerts changed" in adopted.stderr
        result = shopper("check", str(run_folder), "--format", "json")
        assert result.returncode == code, result.stdout
        [verdict] = json.loads(result.stdout)["verdicts"]
        assert verdict["status"] == status


def test_bad_input_exits_2_without_writing(run_folder: Path, tmp_path: Path) -> None:
    bad_time = shopper("check", str(run_folder), "--at", "next tuesday")
    assert bad_time.returncode == 2 and "is not a moment" in bad_time.stderr
    folder_as_file = shopper("check", str(run_folder), "--junit", str(tmp_path))
    assert folder_as_file.returncode == 2 and "is a folder" in folder_as_file.stderr
    missing = shopper("check", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "no run here" in missing.stderr
    for result in (bad_time, folder_as_file, missing):
        assert "Traceback" not in result.stderr


def test_a_run_without_objectives_is_told_how_to_add_them(tmp_path: Path) -> None:
    scenario = tmp_path / "plain.yaml"
    scenario.write_text(SMALL, encoding="utf-8")
    shopper("run", str(scenario), "--simulate", "--out", str(tmp_path / "plain"))
    result = shopper("check", str(tmp_path / "plain"))
    assert result.returncode == 2 and "states no objectives" in result.stderr


def test_judging_at_a_moment_uses_only_what_was_known_then(run_folder: Path) -> None:
    early = shopper("check", str(run_folder), "--at", "2024-03-04T09:00:00+00:00",
                    "--format", "json")
    verdicts = json.loads(early.stdout)["verdicts"]
    assert all(v["decided"] == 0 and v["status"] == "insufficient" for v in verdicts)
    assert early.returncode == 1


def test_moments_out_of_range_and_alerts_for_the_future_are_refused(run_folder: Path) -> None:
    for at in ("0001-01-01", "9999-12-31T23:59-12:00"):
        result = shopper("check", str(run_folder), "--at", at)
        assert result.returncode == 2 and "between the years" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    future = shopper("check", str(run_folder), "--notify", "--at", "2030-01-01T00:00Z")
    assert future.returncode == 2 and "later than the run has got" in future.stderr
