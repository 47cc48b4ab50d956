"""Names in the scripts people write them in: Chinese, Devanagari, Arabic and emoji brand names
draw with real glyphs in the charts and the poster (no missing-glyph warning where the fonts are
installed, as `.ci/run` installs them), a script no font draws gives one warning naming it, a
right-to-left name keeps the line around it in order, and no label is cut off the poster."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from harness.report import fonts
from harness.report.build import build_report
from harness.report.charts import literal
from harness.session.scenarios import load_scenario_text
from harness.store.sqlite import Store

from .conftest import SMALL
from .simrun import run_in_process

NAMES = {"Fast Co": "星巴克咖啡", "Slow Ltd": "स्टारबक्स", "Mute Inc": "ستاربكس",
         "Bank Plc": "Bank 🙂 Plc"}


def _world_race(tmp_path: Path) -> Path:
    text = SMALL
    for old, new in NAMES.items():
        text = text.replace(f"name: {old}", f"name: {new}")
    folder = tmp_path / "run"
    assert run_in_process(load_scenario_text(text, "s.yaml"), folder)
    return folder


def _report(folder: Path) -> tuple[list[str], list[str]]:
    store = Store.open(folder / "run.sqlite")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            files = build_report(store, folder / "report")
    finally:
        store.close()
    return files.warnings, [str(w.message) for w in caught]


def test_the_fonts_for_these_scripts_are_installed() -> None:
    # .ci/run installs Debian's fonts-noto-core, fonts-noto-cjk and fonts-symbola; a machine
    # without them fails here, saying what to install, rather than drawing boxes unnoticed.
    installed = fonts.font_families()
    for family in ("Noto Sans CJK JP", "Noto Sans Devanagari", "Noto Sans Arabic", "Symbola"):
        assert family in installed, f"{family} missing: {fonts.INSTALL_HINT}"


@pytest.mark.slow
def test_names_in_four_scripts_draw_without_a_missing_glyph(tmp_path: Path) -> None:
    ours, theirs = _report(_world_race(tmp_path))
    assert ours == [] and not [w for w in theirs if "missing from" in w], (ours, theirs)


def test_a_script_without_a_font_gives_one_warning_naming_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fonts, "font_families", lambda: ("DejaVu Sans",))
    ours, theirs = _report(_world_race(tmp_path))
    scripts = sorted(line.split(" text ")[0].removeprefix("no installed font draws ")
                     for line in ours)
    assert scripts == ["CJK", "DEVANAGARI", "emoji and symbols"]  # DejaVu has Arabic
    assert all("fonts-noto-core" in line for line in ours)
    assert not [w for w in theirs if "missing from" in w], "matplotlib's own were gathered"


def test_a_right_to_left_name_is_isolated_so_the_line_keeps_its_order() -> None:
    assert literal("ستاربكس") == "\u2068ستاربكس\u2069"
    assert literal("Starbucks") == "Starbucks"
    assert literal("\u202eevil") == "\\u202eevil", "overrides are still shown as escapes"


@pytest.mark.slow
def test_the_page_isolates_names_and_replies(tmp_path: Path) -> None:
    folder = _world_race(tmp_path)
    _report(folder)
    html = (folder / "report" / "report.html").read_text(encoding="utf-8")
    assert "<bdi>ستاربكس</bdi>" in html and "<bdi>星巴克咖啡</bdi>" in html


@pytest.mark.slow
def test_no_poster_label_is_cut_at_the_left_edge(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.report import poster

    seen: list[float] = []
    fit = poster._fit_labels

    def measured(figure: object, axes: object) -> None:
        fit(figure, axes)
        renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
        seen.extend(label.get_window_extent(renderer).x0
                    for label in axes.get_yticklabels())  # type: ignore[attr-defined]

    monkeypatch.setattr(poster, "_fit_labels", measured)
    text = SMALL.replace("name: Fast Co", "name: " + "星巴克咖啡" * 5)
    folder = tmp_path / "run"
    assert run_in_process(load_scenario_text(text, "s.yaml"), folder)
    _report(folder)
    assert seen and min(seen) >= 0, seen
