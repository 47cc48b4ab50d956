"""Every file a simulated run writes says it is simulated, with its seed: the page, the poster,
each chart (PNG and SVG), summary.json, probes.csv, the export and `shopper chart`. A live
run's files say nothing of the kind."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from PIL import Image

from harness.cli import main
from harness.session.reports import write_report
from tests.fakes import fake_x
from tests.fakes.race import new_world, run_race
from tests.simrun import run_in_process

STAMP = "SIMULATED"


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from harness.session.scenarios import load_scenario_text
    from tests.conftest import SMALL

    folder = tmp_path_factory.mktemp("sim") / "run"
    # three weeks: long enough for the Trends section, whose charts are checked with the rest
    three_weeks = SMALL.replace("weeks: 2", "weeks: 3")
    assert run_in_process(load_scenario_text(three_weeks, "small.yaml"), folder)
    write_report(folder, folder / "report")
    return folder


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("live") / "run"
    world = new_world(fake_x.kit())
    with fake_x.serve(world) as fake:
        assert run_race(fake.kit, world, folder, days=1).finished
    write_report(folder, folder / "report")
    return folder


def _png_text(path: Path) -> str:
    with Image.open(path) as image:
        return " ".join(str(value) for value in image.info.values())


def test_every_file_of_a_simulated_run_says_so(simulated: Path) -> None:
    report = simulated / "report"
    html = (report / "report.html").read_text(encoding="utf-8")
    assert "SIMULATED: brand behaviour models on a virtual clock (seed 7)" in html
    assert "Times are the platforms' own timestamps" not in html
    summary = json.loads((report / "summary.json").read_text(encoding="utf-8"))
    assert summary["simulated"] is True and summary["scenario"]["seed"] == 7
    with (report / "probes.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and {row["simulated"] for row in rows} == {"true"}
    charts = sorted((report / "charts").iterdir())
    assert {p.suffix for p in charts} == {".png", ".svg"} and len(charts) >= 14
    assert {"trend_response_rate.svg", "trend_time_to_reply.png"} <= {p.name for p in charts}
    trends = json.loads((report / "trends.json").read_text(encoding="utf-8"))
    assert trends["simulated"] is True and trends["seed"] == 7
    for chart in charts:
        if chart.suffix == ".svg":
            text = chart.read_text(encoding="utf-8")
            assert f"{STAMP} (seed 7)" in text and "[simulated]" in text, chart.name
        else:
            assert "[simulated]" in _png_text(chart), chart.name
    assert f"{STAMP} (seed 7)" in _png_text(report / "infographic.png")


def test_the_export_and_a_single_chart_say_so(simulated: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "export.json"
    assert main(["export", str(simulated), "--format", "json", "-o", str(out)]) == 0
    assert {row["simulated"] for row in json.loads(out.read_text(encoding="utf-8"))} == {True}
    chart = tmp_path / "by_brand.svg"
    assert main(["chart", str(simulated), "--metric", "response_rate", "--by", "brand",
                 "--out", str(chart)]) == 0
    assert f"{STAMP} (seed 7)" in chart.read_text(encoding="utf-8")
    assert "[simulated]" in capsys.readouterr().out


def test_the_terminal_says_so(simulated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli.results import print_race

    print_race(simulated)
    assert "SIMULATED (seed 7)" in capsys.readouterr().out


def test_a_live_runs_files_do_not(live: Path) -> None:
    report = live / "report"
    html = (report / "report.html").read_text(encoding="utf-8")
    assert STAMP not in html and "Times are the platforms' own timestamps" in html
    assert json.loads((report / "summary.json").read_text(encoding="utf-8"))["simulated"] is False
    with (report / "probes.csv").open(encoding="utf-8", newline="") as handle:
        assert {row["simulated"] for row in csv.DictReader(handle)} == {"false"}
    for chart in (report / "charts").glob("*.svg"):
        assert STAMP not in chart.read_text(encoding="utf-8") and "[simulated]" not in \
            chart.read_text(encoding="utf-8")
    assert STAMP not in _png_text(report / "infographic.png")


def test_the_store_s_run_mode_decides() -> None:
    from harness.analysis.outcomes import is_simulated

    assert is_simulated({"run_mode": "simulated"}) and not is_simulated({"run_mode": "live"})
    assert is_simulated({})  # stores before 0.2 were all simulated
