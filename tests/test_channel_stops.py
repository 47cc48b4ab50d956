"""A channel that is not configured as it works stops at once, with the reason; the run says
so and exits 1; a rerun after the fix goes on where it stopped, losing nothing.

Rejected credentials, an untrusted certificate, TLS to a plain port are the same on every
try: retrying them (as an outage is retried) only hides the mistake behind "the harness keeps
retrying" and a run that ends with nothing sent.
"""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest

from harness.channels.base import OutgoingMessage, PollResult, SentPost
from harness.channels.simulated import SimulatedChannel
from harness.cli import main
from harness.errors import AuthenticationFailed, NotConfigured, TransientError
from harness.runner import sending
from harness.scenario.model import Scenario, scenario_json, settings_only_change
from harness.session.runs import exit_status, simulate
from harness.session.scenarios import load_scenario
from harness.store.records import SendRecord
from harness.store.sqlite import Store
from tests.fakes import fake_x
from tests.fakes.race import check_against_world, new_world, run_race, scenario_yaml
from tests.fakes.tls import certificates
from tests.simrun import export_rows, journal_posts, run_in_process

SCENARIOS = Path(__file__).parent.parent / "scenarios"


class Broken(SimulatedChannel):
    """A simulated channel that fails as a misconfigured one does, until it is fixed."""

    send_error: ClassVar[Exception | None] = None
    poll_error: ClassVar[Exception | None] = None
    only_channel: ClassVar[str | None] = None
    sends: ClassVar[list[str]] = []
    polls: ClassVar[int] = 0

    def _broken(self) -> bool:
        return self.only_channel in (None, self.config.id)

    def send(self, message: OutgoingMessage) -> SentPost:
        if self._broken():
            type(self).sends.append(message.probe_id)
            if self.send_error is not None:
                raise self.send_error
        return super().send(message)

    def poll(self, cursor: str | None) -> PollResult:
        if self._broken():
            type(self).polls += 1
            if self.poll_error is not None:
                raise self.poll_error
        return super().poll(cursor)


@pytest.fixture(autouse=True)
def _fixed() -> None:
    Broken.send_error = Broken.poll_error = Broken.only_channel = None
    Broken.sends, Broken.polls = [], 0


def _outcomes(folder: Path) -> list[tuple[Any, ...]]:
    return [(r["probe_id"], r["status"], r["sent_at"], r["responded"], r["latency_s"],
             r["brand_replies"]) for r in export_rows(folder)]


