"""A design too small to tell its brands apart says so: `shopper validate` warns (and still
passes), and the report's page and its warnings carry the same lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.analysis.power import low_power_warnings
from harness.cli import main
from harness.session.reports import write_report
from harness.session.scenarios import load_scenario
from tests.conftest import ROOT
from tests.simrun import run_in_process

REPLAY = ROOT / "scenarios" / "great-race-2013.yaml"


def test_validate_warns_of_low_power_and_still_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(REPLAY)]) == 0
    captured = capsys.readouterr()
    assert ": ok (" in captured.out
    warned = [line for line in captured.err.splitlines() if "power" in line]
    assert len(warned) == len(low_power_warnings(load_scenario(REPLAY))) >= 6
    assert all(line.startswith(f"{REPLAY}: warning: matchup ") for line in warned)


def test_the_report_says_so(tmp_path: Path) -> None:
    scenario = load_scenario(REPLAY)
    folder = tmp_path / "run"
    assert run_in_process(scenario, folder)
    files = write_report(folder, folder / "report")
    notes = low_power_warnings(scenario)
    assert notes and files.power_notes == notes
    html = files.html.read_text(encoding="utf-8")
    assert "Too few messages to tell these brands apart" in html
    assert html.count("power 0.") >= len(notes)
    # the @ effect of a replay is never shown without its caveat, on the picture itself
    for name in ("response_rate_by_mention", "time_to_reply_by_mention"):
        svg = (folder / "report" / "charts" / f"{name}.svg").read_text(encoding="utf-8")
        assert "mention mode followed the calendar week" in svg, name
    assert "followed the calendar week" not in (
        folder / "report" / "charts" / "response_rate_by_brand.svg").read_text(encoding="utf-8")


def test_a_design_with_power_gives_no_warning() -> None:
    text = REPLAY.read_text(encoding="utf-8")
    big = text.replace("weeks: 4\n", "weeks: 40\n", 1)
    from harness.session.scenarios import load_scenario_text

    scenario = load_scenario_text(big, "big.yaml")
    lines = low_power_warnings(scenario, max_probes=10_000)
    # 200 messages a brand: Home Depot (32%) against silent Walmart is told apart
    assert not any("homedepot vs walmart" in line for line in lines)
    assert len(lines) < len(low_power_warnings(load_scenario(REPLAY)))
