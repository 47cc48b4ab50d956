"""One vocabulary for counts: the progress line, `shopper status`, the end of `shopper run`, the
race's leaderboard and the report all say "answered" for the same thing (probes with a brand
reply within the observation window: the export's `responded`), and status says when a rerun
settles an interrupted send by itself."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.channels.base import OutgoingMessage, SentPost
from harness.channels.simulated import SimulatedChannel
from harness.cli import main
from harness.scenario.model import Scenario

from .conftest import SMALL
from .simrun import export_rows, run_in_process


@pytest.mark.slow
def test_every_place_counts_answered_probes_alike(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    # Slow Ltd answers after ~20 h in business hours: with a 2 h window some replies come late,
    # and Fast Co answers follow-ups too, so replies, brand replies and answered all differ.
    scenario = tmp_path / "small.yaml"
    scenario.write_text(SMALL.replace("observation_window: 3d", "observation_window: 2h"),
                        encoding="utf-8")
    folder = tmp_path / "run"
    run = subprocess.run([sys.executable, "-m", "harness", "race", str(scenario), "--out",
                          str(folder)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    rows = export_rows(folder)
    answered = sum(bool(r["responded"]) for r in rows)
    late = sum(bool(r["late"]) for r in rows)
    brand_replies = sum(int(str(r["brand_replies"])) for r in rows)
    assert 0 < answered < brand_replies and late > 0, "the counts this test tells apart differ"
    progress = [line for line in run.stderr.splitlines() if " answered " in line]
    assert progress and re.search(rf"answered {answered}\s+closed", progress[-2]), progress[-2:]
    assert f"{answered} answered (a brand reply within the window)" in run.stderr
    summary = json.loads((folder / "report" / "summary.json").read_text(encoding="utf-8"))
    assert summary["headline"]["answered"]["k"] == answered
    assert sum(row["k"] for row in summary["leaderboard"]) == answered
    capsys.readouterr()
    assert main(["status", str(folder)]) == 0
    assert f"answered:   {answered} (a brand reply within the window)" in capsys.readouterr().out


class Crash(BaseException):
    """The process dies between handing a post over and hearing back."""


class DiesAfterOnePost(SimulatedChannel):
    posts = 0

    def send(self, message: OutgoingMessage) -> SentPost:
        post = super().send(message)
        DiesAfterOnePost.posts += 1
        if DiesAfterOnePost.posts == 3:
            raise Crash
        return post


def test_status_says_a_rerun_settles_an_interrupted_send_by_itself(
        small_scenario: Scenario, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    DiesAfterOnePost.posts = 0
    with pytest.raises(Crash):
        run_in_process(small_scenario, tmp_path, adapter=DiesAfterOnePost)
    capsys.readouterr()
    assert main(["status", str(tmp_path)]) == 0
    shown = capsys.readouterr().out
    assert "uncertain:  0" in shown and "shopper resolve" not in shown
    assert "interrupted: 1 (a crash cut these sends short; the next `shopper run` settles them" \
        in shown
    DiesAfterOnePost.posts = -10_000
    assert run_in_process(small_scenario, tmp_path, adapter=DiesAfterOnePost)
    assert not [r for r in export_rows(tmp_path) if r["status"] in ("uncertain", "sending")]
    assert main(["status", str(tmp_path)]) == 0
    assert "interrupted:" not in capsys.readouterr().out
