"""The report's Trends: week by week and channel by channel, recomputed here from `shopper
export`; a week without probes says so; each week's objectives are `shopper check --at` the
week's end; the charts are written, stamped as simulated, and the section is escaped."""

from __future__ import annotations

import json
import re
import statistics
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from harness.analysis.outcomes import Outcome
from harness.analysis.trends import MIN_WEEKS, trends, week_end
from harness.cli import main
from harness.plan.probe import Probe
from harness.session.checks import check_run
from harness.session.reports import write_report
from harness.session.scenarios import load_scenario_text

from .conftest import SMALL
from .simrun import run_in_process

GAP_WEEK = "2024-W11"
OBJECTIVES = """\
objectives:
  - name: "urgent <b>&</b> | quick"
    brands: [mute, fast]
    indicator: {kind: replied_within, within: 1h}
    target: 0.5
  - name: answered
    indicator: {kind: response_rate}
    target: 0.3
    window: week
    min_probes: 3
"""
FOUR_WEEKS = SMALL.replace("weeks: 2", "weeks: 4\n  exclude_dates: [2024-03-11, 2024-03-12, "
                           "2024-03-13, 2024-03-14, 2024-03-15]")
CHARTS = ("trend_response_rate", "trend_time_to_reply")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four weeks with the second left out (every weekday excluded), with objectives."""
    run = tmp_path_factory.mktemp("trends") / "run"
    assert run_in_process(load_scenario_text(FOUR_WEEKS + OBJECTIVES, "t.yaml"), run)
    write_report(run, run / "report")
    return run


@pytest.fixture(scope="module")
def data(folder: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((folder / "report" / "trends.json").read_text(
        encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def section(folder: Path) -> str:
    html = (folder / "report" / "report.html").read_text(encoding="utf-8")
    return html.split("<h2>Trends</h2>", 1)[1].split("<h2>", 1)[0]


def weeks_of(data: dict[str, Any]) -> list[dict[str, Any]]:
    weeks: list[dict[str, Any]] = data["weeks"]
    return weeks


def test_each_week_is_what_the_export_says(folder: Path, tmp_path: Path,
                                           data: dict[str, Any]) -> None:
    out = tmp_path / "export.json"
    assert main(["export", str(folder), "--format", "json", "-o", str(out)]) == 0
    rows = json.loads(out.read_text(encoding="utf-8"))
    expected: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        sent = datetime.fromisoformat(row["sent_at"])  # with the scenario's offset
        year, number, _ = sent.date().isocalendar()
        expected[(f"{year}-W{number:02d}", row["channel"])].append(row)
    weeks = weeks_of(data)
    assert [w["week"] for w in weeks] == ["2024-W10", GAP_WEEK, "2024-W12", "2024-W13"]
    assert sum(w["sent"] for w in weeks) == len(rows) == 60
    for week in weeks:
        [cell] = week["channels"]
        members = expected.get((week["week"], "x"), [])
        replies = [int(r["latency_s"]) for r in members if r["responded"]]
        assert cell["sent"] == len(members) and cell["answered"] == len(replies)
        assert cell["replies_n"] == len(replies)
        assert cell["median_among_replies_s"] == (statistics.median(replies) if replies
                                                  else None)
        if members:
            low, high = cell["ci95"]
            assert low <= len(replies) / len(members) <= high
            assert cell["rate"] == len(replies) / len(members)


def test_a_week_without_probes_says_so_and_is_never_zero_percent(
        data: dict[str, Any], section: str) -> None:
    gap = next(w for w in weeks_of(data) if w["week"] == GAP_WEEK)
    assert gap["sent"] == 0
    assert gap["channels"] == [{"channel": "x", "sent": 0, "answered": 0, "rate": None,
                                "ci95": None, "median_among_replies_s": None,
                                "replies_n": 0}]
    row = next(r for r in section.split("<tr><th scope=\"row\">") if r.startswith(GAP_WEEK))
    assert '<td class="num">no probes</td><td>no probes</td>' in row
    assert "0/0" not in row and '<td class="num">0%' not in row


def test_the_table_gives_k_of_n_and_interval_with_row_headers(
        data: dict[str, Any], section: str) -> None:
    assert "<caption>" in section and '<th scope="row">2024-W10 (from Mon 04 Mar 2024)' \
        in section
    cells = re.findall(r'<td class="num">([^<]*)</td>', section)
    assert len(cells) == 4
    for cell, week in zip(cells, weeks_of(data), strict=True):
        [numbers] = week["channels"]
        if not numbers["sent"]:
            continue
        low, high = numbers["ci95"]
        assert cell == (f"{numbers['answered']}/{numbers['sent']} = {numbers['rate']:.0%} "
                        f"({low:.0%}-{high:.0%})")


def test_each_weeks_objectives_are_check_at_the_weeks_end(folder: Path,
                                                          data: dict[str, Any],
                                                          section: str) -> None:
    last = check_run(folder).at  # a simulated run's last moment
    weeks = weeks_of(data)
    for week in weeks:
        judged = datetime.fromisoformat(str(week["judged_at"]))
        end = week_end(date.fromisoformat(str(week["start"])), ZoneInfo("Europe/London"))
        assert judged == min(end, last)
        check = check_run(folder, judged)
        assert week["objectives"] == [{
            "objective": v.objective, "brand": v.brand, "status": v.status, "good": v.good,
            "decided": v.decided, "share": v.share,
            "ci95": list(v.interval) if v.interval else None, "target": v.target,
        } for v in check.verdicts]
    assert str(weeks[0]["judged_at"]) == "2024-03-10T23:59:59.999999+00:00"
    assert str(weeks[-1]["judged_at"]) == "2024-03-31T23:59:59.999999+01:00"  # summer time
    # Mute Inc never answers: its replied_within objective fails every week, marked as such
    failing = [w["week"] for w in weeks if any(
        v["status"] == "fail" for v in w["objectives"])]
    assert failing == [w["week"] for w in weeks]
    assert section.count("<strong>fail</strong>: <bdi>urgent &lt;b&gt;&amp;&lt;/b&gt; | "
                         "quick</bdi> for <bdi>Mute Inc</bdi>") == 4
    # the calendar-week objective has nothing to judge in the week without probes
    gap = next(w for w in weeks if w["week"] == GAP_WEEK)
    assert {v["status"] for v in gap["objectives"]
            if v["objective"] == "answered"} == {"insufficient"}


def test_the_charts_are_written_stamped_and_drawn_with_the_objectives(
        folder: Path, section: str) -> None:
    charts = folder / "report" / "charts"
    for name in CHARTS:
        svg = (charts / f"{name}.svg").read_text(encoding="utf-8")
        assert "SIMULATED (seed 7)" in svg and "[simulated]" in svg
        with Image.open(charts / f"{name}.png") as image:
            assert "[simulated]" in " ".join(str(v) for v in image.info.values())
        assert ">no<" in svg and ">probes<" in svg  # the week without probes, in two lines
    rate = (charts / "trend_response_rate.svg").read_text(encoding="utf-8")
    assert "target 50%: urgent &lt;b&gt;&amp;&lt;/b&gt; | quick" in rate
    assert "target 30%: answered" in rate
    time = (charts / "trend_time_to_reply.svg").read_text(encoding="utf-8")
    assert "urgent &lt;b&gt;&amp;&lt;/b&gt; | quick: within 1h" in time
    assert section.count("<img ") == 2
    assert "shaded, hatched weeks: an objective failed" in section
    assert "Objectives failed at the end of 2024-W10: urgent &lt;b&gt;" in section
    assert "<b>&</b>" not in section
    data = json.loads((folder / "report" / "trends.json").read_text(encoding="utf-8"))
    assert data["simulated"] is True and data["seed"] == 7


def test_a_two_week_run_without_objectives_has_no_trends(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert run_in_process(load_scenario_text(SMALL, "s.yaml"), run)
    write_report(run, run / "report")
    html = (run / "report" / "report.html").read_text(encoding="utf-8")
    assert "<h2>Trends</h2>" not in html
    assert not (run / "report" / "trends.json").exists()
    assert not list((run / "report" / "charts").glob("trend_*"))


def _outcome(seq: int, sent: datetime | None, latency_s: int | None,
             channel: str = "x") -> Outcome:
    probe = Probe(f"p{seq}", seq, "ana", "fast", "Retail", channel, "question", "at", 1, 1,
                  sent or datetime(2024, 3, 4, tzinfo=UTC), "text")
    return Outcome(probe, sent, "closed" if sent else "planned",
                   sent + timedelta(seconds=latency_s) if sent and latency_s is not None
                   else None, "public_reply" if latency_s is not None else None, latency_s,
                   latency_s is not None, False, int(latency_s is not None), 0, 0, False,
                   False, 0)


def test_weeks_are_calendar_weeks_in_the_scenarios_zone() -> None:
    tokyo = SMALL.replace("Europe/London", "Asia/Tokyo")
    scenario = load_scenario_text(tokyo, "s.yaml")
    # Sunday 16:30 UTC is Monday 01:30 in Tokyo: the second week, not the first
    sunday = datetime(2024, 3, 10, 16, 30, tzinfo=UTC)
    outcomes = [_outcome(0, datetime(2024, 3, 4, 1, 0, tzinfo=UTC), 600),
                _outcome(1, sunday, None),
                _outcome(2, datetime(2024, 3, 25, 3, 0, tzinfo=UTC), 1200),
                _outcome(3, None, None)]
    found = trends(scenario, outcomes)
    assert [w.iso for w in found.weeks] == ["2024-W10", "2024-W11", "2024-W12", "2024-W13"]
    assert [w.sent for w in found.weeks] == [1, 1, 0, 1]  # the unsent probe counts nowhere
    assert found.weeks[1].cells[0].answered.k == 0 and found.weeks[1].cells[0].median_s is None
    assert found.weeks[2].cells[0].answered.value is None  # 0 sent: no rate, not 0%
    assert found.shown and len(found.weeks) >= MIN_WEEKS
    assert not trends(scenario, outcomes[:2]).shown  # two weeks, no objectives
    with_objectives = load_scenario_text(tokyo + OBJECTIVES, "s.yaml")
    assert trends(with_objectives, outcomes[:2]).shown  # two weeks are enough with objectives
    assert not trends(with_objectives, outcomes[:1]).shown
    assert trends(scenario, []).weeks == ()
