"""Kill `shopper run` with SIGKILL at random moments and at chosen points (over 100 kills a
suite run, printed with -s); rerunning must give the same export and post nothing twice."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import REPLAY, SMALL
from .simrun import journal_posts

KILLS = int(os.environ.get("SHOPPER_CRASH_KILLS", "60"))
TARGETED = int(os.environ.get("SHOPPER_CRASH_TARGETED", "20"))  # kills per chosen point
DRIVER = Path(__file__).with_name("crash_driver.py")


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


@pytest.mark.parametrize("point", ["post", "follow_up", "poll", "commit"])
def test_sigkill_at_chosen_points_loses_nothing_and_sends_nothing_twice(
        tmp_path: Path, point: str) -> None:
    """Killed right after the platform took a post (first message or follow-up), right after
    replies were read, or inside a store transaction, again and again: the finished run is the
    uninterrupted one, and nothing was posted twice."""
    scenario = REPLAY
    if point == "follow_up":  # the 2013 race had none: the small race has
        scenario = tmp_path / "small.yaml"
        scenario.write_text(SMALL, encoding="utf-8")
    whole = tmp_path / "whole"
    assert _drive(scenario, whole, point, 0).returncode == 0
    expected = _export(whole)
    rng = random.Random(f"{point}-{os.environ.get('SHOPPER_CRASH_SEED', '20130101')}")
    out = tmp_path / "killed"
    kills = 0
    for _ in range(300):
        # the N-th time it gets there (a kill at the first commit would only ever repeat)
        low, high = {"commit": (2, 12), "follow_up": (1, 2)}.get(point, (1, 12))
        at = rng.randint(low, high) if kills < TARGETED else 0
        process = _drive(scenario, out, point, at)
        if process.returncode == 0:
            break
        assert process.returncode == -signal.SIGKILL, process.stderr
        kills += 1
    assert kills >= 1, f"never got to {point}"
    assert _export(out) == expected
    posts = journal_posts(out)
    assert len(posts) == len(set(posts)), "a message was posted twice"
    print(f"\nsurvived {kills} SIGKILLs at {point!r}")


def _drive(scenario: Path, out: Path, point: str,
           at: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(DRIVER), str(scenario), str(out), point, str(at)],
                          capture_output=True, text=True, timeout=120)
