"""`shopper channels` and `shopper run --live`: what they show, when they refuse, and a real
(system clock) live run against the fake X on loopback."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.clock import SystemClock
from tests.fakes import fake_x
from tests.fakes.race import new_world, scenario_yaml
from tests.fakes.world import World
from tests.simrun import export_rows


class Terminal(io.StringIO):
    """Typed answers on a terminal."""

    def isatty(self) -> bool:
        return True


def _scenario(tmp_path: Path, url: str, **shape: Any) -> Path:
    path = tmp_path / "live.yaml"
    path.write_text(scenario_yaml(fake_x.kit(url), days=1, **shape), encoding="utf-8")
    return path


def _environment(monkeypatch: pytest.MonkeyPatch, present: bool = True) -> None:
    for name, value in fake_x.kit().environ.items():
        if present:
            monkeypatch.setenv(name, value)
        else:
            monkeypatch.delenv(name, raising=False)


def test_channels_lists_every_adapter(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["channels"]) == 0
    out = capsys.readouterr().out
    for name in ("x", "mastodon", "bluesky", "email", "manual", "simulated"):
        assert f"\n{name} " in out


def test_channels_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    scenario = Path(__file__).parent.parent / "scenarios" / "qa-acme-multichannel.yaml"
    assert main(["channels", str(scenario)]) == 1  # simulated channels cannot run live
    assert list(tmp_path.iterdir()) == []
    out = capsys.readouterr().out
    assert "$ACME_QA_IMAP_PASSWORD" in out and "for --simulate only" in out


def test_channels_says_why_a_channel_is_not_configured_and_never_shows_secrets(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = _scenario(tmp_path, "http://127.0.0.1:9")
    _environment(monkeypatch, present=False)
    assert main(["channels", str(path)]) == 1
    out = capsys.readouterr().out
    assert "not configured: environment variables FAKE_X_ANA_SECRET" in out
    _environment(monkeypatch)
    assert main(["channels", str(path)]) == 0
    out = capsys.readouterr().out
    assert "configured" in out and "$FAKE_X_CONSUMER_KEY (set)" in out
    for secret in fake_x.kit().environ.values():
        assert secret not in out


def test_a_live_run_without_credentials_is_refused_before_anything_is_sent(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    world = new_world(fake_x.kit(), SystemClock())  # type: ignore[arg-type]
    with fake_x.serve(world) as fake:
        path = _scenario(tmp_path, fake.server.url)
        _environment(monkeypatch, present=False)
        code = main(["run", str(path), "--live", "--yes", "--out", str(tmp_path / "run")])
    assert code == 2
    err = capsys.readouterr().err
    assert "not ready" in err and "nothing was sent" in err
    assert fake.server.log == []
    assert not (tmp_path / "run").exists()


def test_a_live_run_asks_first_and_a_no_sends_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    world = new_world(fake_x.kit(), SystemClock())  # type: ignore[arg-type]
    with fake_x.serve(world) as fake:
        path = _scenario(tmp_path, fake.server.url)
        _environment(monkeypatch)
        monkeypatch.setattr("sys.stdin", io.StringIO(""))  # no terminal
        assert main(["run", str(path), "--live", "--out", str(tmp_path / "run")]) == 2
        assert "pass --yes" in capsys.readouterr().err
        monkeypatch.setattr("sys.stdin", Terminal("n\n"))
        assert main(["run", str(path), "--live", "--out", str(tmp_path / "run")]) == 1
        out = capsys.readouterr().out
    assert "Start this live run?" in out and "nothing was sent" in out
    assert fake.server.requests("POST", "/2/tweets") == []


@pytest.mark.slow
def test_a_live_run_shows_its_plan_then_runs_on_the_system_clock(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    world: World = new_world(fake_x.kit(), SystemClock())  # type: ignore[arg-type]
    with fake_x.serve(world) as fake:
        # dated in the past: every probe is due at once; replies are awaited for 3 seconds
        path = _scenario(tmp_path, fake.server.url, window="3s", poll_every="1s")
        _environment(monkeypatch)
        code = main(["run", str(path), "--live", "--yes", "--quiet",
                     "--out", str(tmp_path / "run")])
    out = capsys.readouterr().out
    assert code == 0
    assert "3 probes to 3 brands from 2 personas, plus up to" in out
    assert "per brand: at most 1 probe a day" in out
    assert ("caps (--max-per-brand-per-day, --max-messages): at most 10 messages per brand per "
            "day (its time zone), 1000 in all") in out
    assert re.search(r"\nlive +x +auto +3 +1s +ready: logged in as ana \(@\w+\), "
                     r"ben \(@\w+\)\n", out)
    assert "API use estimate: posts created" in out
    rows = export_rows(tmp_path / "run")
    assert len(rows) == 3 and all(r["sent_at"] is not None for r in rows)
    assert len(fake.server.requests("POST", "/2/tweets")) == 3
