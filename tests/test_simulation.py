"""The simulated brands: seeded per probe, business hours in the brand's own time zone."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from harness.channels.sim.behaviour import BrandBehaviour, Stimulus
from harness.hours import Hours
from harness.scenario.model import Brand, Scenario


def _brand(**simulate: object) -> Brand:
    return Brand.model_validate({
        "id": "b", "name": "B", "industry": "Retail", "timezone": "America/New_York",
        "business_hours": {"days": ["mon", "tue", "wed", "thu", "fri"], "open": "09:00",
                           "close": "17:00"},
        "simulate": {"reply": {"at": 1.0}, "latency": {"median": "2h", "spread": 0.0},
                     **simulate},
    })


def _stimulus(when: datetime, probe: str = "p1", mention: str = "at") -> Stimulus:
    return Stimulus(probe, 0, mention, "faq", "Ana", when)


def test_reactions_depend_only_on_seed_probe_and_step() -> None:
    brand = _brand(**{"reply": {"at": 0.5}, "latency": {"median": "1h", "spread": 1.0}})
    when = datetime(2024, 3, 5, 15, 0, tzinfo=UTC)
    one = BrandBehaviour(brand, "UTC", seed=1)
    other = BrandBehaviour(brand, "UTC", seed=1)
    forwards = [one.react(_stimulus(when, f"p{i}")) for i in range(50)]
    backwards = [other.react(_stimulus(when, f"p{i}")) for i in reversed(range(50))][::-1]
    assert forwards == backwards
    assert 10 < sum(1 for r in forwards if r) < 40  # about half answered
    reseeded = BrandBehaviour(brand, "UTC", seed=2)
    assert forwards != [reseeded.react(_stimulus(when, f"p{i}")) for i in range(50)]


def test_queue_off_hours_counts_latency_in_business_hours_of_the_brand_zone() -> None:
    behaviour = BrandBehaviour(_brand(off_hours="queue"), "America/New_York", seed=1)
    # Friday 16:00 New York: one working hour left, then the weekend, then Monday 09:00.
    friday = datetime(2024, 3, 8, 21, 0, tzinfo=UTC)
    [reply] = behaviour.react(_stimulus(friday))
    assert reply.created_at == datetime(2024, 3, 11, 14, 0, tzinfo=UTC)  # Mon 10:00 EDT


def test_answering_brands_reply_at_once_whatever_the_hour() -> None:
    behaviour = BrandBehaviour(_brand(off_hours="answer"), "America/New_York", seed=1)
    night = datetime(2024, 3, 6, 4, 0, tzinfo=UTC)  # Tuesday 23:00 in New York
    [reply] = behaviour.react(_stimulus(night))
    assert reply.created_at == night + timedelta(hours=2)


def test_weekend_messages_can_be_ignored_or_queued_to_monday() -> None:
    saturday = datetime(2024, 3, 9, 16, 0, tzinfo=UTC)
    ignoring = BrandBehaviour(_brand(weekends="ignore"), "America/New_York", seed=1)
    assert ignoring.react(_stimulus(saturday)) == []
    queueing = BrandBehaviour(_brand(weekends="queue"), "America/New_York", seed=1)
    [reply] = queueing.react(_stimulus(saturday))
    assert reply.created_at == datetime(2024, 3, 11, 15, 0, tzinfo=UTC)  # Mon 09:00 EDT + 2h


def test_mention_mode_and_category_set_the_reply_chance() -> None:
    brand = _brand(**{"reply": {"at": 1.0, "name": 0.0}, "category": {"faq": 0.0}})
    behaviour = BrandBehaviour(brand, "UTC", seed=3)
    when = datetime(2024, 3, 5, 15, 0, tzinfo=UTC)
    assert behaviour.react(Stimulus("p", 0, "name", "urgent", "A", when)) == []
    assert behaviour.react(Stimulus("p", 0, "at", "faq", "A", when)) == []
    assert behaviour.react(Stimulus("p", 0, "at", "urgent", "A", when))


def test_auto_acknowledgement_comes_first_and_is_marked_automated() -> None:
    behaviour = BrandBehaviour(
        _brand(auto_ack={"probability": 1.0, "after": "1m", "text": "Got it!"}), "UTC", seed=1)
    when = datetime(2024, 3, 5, 15, 0, tzinfo=UTC)
    ack, reply = behaviour.react(_stimulus(when))
    assert ack.automated and ack.created_at == when + timedelta(minutes=1)
    assert not reply.automated and reply.created_at > ack.created_at


def test_business_hours_survive_daylight_saving_changes() -> None:
    hours = Hours.of(["mon", "tue", "wed", "thu", "fri", "sat", "sun"], time(9), time(17),
                     "America/New_York")
    # 2024-03-10 is the spring-forward Sunday in New York: 09:00 EDT is 13:00 UTC.
    saturday_close = datetime(2024, 3, 9, 22, 0, tzinfo=UTC)  # 17:00 EST
    assert not hours.is_open(saturday_close)
    assert hours.next_open(saturday_close) == datetime(2024, 3, 10, 13, 0, tzinfo=UTC)
    assert hours.add(saturday_close, timedelta(hours=9)) == datetime(
        2024, 3, 11, 14, 0, tzinfo=UTC)  # 8 h on Sunday, then 1 h on Monday (EDT)


def test_the_platform_rebuilds_the_same_state_from_its_journal(small_scenario: Scenario,
                                                               tmp_path: object) -> None:
    from pathlib import Path

    from harness.channels.sim.platform import Post, SimulatedPlatform

    folder = Path(str(tmp_path))
    behaviours = {b.id: BrandBehaviour(b, "UTC", 7) for b in small_scenario.brands}
    authors = {b.id: f"@{b.id}" for b in small_scenario.brands}
    platform = SimulatedPlatform(folder / "j.jsonl", behaviours, authors, {})
    when = datetime(2024, 3, 5, 10, 0, tzinfo=UTC)
    for number, brand in enumerate(["fast", "slow", "bank", "fast"]):
        platform.post(Post(f"id{number}", f"p{number}", 0, "ana", "@ana", brand, "at",
                           "question", "hi", when + timedelta(minutes=number), None))
    platform.close()
    with (folder / "j.jsonl").open("a", encoding="utf-8") as journal:
        journal.write('["torn-post", "p9"')  # a write cut short by a crash
    rebuilt = SimulatedPlatform(folder / "j.jsonl", behaviours, authors, {})
    end = when + timedelta(days=30)
    assert [e.platform_id for e in rebuilt.visible(None, end)] == [
        e.platform_id for e in platform.visible(None, end)]
    assert rebuilt.find("p3", 0) is not None and rebuilt.find("p4", 0) is None
    rebuilt.close()


def test_draws_are_strictly_inside_the_unit_interval() -> None:
    from harness.channels.sim.behaviour import _draws

    values = [v for n in range(2000) for v in _draws(f"k{n}")]
    assert all(0.0 < v < 1.0 for v in values)
    assert 0.45 < sum(values) / len(values) < 0.55  # roughly uniform
    assert _draws("same") == _draws("same") and _draws("a") != _draws("b")
