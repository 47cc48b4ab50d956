"""The race report: complete, honest about denominators, self-contained, and inert to
whatever the brands wrote."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPLAY, SMALL
from .simrun import run_in_process

HOSTILE = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "{{ 7*7 }}"]


def shopper(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def race(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("race") / "run"
    result = shopper("race", str(REPLAY), "--out", str(folder), "-q")
    assert result.returncode == 0, result.stderr
    assert "Report:" in result.stdout
    return folder / "report"


@pytest.mark.slow
def test_race_writes_every_part_of_the_report(race: Path) -> None:
    for name in ("report.html", "infographic.png", "summary.json", "probes.csv"):
        assert (race / name).is_file() and (race / name).stat().st_size > 1000
    charts = sorted(p.name for p in (race / "charts").iterdir())
    stems = {p.rsplit(".", 1)[0] for p in charts}
    assert {f"{stem}.{suffix}" for stem in stems for suffix in ("png", "svg")} == set(charts)
    assert {"response_rate_by_brand", "time_to_reply_by_mention", "timeline"} <= stems
    assert len((race / "probes.csv").read_text(encoding="utf-8").splitlines()) == 281


@pytest.mark.slow
def test_poster_is_at_least_1080_pixels_wide(race: Path) -> None:
    header = (race / "infographic.png").read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(header[16:20], "big")
    assert width >= 1080


RATE_CELL = re.compile(r"(\d+)/(\d+) = (\d+)% \((\d+)%-(\d+)%\)")
"""A rate as the page shows it: k/n = p% (95% CI low%-high%)."""
FRACTION_CELL = re.compile(r"(\d+)/(\d+) = (\d+)%")
SHARE_CELL = re.compile(r"(\d+) of (\d+) replies = (\d+)%")


def _percent(k: int, n: int) -> str:
    return f"{k / n:.0%}".removesuffix("%")


@pytest.mark.slow
def test_page_shows_every_brand_with_its_k_of_n(race: Path) -> None:
    html = (race / "report.html").read_text(encoding="utf-8")
    summary = json.loads((race / "summary.json").read_text(encoding="utf-8"))
    board = html.split("<h2>Leaderboard</h2>", 1)[1].split("</tbody>", 1)[0]
    rows = re.findall(r'<tr><td class="num">(\d+=?)</td><td><bdi>([^<]*)</bdi></td>\s*'
                      r'<td class="num">([^<]*)</td>', board)
    assert len(rows) == len(summary["leaderboard"]) == 14
    for (place, name, cell), row in zip(rows, summary["leaderboard"], strict=True):
        assert name == row["name"].replace("'", "&#39;"), place
        assert place == f"{row['rank']}{'=' * row['tied']}"  # ties share a rank, marked
        shown = RATE_CELL.fullmatch(cell)
        assert shown, f"brand {row['name']}: {cell!r} is not k/n = p% (low%-high%)"
        k, n, pct, low, high = (int(g) for g in shown.groups())
        assert (k, n) == (row["k"], row["n"]), row["name"]
        assert str(pct) == _percent(k, n) == f"{row['rate']:.0%}".removesuffix("%")
        assert [f"{low}%", f"{high}%"] == [f"{bound:.0%}" for bound in row["ci95"]]
    # every percentage in the tables comes with its k/n, and agrees with it
    cells = re.findall(r'<td class="num">([^<]*%[^<]*)</td>', html)
    assert len(cells) > 14
    for cell in cells:
        shown = (RATE_CELL.fullmatch(cell) or FRACTION_CELL.fullmatch(cell)
                 or SHARE_CELL.fullmatch(cell))
        assert shown, f"{cell!r} is a percentage without its k and n"
        k, n, pct = (int(g) for g in shown.groups()[:3])
        assert 0 <= k <= n and str(pct) == _percent(k, n), cell
    assert "Share of all replies" in html and "of replies" in html
    head = summary["headline"]
    quick = head["answered_within_k"]["1h"]
    assert f"{quick}/{head['sent']} = {quick / head['sent']:.0%}" in html


@pytest.mark.slow
def test_page_is_self_contained_with_alt_text_everywhere(race: Path) -> None:
    html = (race / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "@import" not in html and "url(http" not in html
    images = re.findall(r"<img [^>]*>", html)
    assert len(images) >= 5
    for image in images:
        alt = re.search(r'alt="([^"]+)"', image)
        assert alt and len(alt.group(1)) > 20
        assert 'src="data:image/svg+xml;base64,' in image


@pytest.mark.slow
def test_replies_are_shown_as_text_never_run(tmp_path: Path) -> None:
    from harness.scenario.model import Scenario
    from harness.session.scenarios import load_scenario_text

    data = load_scenario_text(SMALL, "s.yaml").model_dump(mode="json")
    answering = {"fast": HOSTILE[0], "slow": HOSTILE[1], "bank": HOSTILE[2]}
    for brand in data["brands"]:
        if brand["id"] in answering:
            brand["simulate"]["texts"] = [answering[brand["id"]]]
    hostile_scenario = Scenario.model_validate(data)
    run_in_process(hostile_scenario, tmp_path / "run")
    result = shopper("report", str(tmp_path / "run"), "--out", str(tmp_path / "report"))
    assert result.returncode == 0, result.stderr
    html = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "{{ 7*7 }}" in html
    assert "<script" not in html.lower()
    assert not re.search(r"<img[^>]*onerror", html)


@pytest.mark.slow
def test_chart_command_draws_png_and_svg(race: Path, tmp_path: Path) -> None:
    run = race.parent
    for suffix in ("png", "svg"):
        target = tmp_path / f"chart.{suffix}"
        result = shopper("chart", str(run), "--metric", "time_to_reply", "--by", "industry",
                         "--out", str(target))
        assert result.returncode == 0, result.stderr
        assert target.stat().st_size > 1000
    assert "<svg" in (tmp_path / "chart.svg").read_text(encoding="utf-8")
    bad = shopper("chart", str(run), "--metric", "level", "--by", "brand", "--out",
                  str(tmp_path / "chart.jpg"))
    assert bad.returncode == 2 and "must end in .png or .svg" in bad.stderr


@pytest.mark.slow
def test_report_is_rebuilt_the_same(race: Path, tmp_path: Path) -> None:
    result = shopper("report", str(race.parent), "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    for name in ("summary.json", "probes.csv", "report.html"):
        assert (tmp_path / name).read_bytes() == (race / name).read_bytes(), name
