"""`shopper resolve` on a run that finished with an uncertain send opens it again, so the settled
probe is followed to the end of its window (or sent, if it never went) by a plain rerun."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main
from harness.scenario.model import Scenario
from harness.store.sqlite import Store

from .simrun import export_rows, journal_posts, run_in_process
from .test_runner import Unfindable
from .test_safety import journal_posts_with_ids


def _finished_with_one_uncertain(scenario: Scenario, folder: Path) -> str:
    Unfindable.count = 0
    Unfindable.crash_at = 2
    with pytest.raises(KeyboardInterrupt):
        run_in_process(scenario, folder, adapter=Unfindable)
    Unfindable.count = -10_000  # no more crashes
    assert run_in_process(scenario, folder, adapter=Unfindable)
    [row] = [r for r in export_rows(folder) if r["status"] == "uncertain"]
    return str(row["probe_id"])


def _finished(folder: Path) -> bool:
    store = Store.open(folder / "run.sqlite")
    try:
        return "finished_at" in store.meta()
    finally:
        store.close()


def test_resolving_a_finished_run_as_posted_follows_the_probe_to_its_window(
        small_scenario: Scenario, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    probe = _finished_with_one_uncertain(small_scenario, tmp_path)
    _, post_id, posted_at = next(p for p in journal_posts_with_ids(tmp_path) if p[0] == probe)
    assert main(["resolve", str(tmp_path), "--probe", probe, "--posted", post_id,
                 "--at", posted_at]) == 0
    assert "open again" in capsys.readouterr().out
    assert not _finished(tmp_path)
    assert run_in_process(small_scenario, tmp_path, adapter=Unfindable)  # not "already done"
    row = next(r for r in export_rows(tmp_path) if r["probe_id"] == probe)
    assert row["status"] == "closed" and row["sent_at"] is not None
    assert _finished(tmp_path)
    assert journal_posts(tmp_path).count((probe, 0)) == 1, "settled as posted: never resent"


def test_resolving_a_finished_run_as_not_posted_sends_it_at_the_plain_rerun(
        small_scenario: Scenario, tmp_path: Path) -> None:
    probe = _finished_with_one_uncertain(small_scenario, tmp_path)
    assert main(["resolve", str(tmp_path), "--probe", probe, "--not-posted"]) == 0
    assert run_in_process(small_scenario, tmp_path, adapter=Unfindable)
    # the operator said it never came (here wrongly: the crash came after posting): the
    # harness takes their word and sends it again
    assert journal_posts(tmp_path).count((probe, 0)) == 2
    row = next(r for r in export_rows(tmp_path) if r["probe_id"] == probe)
    assert row["status"] == "closed"
