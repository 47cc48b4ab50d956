"""Alerts end to end, through Apprise to a webhook on loopback (``json://``): a brand that
answers well, then not at all for a week, then well again gets exactly one alert and one
recovery, not one per poll; a restart sends nothing new; a webhook that is down is recorded,
shown and delivered once when it is back; maintenance mutes; no URL is ever shown or kept."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from harness.cli import main
from harness.monitor import delivery, watch
from harness.store.alerts import Notification, alert_states, notifications
from harness.store.folder import RunFolder
from harness.store.sqlite import Store
from tests.alertrun import URL_VARIABLE, run_watch, watch_scenario
from tests.fakes.webhook import Webhook

BREACH = "SIMULATED FAILING: answered within 1h / Acme <b>&</b> [watch-acme]"
MIDWAY = datetime(2024, 3, 21, tzinfo=UTC)  # after the breach, before the recovery


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries without their backoff (Apprise's own tests zero every wait too)."""
    monkeypatch.setattr(delivery, "BACKOFF_S", 0.0)


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[Webhook]:
    hook = Webhook()
    monkeypatch.setenv(URL_VARIABLE, hook.url("/alerts"))
    yield hook
    hook.stop()


def _notifications(folder: Path) -> list[Notification]:
    store = Store.open(folder / "run.sqlite")
    try:
        return notifications(store)
    finally:
        store.close()


def test_apprise_json_posts_a_plain_text_title_and_message(webhook: Webhook) -> None:
    destination = delivery.Destination(0, "json", webhook.url("/alerts"))
    assert delivery.apprise_send(destination, "FAILING: <b>x</b>", "line 1\nline <2>",
                                 "breach") is None
    (post,) = webhook.posts
    assert post.path == "/alerts"
    assert (post.title, post.message, post.body["type"]) == (
        "FAILING: <b>x</b>", "line 1\nline <2>", "failure")  # as written: plain text
    assert "url=" not in repr(destination) and webhook.url() not in repr(destination)


