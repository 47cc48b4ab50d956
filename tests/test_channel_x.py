"""The X adapter through tweepy against a fake X API v2 on loopback."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from harness.channels.base import OutgoingMessage
from tests.fakes import fake_x
from tests.fakes.platform import RESET_AFTER_S
from tests.fakes.race import (
    START,
    Operator,
    check_against_world,
    live_adapter,
    new_world,
    run_race,
)
from tests.simrun import export_rows


@pytest.mark.slow
def test_a_whole_race_through_x_matches_what_the_brands_did(tmp_path: Path) -> None:
    world = new_world(fake_x.kit())
    with fake_x.serve(world) as fake:
        result = run_race(fake.kit, world, tmp_path / "run")
    assert result.finished
    rows = check_against_world(fake.kit, world, tmp_path / "run", world_id=fake.world_id)
    assert {r["mention"] for r in rows} == {"at", "name"}
    assert any(int(r["follow_ups_sent"]) == 1 for r in rows)


def _reads_per_poll(fake: fake_x.FakeX) -> Counter[str]:
    return Counter(fake.read_times())


@pytest.mark.slow
def test_one_mentions_read_per_persona_per_poll_however_many_probes_are_open(
        tmp_path: Path) -> None:
    counts = {}
    for per_day in (1, 67):  # 15 probes, then 1,005
        world = new_world(fake_x.kit())
        with fake_x.serve(world) as fake:
            result = run_race(fake.kit, world, tmp_path / f"run{per_day}", per_day=per_day,
                              window="4h", poll_every="15m")
        assert result.finished and result.sent == 15 * per_day
        reads = _reads_per_poll(fake)
        assert set(reads.values()) == {2}, "two personas: two reads at every poll"
        counts[per_day] = reads
    assert len(counts[67]) > 20


@pytest.mark.slow
def test_after_a_429_nothing_is_asked_before_its_reset_time(tmp_path: Path) -> None:
    world = new_world(fake_x.kit())
    with fake_x.serve(world) as fake:
        world.clock.sleep_until(START + timedelta(hours=12))  # after day 1's sends began
        fake.fail("poll", "rate_limited")
        result = run_race(fake.kit, world, tmp_path / "run")
    assert result.finished
    limited = [e for e in fake.server.log if e.status == 429]
    assert len(limited) == 1
    reset = limited[0].at.replace(microsecond=0) + timedelta(seconds=RESET_AFTER_S)
    later = [e for e in fake.server.log if e.at > limited[0].at]
    assert later and all(e.at >= reset for e in later)
    check_against_world(fake.kit, world, tmp_path / "run", world_id=fake.world_id)


@pytest.mark.slow
def test_a_429_without_reset_time_backs_off_and_the_race_still_finishes(
        tmp_path: Path) -> None:
    world = new_world(fake_x.kit())
    with fake_x.serve(world) as fake:
        fake.fail("send", "rate_limited_no_reset", count=2)
        fake.fail("poll", "server_error", count=3)
        result = run_race(fake.kit, world, tmp_path / "run")
    assert result.finished and result.sent == result.planned
    check_against_world(fake.kit, world, tmp_path / "run", world_id=fake.world_id)


class ByHand(Operator):
    """A person who posts each reminded message from the persona's own account."""

    def __init__(self, fake: fake_x.FakeX, skip: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        super().__init__()
        self.fake = fake
        self.skip = skip

    def remind(self, channel: str, message: OutgoingMessage) -> None:
        super().remind(channel, message)
        if message.probe_id not in self.skip and message.step == 0:
            self.fake.post_as(message.persona_id, message.text)


@pytest.mark.slow
def test_assisted_mode_finds_posts_made_by_hand_and_tracks_their_replies(
        tmp_path: Path) -> None:
    world = new_world(fake_x.kit())
    with fake_x.serve(world) as fake:
        person = ByHand(fake, skip={"2025-03-05-acme-1"})
        result = run_race(fake.kit, world, tmp_path / "run", mode="assisted", operator=person)
    assert result.finished
    assert not fake.server.requests("POST", r"^/2/tweets$") or all(
        m.step > 0 for m in person.reminded if m.probe_id != "2025-03-05-acme-1")
    assert {m.probe_id for m in person.reminded if m.step == 0} == {
        str(r["probe_id"]) for r in export_rows(tmp_path / "run")}
    rows = {str(r["probe_id"]): r for r in export_rows(tmp_path / "run")}
    assert rows["2025-03-05-acme-1"]["status"] == "failed"  # never posted: not sent
    # one look at the timeline per first message and moment, never two (X bills every read)
    looks = Counter((e.at, e.query["start_time"][0])
                    for e in fake.server.requests("GET", r"/tweets$") if "start_time" in e.query)
    assert looks and set(looks.values()) == {1}
    # every reply to a post made by hand is found, exact to the second, even those that came
    # before the harness's next look at the timeline
    check_against_world(fake.kit, world, tmp_path / "run", world_id=fake.world_id)


@pytest.mark.slow
def test_confirm_mode_posts_only_what_the_operator_approves(tmp_path: Path) -> None:
    world = new_world(fake_x.kit())
    with fake_x.serve(world) as fake:
        person = Operator(decline={"2025-03-04-globex-1"})
        result = run_race(fake.kit, world, tmp_path / "run", mode="confirm", operator=person)
    assert result.finished
    rows = {str(r["probe_id"]): r for r in export_rows(tmp_path / "run")}
    assert rows["2025-03-04-globex-1"]["sent_at"] is None
    assert rows["2025-03-04-globex-1"]["status"] == "failed"
    posted = [p for p in world.visible() if p.author.script is None]
    assert len(posted) == len(person.approved)  # nothing without a yes
    assert "2025-03-04-globex-1" not in {m.probe_id for m in person.approved}


def test_a_poll_says_how_far_it_read_by_xs_clock(tmp_path: Path) -> None:
    """Probes close by the platform's time (the Date of X's answers), not by ours alone."""
    world = new_world(fake_x.kit())
    with fake_x.serve(world) as fake:
        adapter, message = live_adapter(fake.kit, world, tmp_path)
        assert message.not_before is not None
        world.clock.sleep_until(message.not_before + timedelta(hours=3))
        result = adapter.poll(None)
        adapter.close()
    assert result.as_of == world.now()