def test_rejected_credentials_stop_the_channel_after_one_try_and_a_rerun_goes_on(
        small_scenario: Scenario, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clean = tmp_path / "clean"
    assert run_in_process(small_scenario, clean)
    Broken.send_error = AuthenticationFailed("401 Unauthorized")
    folder = tmp_path / "run"
    result = simulate(small_scenario, folder, adapter=Broken)
    assert not result.finished and exit_status(result) == 1
    assert len(Broken.sends) == 1  # one try: not retried, no other message tried either
    assert Broken.polls == 0
    err = capsys.readouterr().err
    assert "channel x stopped: send: AuthenticationFailed: 401 Unauthorized" in err
    assert "fix the settings" in err and "rerun the same command" in err
    assert "keeps retrying" not in err
    assert all(r["sent_at"] is None for r in export_rows(folder))
    store = Store.open(folder / "run.sqlite")
    try:
        assert "finished_at" not in store.meta()
        health = store.channel_health()["x"]
        assert "AuthenticationFailed: 401 Unauthorized" in (health.last_error or "")
    finally:
        store.close()
    Broken.send_error = None  # fixed
    assert run_in_process(small_scenario, folder, adapter=Broken)
    assert _outcomes(folder) == _outcomes(clean)  # as if it had never stopped
    posts = journal_posts(folder)
    assert len(posts) == len(set(posts))


def test_a_poll_that_is_refused_stops_the_channel_and_no_reply_is_lost(
        small_scenario: Scenario, tmp_path: Path) -> None:
    clean = tmp_path / "clean"
    assert run_in_process(small_scenario, clean)
    Broken.poll_error = NotConfigured("IMAP: the server's certificate is not trusted")
    folder = tmp_path / "run"
    assert not run_in_process(small_scenario, folder, adapter=Broken)
    assert Broken.polls == 1
    sent_before = len(journal_posts(folder))
    assert sent_before > 0  # sending went on until the first poll
    Broken.poll_error = None
    assert run_in_process(small_scenario, folder, adapter=Broken)
    assert _outcomes(folder) == _outcomes(clean)


def test_one_stopped_channel_leaves_the_others_to_finish(tmp_path: Path) -> None:
    scenario = load_scenario(SCENARIOS / "qa-acme-multichannel.yaml")
    Broken.only_channel = "email"
    Broken.send_error = NotConfigured("SMTP: TLS handshake failed (WRONG_VERSION_NUMBER)")
    folder = tmp_path / "run"
    assert not run_in_process(scenario, folder, adapter=Broken)
    assert len(Broken.sends) == 1
    rows = export_rows(folder)
    email = [r for r in rows if r["channel"] == "email"]
    others = [r for r in rows if r["channel"] != "email"]
    assert email and others
    assert all(r["sent_at"] is None for r in email)
    assert all(r["status"] == "closed" for r in others)
    Broken.send_error = None
    assert run_in_process(scenario, folder, adapter=Broken)
    assert all(r["status"] == "closed" for r in export_rows(folder))


def test_settling_a_crashed_send_waits_for_the_fix() -> None:
    record = SendRecord("p1", 0, 1, "intended", datetime(2025, 3, 3, 9), None, None, None,
                        "hello")

    class Refusing(SimulatedChannel):
        error: Exception = NotConfigured("certificate not trusted")

        def find_post(self, message: OutgoingMessage) -> SentPost | None:
            raise self.error

    adapter = Refusing.__new__(Refusing)
    message = OutgoingMessage("p1", 0, "ana", "@ana", "acme", ("@acme",), "at", "q", "hello")
    with pytest.raises(NotConfigured):  # left intended: a run after the fix settles it
        sending.settle(adapter, message, record, record.intended_at)
    adapter.error = TransientError("503")
    assert sending.settle(adapter, message, record, record.intended_at).state == "uncertain"


def test_only_a_change_of_channel_settings_lets_a_run_go_on() -> None:
    text = scenario_yaml(fake_x.kit("http://127.0.0.1:9"), days=1)
    from harness.session.scenarios import load_scenario_text

    before = load_scenario_text(text, "a.yaml")
    channel = before.channels[0]
    fixed = before.model_copy(update={"channels": [channel.model_copy(update={
        "settings": {**channel.settings, "ca_file": "ca.pem"}})]})
    assert settings_only_change(scenario_json(before), scenario_json(fixed)) == ["live"]
    assert settings_only_change(scenario_json(before), scenario_json(before)) == []
    reseeded = fixed.model_copy(update={"seed": 12})
    assert settings_only_change(scenario_json(before), scenario_json(reseeded)) == []
    assert settings_only_change("not json", scenario_json(fixed)) == []


# -- live, against the fake X speaking TLS ---------------------------------------------------


@pytest.mark.slow
def test_a_live_run_meeting_an_untrusted_certificate_stops_and_goes_on_after_the_fix(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    world = new_world(fake_x.kit())
    with fake_x.serve(world, tls=certificates().server_context()) as fake:
        kit = fake_x.kit(fake.server.url)
        folder = tmp_path / "run"
        result = run_race(kit, world, folder)  # straight to the runner, past the preflight
        assert not result.finished and exit_status(result) == 1 and result.sent == 0
        assert len(fake.server.handshake_failures) == 1  # tried once, not retried
        assert fake.server.log == []
        assert "certificate is not trusted" in capsys.readouterr().err
        trusted = replace(kit, settings={**kit.settings, "ca_file": str(certificates().ca_file)})
        result = run_race(trusted, world, folder)
        assert result.finished and result.sent == result.planned == 15
        assert "settings of channel live changed since the run began" in capsys.readouterr().err
        check_against_world(trusted, world, folder, world_id=fake.world_id)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _live_scenario(tmp_path: Path, url: str, **settings: Any) -> Path:
    kit = fake_x.kit(url)
    kit = replace(kit, settings={**kit.settings, **settings})
    path = tmp_path / "live.yaml"
    path.write_text(scenario_yaml(kit, days=1), encoding="utf-8")
    return path


@pytest.fixture
def x_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in fake_x.kit().environ.items():
        monkeypatch.setenv(name, value)


@pytest.mark.usefixtures("x_environment")
def test_the_preflight_connects_and_refuses_an_untrusted_certificate(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with fake_x.serve(new_world(fake_x.kit()), tls=certificates().server_context()) as fake:
        path = _live_scenario(tmp_path, fake.server.url)
        code = main(["run", str(path), "--live", "--yes", "--out", str(tmp_path / "run")])
        assert fake.server.log == []
    captured = capsys.readouterr()
    assert code == 2
    assert ("refused: NotConfigured: X: the server's certificate is not trusted"
            in captured.out)
    assert "not ready" in captured.err and "nothing was sent" in captured.err
    assert not (tmp_path / "run").exists()


@pytest.mark.usefixtures("x_environment")
def test_the_preflight_refuses_rejected_credentials(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FAKE_X_BEN_TOKEN", "a-token-x-never-issued")
    with fake_x.serve(new_world(fake_x.kit())) as fake:
        path = _live_scenario(tmp_path, fake.server.url)
        code = main(["run", str(path), "--live", "--yes", "--out", str(tmp_path / "run")])
        assert fake.server.requests("POST", "/2/tweets") == []
    out = capsys.readouterr().out
    assert code == 2 and "refused: AuthenticationFailed: X: 401" in out
    assert "a-token-x-never-issued" not in out
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
@pytest.mark.usefixtures("x_environment")
def test_verification_off_is_shown_in_capitals_before_the_start(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    with fake_x.serve(new_world(fake_x.kit()), tls=certificates().server_context()) as fake:
        path = _live_scenario(tmp_path, fake.server.url, verify_tls=False)
        monkeypatch.setattr("sys.stdin", _Terminal("n\n"))
        assert main(["run", str(path), "--live", "--out", str(tmp_path / "run")]) == 1
        assert main(["channels", str(path), "--check"]) == 0
    out = capsys.readouterr().out
    assert "live: TLS CERTIFICATE VERIFICATION IS OFF (settings.verify_tls: false)" in out
    assert out.count("VERIFICATION IS OFF") == 2  # the preflight, then `shopper channels`
    assert "ready: logged in as ana (@" in out and "Not started; nothing was sent." in out


@pytest.mark.usefixtures("x_environment")
def test_channels_check_connects_only_when_asked(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    with fake_x.serve(new_world(fake_x.kit()), tls=certificates().server_context()) as fake:
        path = _live_scenario(tmp_path, fake.server.url)
        assert main(["channels", str(path)]) == 0  # settings alone look fine
        assert fake.server.handshake_failures == []
        assert main(["channels", str(path), "--check"]) == 1
        assert fake.server.handshake_failures
    out = capsys.readouterr().out
    assert "refused: NotConfigured: X: the server's certificate is not trusted" in out
