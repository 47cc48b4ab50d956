"""Kill `shopper run` with SIGKILL at random moments; rerunning must give the same export."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from .conftest import REPLAY
from .simrun import journal_posts

KILLS = int(os.environ.get("SHOPPER_CRASH_KILLS", "12"))


def _run(out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "harness", "run", str(REPLAY), "--simulate",
                             "-q", "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _export(out: Path) -> str:
    return subprocess.run([sys.executable, "-m", "harness", "export", str(out)],
                          capture_output=True, text=True, check=True).stdout


def test_sigkill_at_random_moments_loses_nothing_and_sends_nothing_twice(tmp_path: Path) -> None:
    whole = tmp_path / "whole"
    started = time.monotonic()
    assert _run(whole).wait(timeout=120) == 0
    duration = time.monotonic() - started
    expected = _export(whole)

    rng = random.Random(int(os.environ.get("SHOPPER_CRASH_SEED", "20130101")))
    kills = rounds = 0
    while kills < KILLS:  # each round: a fresh folder, killed until a run gets to the end
        rounds += 1
        out = tmp_path / f"round{rounds}"
        for _ in range(200):
            process = _run(out)
            try:
                returncode = process.wait(timeout=rng.uniform(0.2, 1.1) * duration)
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)
                process.wait()
                kills += 1
                continue
            assert returncode == 0, process.stderr.read() if process.stderr else ""
            break
        assert _export(out) == expected, f"round {rounds} differs"
        posts = journal_posts(out)
        assert len(posts) == len(set(posts)), f"round {rounds}: a message was posted twice"
    print(f"\nsurvived {kills} SIGKILLs in {rounds} interrupted runs")
