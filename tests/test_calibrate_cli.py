"""`shopper calibrate DIR -o FILE.yaml`, run as users run it: what it writes, and what it
refuses (exit 2, one line, no traceback) before writing anything."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.scenario.model import Scenario
from harness.session.calibration import read_profiles
from harness.session.runs import simulate
from tests.simrun import run_in_process


def shopper(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m harness ARGS`."""
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True,
                          text=True, timeout=120)


def _refused(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for word in words:
        assert word in result.stderr


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from harness.session.scenarios import load_scenario_text
    from tests.conftest import SMALL

    folder = tmp_path_factory.mktemp("calibrate-cli") / "run"
    assert simulate(load_scenario_text(SMALL, "small.yaml"), folder, say=lambda _: None).finished
    return folder


def test_it_explains_itself() -> None:
    result = shopper("calibrate", "--help")
    assert result.returncode == 0
    assert "usage: shopper calibrate" in result.stdout and "-o" in result.stdout


def test_it_writes_profiles_that_load_back(finished: Path, tmp_path: Path) -> None:
    out = tmp_path / "deeper" / "profiles.yaml"
    result = shopper("calibrate", str(finished), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert str(out) in result.stdout
    assert "fast:" in result.stderr and "mute:" in result.stderr
    profiles = read_profiles(out.read_text(encoding="utf-8"), str(out))
    assert set(profiles) == {"fast", "slow", "mute", "bank"}
    assert profiles["mute"].reply == {"at": 0.0, "name": 0.0}
    assert profiles["fast"].reply["at"] > profiles["fast"].reply["name"]
    assert not list(out.parent.glob(".*partial"))


def test_a_missing_folder_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "p.yaml"
    _refused(shopper("calibrate", str(tmp_path / "nowhere"), "-o", str(out)), "no run here")
    assert not out.exists()


def test_an_unfinished_run_is_refused(small_scenario: Scenario, tmp_path: Path) -> None:
    folder = tmp_path / "run"
    assert not run_in_process(small_scenario, folder, stop_after_ticks=3)
    out = tmp_path / "p.yaml"
    _refused(shopper("calibrate", str(folder), "-o", str(out)), "not finished")
    assert not out.exists()


@pytest.mark.parametrize("where", ["folder", "under_a_file"])
def test_an_output_that_cannot_be_written_is_refused(finished: Path, tmp_path: Path,
                                                     where: str) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file\n", encoding="utf-8")
    out = tmp_path if where == "folder" else blocker / "p.yaml"
    _refused(shopper("calibrate", str(finished), "-o", str(out)), "-o")
    assert blocker.read_text(encoding="utf-8") == "a file\n"


def test_the_output_is_required(finished: Path) -> None:
    result = shopper("calibrate", str(finished))
    assert result.returncode == 2 and "Traceback" not in result.stderr