def test_a_brand_that_goes_bad_and_recovers_gets_one_alert_and_one_recovery(
        webhook: Webhook, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rounds: list[datetime] = []
    failing_rounds: list[datetime] = []
    original = watch.Monitor.round

    def counted(self: watch.Monitor, at: datetime, verdicts: object = None) -> watch.Round:
        done = original(self, at)
        rounds.append(at)
        states = alert_states(self.store)
        failing_rounds.extend(at for s in states.values() if s.state == "failing")
        return done

    monkeypatch.setattr(watch.Monitor, "round", counted)
    assert run_watch(tmp_path / "run").finished
    gaps = [later - earlier for earlier, later in pairwise(rounds[:-1])]
    assert min(gaps) >= timedelta(hours=1)  # at most hourly on the run's clock, ...
    assert rounds[-1] == max(rounds)  # ... and once more at the end
    assert len(failing_rounds) > 20  # judged failing again and again ...
    assert webhook.titles() == [BREACH, webhook.titles()[1]]  # ... yet announced once
    recovery = webhook.posts[1]
    assert recovery.title.startswith("SIMULATED RECOVERED: answered within 1h / Acme <b>&</b>")
    assert "the breach lasted 8d 22h" in recovery.message
    assert webhook.posts[0].body["type"] == "failure" and recovery.body["type"] == "success"
    assert "Failing since: 2024-03-18" in webhook.posts[0].message
    kinds = [(n.kind, n.delivered, n.attempts) for n in _notifications(tmp_path / "run")]
    assert kinds == [("breach", True, 1), ("recovery", True, 1)]


def test_stopping_and_resuming_sends_nothing_twice(webhook: Webhook, tmp_path: Path) -> None:
    folder = tmp_path / "run"
    assert not run_watch(folder, stop_at=MIDWAY).finished
    assert webhook.titles() == [BREACH]
    assert not run_watch(folder, stop_at=MIDWAY).finished  # resumed and stopped at once
    assert webhook.titles() == [BREACH]
    assert run_watch(folder).finished
    assert [t.split(":")[0] for t in webhook.titles()] == ["SIMULATED FAILING",
                                                           "SIMULATED RECOVERED"]
    assert run_watch(folder).already_finished  # the finished run is left alone
    assert main(["check", str(folder), "--notify"]) == 0  # judged again: nothing new
    assert len(webhook.posts) == 2


def test_a_webhook_that_is_down_is_recorded_shown_and_delivered_once_it_is_back(
        webhook: Webhook, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "run"
    webhook.stop()
    assert not run_watch(folder, stop_at=MIDWAY).finished
    (breach,) = _notifications(folder)
    assert (breach.kind, breach.delivered, breach.attempts) == ("breach", False, 3)  # 1 + 2
    assert breach.last_error == ("destination 0 (json): A Connection error occurred sending "
                                 "JSON notification to ***.")
    assert main(["status", str(folder)]) == 0
    out = capsys.readouterr().out
    assert ("alert:      answered within 1h / acme: FAILING since 2024-03-18T14:34:32+00:00 "
            "(announced)") in out
    undelivered = next(line for line in out.splitlines() if line.startswith("UNDELIVERED"))
    assert undelivered.startswith("UNDELIVERED: 1 notification (1 breach) after 3 attempts; "
                                  "last error: destination 0 (json): A Connection error")
    assert str(webhook.port) not in out and "127.0.0.1" not in out
    webhook.start()  # back up, on the same port
    assert run_watch(folder).finished
    assert [t.split(":")[0] for t in webhook.titles()] == ["SIMULATED FAILING",
                                                           "SIMULATED RECOVERED"]
    assert [(n.kind, n.delivered, n.attempts) for n in _notifications(folder)] == [
        ("breach", True, 4), ("recovery", True, 1)]
    assert main(["status", str(folder)]) == 0
    assert "UNDELIVERED" not in capsys.readouterr().out


def test_check_notify_delivers_what_a_finished_run_could_not(
        webhook: Webhook, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "run"
    webhook.stop()
    assert run_watch(folder).finished
    assert [(n.kind, n.delivered) for n in _notifications(folder)] == [
        ("breach", False), ("recovery", False)]
    webhook.start()
    assert main(["check", str(folder), "--notify", "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert captured.out.lstrip().startswith("{")  # standard output stays the check's JSON
    assert "shopper: alerts: breach: SIMULATED FAILING" in captured.err
    assert captured.err.count(": delivered") == 2
    assert [t.split(":")[0] for t in webhook.titles()] == ["SIMULATED FAILING",
                                                           "SIMULATED RECOVERED"]
    assert main(["check", str(folder), "--notify"]) == 0
    assert "nothing new to announce" in capsys.readouterr().err
    assert len(webhook.posts) == 2  # not twice


def test_check_notify_needs_alerts_and_leaves_a_running_run_to_send_its_own(
        webhook: Webhook, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    quiet = tmp_path / "quiet"
    assert run_watch(quiet, watch_scenario(extra="")).finished
    assert main(["check", str(quiet), "--notify"]) == 2
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", f"shopper: {quiet}: the run's scenario has no "
                                            "alerts: section, so --notify has nowhere to send "
                                            "(see docs/monitoring.md, Alerts)\n")
    folder = tmp_path / "run"
    webhook.stop()
    assert run_watch(folder, stop_at=MIDWAY).finished is False
    webhook.start()
    with RunFolder(folder):  # as a running `shopper run` holds it
        assert main(["check", str(folder), "--notify"]) == 1
    assert "a running run sends its own alerts: --notify sent nothing" in capsys.readouterr().err
    assert webhook.posts == []


def test_an_unset_variable_is_no_destination_said_once(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(URL_VARIABLE, raising=False)
    said: list[str] = []
    assert run_watch(tmp_path / "run", said=said.append).finished
    assert said == [f"shopper: alerts: {URL_VARIABLE} is not set: no notification goes there"]
    recorded = _notifications(tmp_path / "run")
    # Settled as not sent: setting the variable later sends none of these stale ones.
    assert [(n.kind, n.unsent, n.attempts) for n in recorded] == [
        ("breach", True, 0), ("recovery", True, 0)]
    assert recorded[0].last_error == f"not sent: no destination: {URL_VARIABLE} not set"
    store = Store.open(tmp_path / "run" / "run.sqlite")
    try:
        assert notifications(store, undelivered=True) == []
    finally:
        store.close()


def test_maintenance_over_the_bad_week_mutes_it_and_leaves_its_probes_out(
        webhook: Webhook, tmp_path: Path) -> None:
    maintenance = ("maintenance:\n  - {start: 2024-03-17T12:00, end: 2024-03-25T12:00, "
                   "reason: migration}\n")
    folder = tmp_path / "run"
    assert run_watch(folder, watch_scenario(maintenance + "alerts:\n  urls: [{env: "
                                            f"{URL_VARIABLE}}}]\n")).finished
    assert webhook.posts == []
    assert _notifications(folder) == []
    store = Store.open(folder / "run.sqlite")
    try:
        assert alert_states(store)["answered within 1h", "acme"].state == "ok"
    finally:
        store.close()


SECRET_URL = "json://alice:s3cr3t-pass@127.0.0.1:9/t0ken-path/x?key=v4lue"
SECRET_PARTS = ("s3cr3t-pass", "t0ken-path", "v4lue", "alice")


@pytest.fixture
def refused_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A finished run whose one destination, a URL full of secrets, refused every post."""
    monkeypatch.setenv(URL_VARIABLE, SECRET_URL)  # port 9 on loopback: connection refused
    folder = tmp_path / "run"
    assert run_watch(folder).finished
    assert [n.delivered for n in _notifications(folder)] == [False, False]
    return folder


def test_no_part_of_a_url_is_kept_in_the_store_or_shown_by_status(
        refused_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = sqlite3.connect(refused_run / "run.sqlite")
    dump = "\n".join(db.iterdump())
    db.close()
    assert "A Connection error occurred" in dump  # the error is kept, scrubbed
    assert main(["status", str(refused_run)]) == 0
    shown = capsys.readouterr()
    assert "UNDELIVERED: 2 notifications (1 breach, 1 recovery)" in shown.out
    for text in (dump, shown.out, shown.err):
        for part in SECRET_PARTS:
            assert part not in text


def test_the_report_section_lists_notifications_escaped(refused_run: Path,
                                                       webhook: Webhook) -> None:
    from jinja2 import Environment, PackageLoader, select_autoescape

    from harness.report import build
    from harness.report.alerts import alert_log

    assert main(["check", str(refused_run), "--notify"]) == 0  # delivered now, to the webhook
    store = Store.open(refused_run / "run.sqlite")
    try:
        store.db.execute("UPDATE notifications SET delivered_at = NULL, attempts = 7,"
                         " last_error = 'destination 0 (json): <refused>' WHERE kind = 'recovery'")
        log = alert_log(store, watch_scenario(), UTC)
    finally:
        store.close()
    assert log is not None
    environment = Environment(loader=PackageLoader("harness.report", "templates"),
                              autoescape=select_autoescape(["html", "j2"]))
    environment.filters["bdi"] = build._isolated
    section = environment.get_template("alerts.html.j2").render(alerts=log, simulated=True)
    assert "<h2>Alerts</h2>" in section
    assert "1 delivered, <strong>1 not delivered</strong>" in section
    assert "no, after 7 attempts: destination 0 (json): &lt;refused&gt;" in section
    assert "Acme &lt;b&gt;&amp;&lt;/b&gt;" in section and "Acme <b>&</b>" not in section
    assert alert_log(store, watch_scenario(extra=""), UTC) is None  # no alerts: no section


@pytest.mark.slow
def test_the_report_has_an_alerts_section_without_any_url(
        refused_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(refused_run), "--out", str(tmp_path / "report")]) == 0
    shown = capsys.readouterr()
    page = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    assert "<h2>Alerts</h2>" in page and "2 not delivered" in page
    assert page.index("<h2>Alerts</h2>") < page.index("<h2>Method</h2>")
    assert "Acme &lt;b&gt;&amp;&lt;/b&gt;" in page and "Acme <b>&</b>" not in page
    for text in (page, shown.out, shown.err):
        for part in SECRET_PARTS:
            assert part not in text


def test_a_scenario_without_alerts_keeps_no_alert_state(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    assert run_watch(folder, watch_scenario(extra="")).finished
    store = Store.open(folder / "run.sqlite")
    try:
        assert alert_states(store) == {} and notifications(store) == []
    finally:
        store.close()
