"""A long-lived live run of a repeating schedule, stopped by SIGTERM (as systemd stops a
service): it stops at the next safe point (after the post under way; at once while it waits),
says so, exits 143, and the next run picks up the probes it had not sent, sending none twice.

A real process (``python -m harness run --live``) against the fake X on loopback, on the
system clock; the fake answers each post half a second late, so the signal comes while the
runner is in the middle of a batch of posts.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from harness.clock import SystemClock
from harness.store.sqlite import Store
from tests.fakes import fake_x
from tests.fakes.http import Handler, Request, Response
from tests.fakes.race import Kit, new_world, scenario_yaml
from tests.fakes.terminal import harness_env
from tests.fakes.world import World
from tests.simrun import export_rows

STOPPED = "stopped by SIGTERM at a safe point"


def _repeating(kit: Kit, today: datetime) -> str:
    """The fake race's scenario on a schedule that repeats daily at midnight UTC from two
    days ago: 3 brands x 3 days are due at once, tomorrow's are planned, none after."""
    data = yaml.safe_load(scenario_yaml(kit, days=1, poll_every="10m", window="1h"))
    data["schedule"] = {"start": (today - timedelta(days=2)).date().isoformat(),
                        "repeat": True, "times": ["00:00"], "observation_window": "1h",
                        "weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}
    return yaml.safe_dump(data, sort_keys=False)


def _slow_posts(fake: fake_x.FakeX, started: threading.Event) -> None:
    """Answer every new post half a second late (it is made at once)."""
    for index, (method, regex, handler) in enumerate(fake.server.routes):
        if method == "POST" and regex.pattern == "^/2/tweets$":
            def slow(request: Request, handler: Handler = handler) -> Response:
                response = handler(request)
                started.set()
                time.sleep(0.5)
                return response

            fake.server.routes[index] = (method, regex, slow)


def _until(condition: object, process: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the condition never came"
        time.sleep(0.02)


def _sends(folder: Path) -> Counter[tuple[str, str | None]]:
    store = Store.open(folder / "run.sqlite")
    try:
        latest = {(s.probe_id, s.step): s for s in store.sends()}
        return Counter((s.state, s.reason) for s in latest.values())
    finally:
        store.close()


@pytest.mark.slow
def test_sigterm_stops_a_live_repeating_run_at_a_safe_point_and_the_next_run_resumes(
        tmp_path: Path) -> None:
    now = datetime.now(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    if midnight - now < timedelta(minutes=2):  # tomorrow's probes must not fall due meanwhile
        time.sleep((midnight - now).total_seconds() + 1)
        now = datetime.now(UTC)
    world: World = new_world(fake_x.kit(), SystemClock())  # type: ignore[arg-type]
    folder = tmp_path / "run"
    with fake_x.serve(world) as fake:
        posting = threading.Event()
        _slow_posts(fake, posting)
        scenario = tmp_path / "live.yaml"
        scenario.write_text(_repeating(fake.kit, now), encoding="utf-8")
        command = [sys.executable, "-m", "harness", "run", str(scenario), "--live", "--yes",
                   "--quiet", "--out", str(folder)]
        env = harness_env(fake.kit.environ)

        def posts() -> int:
            return len(fake.server.requests("POST", r"^/2/tweets$"))

        first = subprocess.Popen(command, cwd=tmp_path, env=env, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _until(posting.is_set, first)  # the first post is under way
        first.terminate()  # SIGTERM
        out, err = first.communicate(timeout=30)
        assert first.returncode == 143, err
        assert STOPPED in err and "Traceback" not in err
        assert "Live run of 'live-race'" in out
        made = posts()
        sends = _sends(folder)
        assert 1 <= made < 9 and sends[("sent", None)] == made, (made, sends)
        assert sends[("not_sent", "stopping")] == 9 - made  # the rest of the batch waits

        second = subprocess.Popen(command, cwd=tmp_path, env=env, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _until(lambda: posts() == 9, second)  # the probes the first run had left
        time.sleep(1.5)  # the last answer has come: waiting now, for the next poll in 10 min
        asked = time.monotonic()
        second.terminate()
        out, err = second.communicate(timeout=30)
        stopped_in = time.monotonic() - asked
        assert second.returncode == 143, err
        assert STOPPED in err and stopped_in < 5, (stopped_in, err)
        ours = [p for p in world.visible() if p.author.script is None]
    assert posts() == 9 and len(ours) == 9  # every due probe posted once, none twice
    rows = export_rows(folder)
    sent = [r for r in rows if r["sent_at"] is not None]
    assert len(sent) == 9 and len({r["probe_id"] for r in sent}) == 9
    planned = [r for r in rows if r["sent_at"] is None]
    assert len(planned) == 3 and all(r["status"] == "planned" for r in planned)  # tomorrow's
    assert _sends(folder) == {("sent", None): 9}


class _Runner:
    stop_requested = False

    def request_stop(self) -> None:
        self.stop_requested = True


def test_ctrl_c_asks_for_a_safe_stop_and_a_second_one_interrupts_at_once() -> None:
    import os
    import signal

    from harness.session.runs import _StopOnSignals

    runner = _Runner()
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt), _StopOnSignals(runner) as signals:  # type: ignore[arg-type]
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.1)  # the handler runs here
        assert runner.stop_requested and signals.received == signal.SIGINT
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1)  # interrupted before this ends
        raise AssertionError("the second Ctrl-C did not interrupt")
    assert signal.getsignal(signal.SIGINT) is before  # put back as it was


@pytest.mark.slow
def test_once_passes_of_a_live_run_send_poll_and_close_then_finish(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli import main

    world: World = new_world(fake_x.kit(), SystemClock())  # type: ignore[arg-type]
    folder = tmp_path / "run"
    with fake_x.serve(world) as fake:
        path = tmp_path / "live.yaml"  # dated in the past: its 3 probes are due at once
        path.write_text(scenario_yaml(fake.kit, days=1, window="2s", poll_every="1s"),
                        encoding="utf-8")
        for name, value in fake.kit.environ.items():
            monkeypatch.setenv(name, value)
        command = ["run", str(path), "--live", "--yes", "--once", "--quiet", "--out",
                   str(folder)]
        assert main(command) == 0
        first = capsys.readouterr().err
        reads = len(fake.server.requests("GET", "/mentions$"))
        assert f"{folder}: pass done: 3/3 probes sent so far" in first
        assert len(fake.server.requests("POST", r"^/2/tweets$")) == 3 and reads >= 1
        time.sleep(2.5)  # the windows end
        assert main(command) == 0
        assert f"{folder}: finished: 3/3 probes sent" in capsys.readouterr().err
        assert len(fake.server.requests("POST", r"^/2/tweets$")) == 3  # nothing again
        assert len(fake.server.requests("GET", "/mentions$")) > reads  # polled once more
        assert main(command) == 0
        assert "already finished" in capsys.readouterr().err
    assert [r["status"] for r in export_rows(folder)] == ["closed"] * 3
