"""Every path a command writes is checked before it writes anything: a file where a folder must
be, a folder where a file must be, a path through a file, are usage errors (exit 2) with one
line saying why, no traceback, and nothing created."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main

from .conftest import SMALL


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished small run folder to report, export and chart from."""
    root = tmp_path_factory.mktemp("paths")
    scenario = root / "small.yaml"
    scenario.write_text(SMALL, encoding="utf-8")
    assert main(["run", str(scenario), "--simulate", "-q", "--out", str(root / "run")]) == 0
    return root


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


CASES = {
    "run --out names a file": (["run", "{scenario}", "--simulate", "-q", "--out", "{file}"],
                               "exists and is not a folder"),
    "run --out goes through a file": (
        ["run", "{scenario}", "--simulate", "-q", "--out", "{file}/run"],
        "is a file, not a folder"),
    "race --out names a file": (["race", "{scenario}", "-q", "--out", "{file}"],
                                "exists and is not a folder"),
    "race --out goes through a file": (["race", "{scenario}", "-q", "--out", "{file}/a/b"],
                                       "is a file, not a folder"),
    "report --out names a file": (["report", "{run}", "--out", "{file}"],
                                  "exists and is not a folder"),
    "report --out goes through a file": (["report", "{run}", "--out", "{file}/report"],
                                         "is a file, not a folder"),
    "export -o names a folder": (["export", "{run}", "-o", "{run}"], "is a folder; name a file"),
    "export -o goes through a file": (["export", "{run}", "-o", "{file}/x.csv"],
                                      "is a file, not a folder"),
    "chart --out goes through a file": (
        ["chart", "{run}", "--metric", "response_rate", "--by", "brand", "--out",
         "{file}/x.png"], "is a file, not a folder"),
    "chart --out names a folder": (
        ["chart", "{run}", "--metric", "response_rate", "--by", "brand", "--out", "{run}"],
        "is a folder; name a file"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_an_output_path_that_cannot_be_written_is_refused_before_anything_is_written(
        case: str, finished: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    arguments, reason = CASES[case]
    afile = tmp_path / "afile"
    afile.write_text("keep me\n", encoding="utf-8")
    values = {"scenario": str(finished / "small.yaml"), "run": str(finished / "run"),
              "file": str(afile)}
    before_here, before_run = tree(tmp_path), tree(finished)
    capsys.readouterr()
    assert main([a.format(**values) for a in arguments]) == 2
    err = capsys.readouterr().err
    assert reason in err and err.count("\n") == 1 and "Traceback" not in err
    assert tree(tmp_path) == before_here and tree(finished) == before_run
    assert afile.read_text(encoding="utf-8") == "keep me\n"


def test_export_into_a_missing_folder_makes_it_and_writes_the_whole_file(
        finished: Path, tmp_path: Path) -> None:
    target = tmp_path / "new" / "deeper" / "probes.csv"
    assert main(["export", str(finished / "run"), "-o", str(target)]) == 0
    lines = target.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("probe_id,") and len(lines) > 10
    assert sorted(p.name for p in target.parent.iterdir()) == ["probes.csv"], "no staging left"


@pytest.mark.parametrize("suffix", [".PNG", ".Svg"])
def test_chart_suffixes_are_read_without_regard_to_case(
        suffix: str, finished: Path, tmp_path: Path) -> None:
    target = tmp_path / f"rates{suffix}"
    assert main(["chart", str(finished / "run"), "--metric", "response_rate", "--by",
                 "brand", "--out", str(target)]) == 0
    content = target.read_bytes()
    if suffix.lower() == ".png":
        assert content.startswith(b"\x89PNG\r\n\x1a\n")
    else:
        assert content.startswith(b"<?xml") and b"<svg" in content[:2000]
