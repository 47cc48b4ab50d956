"""Delivery, destination by destination: each gets a notification once, a failure is retried
then kept for a later round, a destination that is down rests, and no part of a URL survives
in an error."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from harness.monitor import delivery
from harness.monitor.delivery import Destination, deliver, destinations, scrub
from harness.scenario.objectives import Alerts
from harness.store.alerts import NoticeKind, Notification

AT = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def _notification(number: int = 1) -> Notification:
    return Notification(number, "answered", "acme", "breach", AT, f"FAILING {number}", "body", 0,
                        (), None, None)


class Sender:
    """Records each send; destinations in ``down`` fail (``None``: raise instead)."""

    def __init__(self, down: dict[int, str | None] | None = None) -> None:
        self.down = down or {}
        self.sent: list[tuple[int, str]] = []

    def __call__(self, destination: Destination, title: str, body: str,
                 kind: NoticeKind) -> str | None:
        self.sent.append((destination.index, title))
        if destination.index in self.down:
            error = self.down[destination.index]
            if error is None:
                raise RuntimeError(f"broke posting to {destination.url}")
            return error
        return None


TWO = [Destination(0, "json", "json://127.0.0.1:1/a"), Destination(1, "ntfy", "ntfy://topic")]


def test_each_destination_gets_a_notification_once_even_when_another_fails() -> None:
    sender = Sender({1: "refused"})
    waits: list[float] = []
    (first,), failed = deliver([_notification()], TWO, [], AT, retries=2, send=sender,
                               sleep=waits.append)
    assert sender.sent == [(0, "FAILING 1")] + [(1, "FAILING 1")] * 3
    assert waits == [0.5, 1.0]  # the backoff between the three tries of destination 1
    assert (first.delivered_to, first.delivered, first.attempts) == ((0,), False, 4)
    assert first.last_error == "destination 1 (ntfy): refused" and failed == {1}
    sender.down = {}
    (second,), failed = deliver([first], TWO, [], AT, retries=2, send=sender,
                                sleep=waits.append)
    assert sender.sent[4:] == [(1, "FAILING 1")]  # only where it was missing
    assert (second.delivered_to, second.delivered_at, second.attempts) == ((0, 1), AT, 5)
    assert failed == set()


def test_a_destination_down_is_tried_once_a_round_and_not_while_it_rests() -> None:
    sender = Sender({0: "refused"})
    done, failed = deliver([_notification(1), _notification(2)], TWO[:1], [], AT, retries=1,
                           send=sender, sleep=lambda _: None)
    assert sender.sent == [(0, "FAILING 1"), (0, "FAILING 1")]  # not again for the second
    assert [n.attempts for n in done] == [2, 0] and failed == {0}
    assert done[1].last_error == "destination 0 (json): refused"
    done, failed = deliver(done, TWO[:1], [], AT, retries=1, send=sender,
                           sleep=lambda _: None, resting={0})
    assert done == [] and failed == set()  # resting: nothing tried, nothing rewritten
    assert len(sender.sent) == 2


def test_a_send_that_raises_is_recorded_without_the_url() -> None:
    sender = Sender({0: None})
    (done,), failed = deliver([_notification()], TWO[:1], [], AT, retries=0, send=sender,
                              sleep=lambda _: None)
    assert done.last_error == "destination 0 (json): RuntimeError: broke posting to ***"
    assert failed == {0}


def test_no_destination_settles_it_as_not_sent_and_says_why() -> None:
    (done,), _ = deliver([_notification()], [], ["ALERT_URL"], AT, retries=3, send=Sender(),
                         sleep=lambda _: None)
    # Not left waiting: a variable set weeks later must not bring a flood of stale alerts.
    assert (done.delivered, done.unsent, done.attempts, done.last_error) == (
        True, True, 0, "not sent: no destination: ALERT_URL not set")


def test_destinations_resolve_variables_when_asked_and_skip_unset_ones() -> None:
    alerts = Alerts(urls=["json://127.0.0.1/hook", {"env": "HOOK"}, {"env": "UNSET"}])
    found, unset = destinations(alerts, {"HOOK": " Slack://T0K/EN ", "UNSET": ""})
    assert [(d.index, d.scheme, d.url) for d in found] == [
        (0, "json", "json://127.0.0.1/hook"), (1, "slack", "Slack://T0K/EN")]
    assert unset == ["UNSET"]
    assert "T0K" not in repr(found) and found[1].name == "destination 1 (slack)"


@pytest.mark.parametrize("url", [
    "json://alice:pa%40ss@hooks.example:8443/p4th/t0ken?secret=v4lue#fr4g",
    "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ",
])
def test_scrub_masks_every_part_of_the_url(url: str) -> None:
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    text = (f"failed: {url} who={parts.username} pass={unquote(parts.password or 'x')} "
            f"host={parts.hostname} path={parts.path} q={parts.query} "
            + " ".join(parts.path.split("/")))
    cleaned = scrub(text, url)
    for piece in [*parts.path.split("/"), parts.hostname, parts.username, "pa@ss", "v4lue",
                  "fr4g", "8443"]:
        if piece and len(piece) >= 3:
            assert piece not in cleaned, piece
    assert cleaned.startswith("failed: *** who=")


def test_apprise_refuses_a_url_it_does_not_understand(monkeypatch: pytest.MonkeyPatch) -> None:
    destination = Destination(0, "nope", "nope://nothing/here")
    assert delivery.apprise_send(destination, "t", "b", "breach") == (
        "not a URL Apprise understands")


def test_a_refused_connection_is_apprises_reason_without_the_host() -> None:
    destination = Destination(0, "json", "json://k3y:s3cret@127.0.0.1:9/hook/t0ken")
    error = delivery.apprise_send(destination, "t", "b", "recovery")
    assert error == "A Connection error occurred sending JSON notification to ***."
