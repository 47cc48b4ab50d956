"""Ctrl-C: `shopper run` interrupted by SIGINT exits with status 130, says how to resume, shows
no traceback, and running the same command again finishes the run as if nothing had happened.

Real processes (``python -m harness run ...``) and a real SIGINT: a simulated run big enough
to be busy when the signal comes, and a live run on the fake X caught while it waits on the
system clock for replies.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.clock import SystemClock
from harness.session.runs import simulate
from harness.session.scenarios import load_scenario_text
from harness.store.sqlite import Store
from tests.conftest import SMALL
from tests.fakes import fake_x
from tests.fakes.race import new_world, scenario_yaml
from tests.fakes.terminal import harness_env, sigint_reaches_children
from tests.fakes.world import World
from tests.simrun import export_rows, journal_posts

INTERRUPTED = "shopper: interrupted; rerun the same command to resume\n"
BIG = SMALL.replace("weeks: 2", "weeks: 40")  # 800 probes: a second or two of work


def _start(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    with sigint_reaches_children():
        return subprocess.Popen([sys.executable, "-m", "harness", *args], cwd=cwd, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _when(condition: Callable[[], bool], process: subprocess.Popen[str],
          timeout: float = 30.0) -> None:
    """Wait until ``condition()`` while ``process`` runs; fail if it ends first."""
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            out, err = process.communicate()
            raise AssertionError(f"ended ({process.returncode}) before it could be "
                                 f"interrupted:\n{out}\n{err}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("the condition never came")
        time.sleep(0.02)


def _interrupt(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    assert process.poll() is None, "already ended"
    os.kill(process.pid, signal.SIGINT)
    try:
        out, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        raise AssertionError(f"SIGINT did not end it:\n{out}\n{err}") from None
    return process.returncode, out, err


def _finished(folder: Path) -> bool:
    store = Store.open(folder / "run.sqlite")
    try:
        return "finished_at" in store.meta()
    finally:
        store.close()


@pytest.mark.slow
def test_ctrl_c_exits_130_without_a_traceback_and_the_rerun_ends_as_if_uninterrupted(
        tmp_path: Path) -> None:
    scenario = tmp_path / "big.yaml"
    scenario.write_text(BIG, encoding="utf-8")
    folder = tmp_path / "run"
    command = ["run", str(scenario), "--simulate", "--quiet", "--out", str(folder)]
    env = harness_env()
    journal = folder / "simulated-x.jsonl"

    process = _start(command, tmp_path, env)
    # interrupted in the thick of it: the runner has started posting
    _when(lambda: journal.exists() and journal.stat().st_size > 3_000, process)
    code, out, err = _interrupt(process)
    assert (code, out, err) == (130, "", INTERRUPTED)

    partial = export_rows(folder)
    assert not _finished(folder)
    sent = sum(r["sent_at"] is not None for r in partial)
    assert 0 < sent < len(partial) == 800, "interrupted half-way"

    again = subprocess.run([sys.executable, "-m", "harness", *command], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "Traceback" not in again.stderr
    assert "finished: 800/800 probes sent" in again.stderr
    assert _finished(folder)

    reference = tmp_path / "reference"
    assert simulate(load_scenario_text(BIG, str(scenario)), reference).finished
    assert export_rows(folder) == export_rows(reference)
    posts = Counter(journal_posts(folder))
    assert posts == Counter(journal_posts(reference))  # nothing posted twice
    assert max(posts.values()) == 1


@pytest.mark.slow
def test_ctrl_c_while_a_live_run_waits_for_replies_exits_130_and_the_rerun_finishes(
        tmp_path: Path) -> None:
    world: World = new_world(fake_x.kit(), SystemClock())  # type: ignore[arg-type]
    folder = tmp_path / "run"
    with fake_x.serve(world) as fake:
        scenario = tmp_path / "live.yaml"
        # dated in the past: every probe is due at once; replies are awaited for 4 seconds
        scenario.write_text(scenario_yaml(fake.kit, days=1, window="4s", poll_every="1s"),
                            encoding="utf-8")
        command = ["run", str(scenario), "--live", "--yes", "--quiet", "--out", str(folder)]
        env = harness_env(fake.kit.environ)
        process = _start(command, tmp_path, env)

        def waiting() -> bool:  # every probe posted, and a poll since: on the clock now
            posts = fake.server.requests("POST", r"^/2/tweets$")
            return len(posts) == 3 and any(e.at > max(p.at for p in posts) for e in
                                           fake.server.requests("GET", "/mentions$"))

        _when(waiting, process)
        code, out, err = _interrupt(process)
        assert (code, err) == (130, INTERRUPTED), err
        assert "Live run of 'live-race'" in out  # the preflight, then nothing more
        assert not _finished(folder)
        again = subprocess.run([sys.executable, "-m", "harness", *command], cwd=tmp_path,
                               env=env, capture_output=True, text=True, timeout=60)
        tweets = fake.server.requests("POST", r"^/2/tweets$")
    assert again.returncode == 0, again.stderr
    assert "finished: 3/3 probes sent" in again.stderr
    assert len(tweets) == 3  # the rerun posted nothing again
    rows = export_rows(folder)
    assert [r["status"] for r in rows] == ["closed"] * 3
