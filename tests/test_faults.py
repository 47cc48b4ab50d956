"""Campaigns that survive platform faults.

Every live adapter runs the small race (2 personas x 3 brands x 5 days, @ and name modes, a
follow-up) against its fake platform while the fake fails a fifth of the requests (for email:
of the SMTP and of the IMAP sessions), drawn at random, seeded, from its mix: 429 with and
without a reset time, 5xx, dropped connections and malformed answers, before and after the
platform acted on the request (a post made, the client never told), and stalls longer than the
client's timeout where a scenario can set that timeout. Nothing in the mix is final (no 401 or
403: those fail a message for good, by design). The race must end with every reply recorded to
the second, nothing posted twice, and no request before a rate limit's reset time.

Each bug these tests found has its own test below: replies lost after an outage at the end of
a run, a rate limit swallowed while reading a post back, an email sent twice when the server
took it and the answer was lost (now uncertain, and settled by the brand's reply), a message a
FETCH left out, and requests without a settable timeout.
"""

from __future__ import annotations

import importlib
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from harness.errors import ChannelError, RateLimited, TransientError
from harness.runner.sending import MAX_ATTEMPTS
from harness.store.sqlite import Store
from tests.fakes import fake_bluesky, fake_email, fake_x
from tests.fakes.platform import RESET_AFTER_S, Traffic
from tests.fakes.race import START, Kit, check_against_world, live_adapter, new_world, run_race

RATE = 0.2
SMTP_RATE = 0.4
"""For email's SMTP sessions, which are few in a race (one per message sent)."""
SEEDS = {"x": 1, "mastodon": 2, "bluesky": 1, "email": 1}
"""The seed of each adapter's fault draw (any seed should pass)."""
TIMEOUTS = {"x": 0.5, "mastodon": 0.5, "bluesky": 0.5, "email": 0.5}
"""The request timeout (``settings.timeout``, seconds) the fault races give each adapter, so
that stalls cost little real time."""
CREATES = {"x": r"^/2/tweets$", "mastodon": r"^/api/v1/statuses$",
           "bluesky": r"createRecord$"}
"""The request that makes a post, per HTTP platform."""
AFTER = {"503_after", "drop_after", "malformed_after", "truncated_after", "timeout_after"}
"""Faults that strike after the platform acted on the request."""


def _fake(name: str) -> Any:
    return importlib.import_module(f"tests.fakes.fake_{name}")


def _with_timeout(kit: Kit, timeout_s: float | None) -> Kit:
    if timeout_s is None:
        return kit
    return replace(kit, settings={**kit.settings, "timeout": f"{timeout_s}s"})


def _report(name: str, traffic: Traffic) -> str:
    if name != "email":
        return f"{name}: {traffic.summary()}"
    smtp = Traffic([h for h in traffic.hits if h.what == "smtp"])
    imap = Traffic([h for h in traffic.hits if h.what == "imap"])
    return f"email: SMTP sessions {smtp.summary()}; IMAP sessions {imap.summary()}"


def _check_attempts(folder: Path) -> list[str]:
    """Every retry waited for its time (backoff, or a rate limit's reset); a message that
    never went out failed on its last attempt, not before, or is uncertain (the connection
    ended after it was sent: never resent). Returns the probes that failed or are uncertain."""
    store = Store.open(folder / "run.sqlite")
    try:
        sends = store.sends()
    finally:
        store.close()
    by_message: dict[tuple[str, int], list[Any]] = {}
    for record in sends:
        by_message.setdefault((record.probe_id, record.step), []).append(record)
    failed = []
    for key, attempts in by_message.items():
        attempts.sort(key=lambda r: r.attempt)
        assert [r.attempt for r in attempts] == list(range(1, len(attempts) + 1)), key
        for earlier, later in pairwise(attempts):
            assert earlier.state != "sent", (key, "sent, then tried again")
            assert earlier.retry_at is not None and later.intended_at >= earlier.retry_at, (
                key, earlier, later)
        last = attempts[-1]
        if last.state == "uncertain":  # the connection ended after the message went: never
            assert (last.error or "").startswith("outcome unknown"), (key, last)  # resent
            failed.append(f"{key[0]} step {key[1]}: {last.error}")
            continue
        assert last.state in ("sent", "failed"), (key, last)
        if last.state == "failed":
            assert last.attempt >= MAX_ATTEMPTS and last.retry_at is None, (key, last)
            failed.append(f"{key[0]} step {key[1]}: {last.error}")
    return failed


@pytest.fixture
def shown(capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    """Print past pytest's capture (the faults each race met belong in the test output)."""
    def show(line: str) -> None:
        with capsys.disabled():
            print(f"\n  {line}", end="")

    yield show


@pytest.mark.parametrize("name", ["x", "mastodon", "bluesky", "email"])
@pytest.mark.slow
def test_a_whole_race_survives_faults_on_a_fifth_of_requests(
        name: str, tmp_path: Path, shown: Any) -> None:
    module = _fake(name)
    world = new_world(module.kit())
    folder = tmp_path / "run"
    timeout_s = TIMEOUTS.get(name)
    with module.serve(world) as fake:
        if name == "email":  # accepted-then-dropped mail: its own test below
            fake.inject(RATE, SEEDS[name], timeout_s=timeout_s, accepted=False,
                        smtp_rate=SMTP_RATE)
        else:
            fake.inject(RATE, SEEDS[name], timeout_s=timeout_s)
        kit = _with_timeout(fake.kit, timeout_s)
        result = run_race(kit, world, folder)
    traffic = fake.traffic()
    shown(_report(name, traffic))
    assert result.finished

    # the faults were there: a fifth of the requests, every kind in the mix
    assert traffic.injected >= RATE * traffic.requests - 1
    if name == "email":
        smtp = Traffic([h for h in traffic.hits if h.what == "smtp"])
        assert smtp.injected >= SMTP_RATE * smtp.requests - 1
        assert set(traffic.faults) >= set(fake_email.IMAP_RANDOM) | {"timeout"}
        assert len(set(smtp.faults)) >= 6 and "421_reset" in smtp.faults
    else:
        assert set(traffic.faults) >= {"429", "429_reset", "500", "502", "503", "drop",
                                       "drop_after", "malformed", "malformed_after",
                                       "truncated_after", "503_after"}
        # ... including the case that could post twice: a post made, the client not told
        made_unheard = [h for h in traffic.hits if h.fault in AFTER
                        and re.search(CREATES[name], h.what.split(" ", 1)[1])]
        assert made_unheard, "the seed never failed a post after it was made"

    # nothing asked before a rate limit's reset time; every retry waited its turn
    assert traffic.resets()
    assert traffic.too_early() == []
    failed = _check_attempts(folder)
    if failed:
        shown(f"{name}: not sent (failed {MAX_ATTEMPTS} times, or uncertain): {'; '.join(failed)}")
    assert result.sent + len([f for f in failed if " step 0:" in f]) == result.planned

    # every reply recorded, exact to the second; every post made once, and recorded
    check_against_world(kit, world, folder, world_id=getattr(fake, "world_id", None))


# -- a channel that keeps failing -------------------------------------------------------------


@pytest.mark.parametrize("name", ["x", "email"])
@pytest.mark.slow
def test_a_day_long_outage_of_polls_mid_race_delays_replies_but_loses_none(
        name: str, tmp_path: Path, shown: Any) -> None:
    """Every read fails from Tuesday noon to Wednesday noon (as long as the observation
    window): the race polls on through it, ends, and every reply is recorded."""
    module = _fake(name)
    world = new_world(module.kit())
    folder = tmp_path / "run"
    start, end = START + timedelta(days=1, hours=12), START + timedelta(days=2, hours=12)
    with module.serve(world) as fake:
        fake.outage(start, end, "poll")
        result = run_race(fake.kit, world, folder)
    traffic = fake.traffic()
    shown(f"{name} outage: {traffic.summary()}")
    assert result.finished and result.sent == result.planned
    down = [h for h in traffic.hits if h.fault == "outage"]
    assert down and all(start <= h.at < end for h in down)
    assert len({h.at for h in down}) >= 24 * 6 - 1, "polled on, every 10 minutes"
    store = Store.open(folder / "run.sqlite")
    try:
        health = store.channel_health()["live"]
    finally:
        store.close()
    assert health.total_failures >= len(down) and not health.degraded  # recovered
    check_against_world(fake.kit, world, folder, world_id=getattr(fake, "world_id", None))


@pytest.mark.slow
def test_an_outage_over_the_last_windows_loses_no_reply(tmp_path: Path) -> None:
    """Every read fails from the last day's sends until after every window has ended; the
    replies came well within their windows, before the outage ended."""
    world = new_world(fake_x.kit())
    folder = tmp_path / "run"
    start, end = START + timedelta(days=4), START + timedelta(days=6)
    with fake_x.serve(world) as fake:
        fake.outage(start, end, "poll")
        result = run_race(fake.kit, world, folder)
    assert result.finished
    check_against_world(fake.kit, world, folder, world_id=getattr(fake, "world_id", None))


# -- bugs the random races can meet ---------------------------------------------------------


@pytest.mark.slow
def test_bluesky_a_rate_limit_on_reading_a_post_back_is_honoured(tmp_path: Path) -> None:
    world = new_world(fake_bluesky.kit())
    with fake_bluesky.serve(world) as fake:
        # the first getPosts is the read-back of the first post (follow-ups come later)
        fake.server.fail_next(r"getPosts$", 429, reset_after=timedelta(seconds=RESET_AFTER_S),
                              reset_headers=fake.reset_headers, name="429_reset")
        result = run_race(fake.kit, world, tmp_path / "run", days=1)
    traffic = fake.traffic()
    assert result.finished and traffic.resets()
    assert traffic.too_early() == []


@pytest.mark.parametrize("fault", ["accepted_drop", "accepted_timeout"])
@pytest.mark.slow
def test_email_a_message_accepted_then_unheard_is_sent_once(
        fault: str, tmp_path: Path) -> None:
    world = new_world(fake_email.kit())
    folder = tmp_path / "run"
    timeout_s = TIMEOUTS["email"]
    with fake_email.serve(world) as fake:
        fake.force("send", fault, stall_s=2 * timeout_s)  # the first message of the race
        kit = _with_timeout(fake.kit, timeout_s)
        result = run_race(kit, world, folder, days=1)
    assert result.finished
    check_against_world(kit, world, folder, world_id=getattr(fake, "world_id", None))


def test_email_a_fetch_answer_missing_a_message_loses_no_reply(tmp_path: Path) -> None:
    world = new_world(fake_email.kit())
    folder = tmp_path / "run"
    with fake_email.serve(world) as fake:
        fake.cut_fetches = 1  # the first FETCH with mail in it leaves the last message out
        result = run_race(fake.kit, world, folder, days=1)
    assert result.finished
    check_against_world(fake.kit, world, folder, world_id=getattr(fake, "world_id", None))


# -- timeouts -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["x", "mastodon", "bluesky"])
def test_a_stalled_request_gives_up_at_the_timeout_set(name: str, tmp_path: Path) -> None:
    module = _fake(name)
    world = new_world(module.kit())
    with module.serve(world) as fake:
        kit = _with_timeout(fake.kit, 0.3)
        adapter, message = live_adapter(kit, world, tmp_path)
        assert message.not_before is not None
        world.clock.sleep_until(message.not_before)
        fake.server.fail_next(r".", 0, kind="timeout", delay=1.5)
        began = time.monotonic()
        with pytest.raises(TransientError):
            adapter.poll(None)
        took = time.monotonic() - began
        adapter.close()
    assert took < 1.0, f"gave up after {took:.1f} s, not 0.3 s"


@pytest.mark.parametrize("name", ["x", "mastodon", "bluesky"])
def test_every_injected_fault_fails_its_poll_at_once_with_the_projects_error(
        name: str, tmp_path: Path) -> None:
    """Each of our adapter's polls, with a fifth of the requests failing, either met no fault
    and returned, or met one and raised at once: ``RateLimited`` for a 429 (with the reset
    time the server gave, when it gave one), ``TransientError`` for every other fault (5xx,
    dropped, malformed or cut-off answers). No fault is swallowed, none is retried inside the
    adapter (the runner owns backoff), and nothing else escapes."""
    module = _fake(name)
    world = new_world(module.kit())
    polls: list[tuple[list[Any], ChannelError | None]] = []
    with module.serve(world) as fake:
        fake.inject(RATE, 3)
        adapter, _ = live_adapter(fake.kit, world, tmp_path)
        for _ in range(60):
            before = fake.traffic().requests
            error: ChannelError | None = None
            try:
                adapter.poll(None)
            except ChannelError as exc:
                error = exc
            polls.append((fake.traffic().hits[before:], error))
        adapter.close()
    hits = [hit for made, _ in polls for hit in made]
    full = len(hits) // 5 * 5  # the fake did its part: one request in five failed
    assert sum(1 for hit in hits[:full] if hit.fault) == full // 5
    outcomes: Counter[str] = Counter()
    for made, error in polls:
        faults = [hit for hit in made if hit.fault]
        if error is None:
            assert not faults, (name, faults)
            outcomes["read"] += 1
            continue
        assert faults == [made[-1]], (name, made, error)  # the last request it made
        fault = faults[0]
        if fault.fault.startswith("429"):
            assert isinstance(error, RateLimited), (name, fault, error)
            assert error.reset_at == fault.reset_at, (name, fault, error)
            outcomes["limited, told when" if fault.reset_at else "limited"] += 1
        else:
            assert type(error) is TransientError, (name, fault, error)
            outcomes["transient"] += 1
    assert set(outcomes) == {"read", "limited", "limited, told when", "transient"}, outcomes


@pytest.mark.slow
def test_a_message_rate_limited_five_times_survives_one_server_error(tmp_path: Path) -> None:
    """Rate limits do not use up a message's attempts: only transient failures count."""
    world = new_world(fake_x.kit())
    with fake_x.serve(world) as fake:
        fake.fail("send", "rate_limited_no_reset", count=5)
        fake.fail("send", "server_error")
        result = run_race(fake.kit, world, tmp_path / "run", days=1)
    assert result.finished
    assert result.sent == result.planned, _check_attempts(tmp_path / "run")
