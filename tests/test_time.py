"""Time: schedules and business hours in each brand's own zone, daylight-saving changes in both
directions (and in both hemispheres, by an hour or half an hour, at 01:00, 02:00 or midnight),
runs that stop and resume across a change, and system clocks that jump."""

from __future__ import annotations

import json
import sqlite3
import textwrap
import time as system_time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time

from harness.analysis.hours_view import business_hours_view, inside_hours
from harness.analysis.outcomes import Outcome, from_store
from harness.channels.sim.behaviour import BrandBehaviour, Stimulus
from harness.channels.sim.platform import Post
from harness.channels.simulated import SimulatedChannel
from harness.clock import Clock, SystemClock, VirtualClock
from harness.hours import WEEKDAYS, Hours, local_moment
from harness.plan.calendar import send_window
from harness.plan.expand import build_plan
from harness.plan.probe import Probe
from harness.runner.loop import Runner
from harness.runner.roster import Roster
from harness.scenario.model import Scenario
from harness.session.runs import build_channels, execute, open_run, simulate
from harness.session.scenarios import load_scenario_text
from harness.store.folder import RunFolder
from harness.store.sqlite import Store

from .simrun import export_rows, journal_posts, run_in_process

EVERY_DAY = "[mon, tue, wed, thu, fri, sat, sun]"


def scenario(zone: str, start: date, *, weeks: int = 1,
             window: tuple[str, str] = ("00:00", "24:00"), per_day: int = 1, brands: str,
             weekdays: str = EVERY_DAY, observation: str = "1d", poll: str = "5m",
             follow_up: bool = False) -> Scenario:
    """A small scenario: one persona, one X-like channel, one category, the given brands."""
    steps = ('\n            follow_up: [{after: 10m, template: "Any news?"}]' if follow_up else "")
    text = textwrap.dedent(f"""\
        name: time-test
        seed: 5
        timezone: {zone}
        personas:
          - {{id: ana, name: Ana, accounts: {{x: "@ana"}}}}
        channels:
          - {{id: x, adapter: simulated, platform: x, poll_every: {poll}}}
        categories:
          - id: question
            label: Question
            templates: ["{{{{ mention }}}} where is my parcel?"]{steps}
        schedule:
          start: {start.isoformat()}
          weeks: {weeks}
          weekdays: {weekdays}
          send_window: {{start: "{window[0]}", end: "{window[1]}"}}
          messages_per_brand_per_day: {per_day}
          observation_window: {observation}
        design: {{type: replay, mentions: [at]}}
        brands:
        """) + textwrap.indent(textwrap.dedent(brands), "  ")
    return load_scenario_text(text, "time.yaml")


def brand(id_: str, *, zone: str | None = None, hours: str = "", simulate: str = "") -> str:
    """One brand entry of a scenario's ``brands`` list."""
    lines = [f"- id: {id_}", f"  name: {id_.title()}", "  industry: Retail",
             f"  handles: {{x: ['@{id_}']}}"]
    if zone:
        lines.append(f"  timezone: {zone}")
    if hours:
        lines.append(f"  business_hours: {hours}")
    lines.append(f"  simulate: {simulate or '{}'}")
    return "\n".join(lines) + "\n"


def minutes(clock_time: str) -> int:
    hours, mins = clock_time.split(":")
    return int(hours) * 60 + int(mins)


def hhmm(total: int) -> str:
    return f"{total // 60:02d}:{total % 60:02d}"


def wall_minutes(moment: datetime, zone: ZoneInfo) -> int:
    local = moment.astimezone(zone)
    return local.hour * 60 + local.minute


# -- 1. plans across daylight-saving changes ---------------------------------------------------


class Change(NamedTuple):
    """A daylight-saving change: on ``day`` (local), local times [first, last) are skipped
    (forward) or shown twice (back)."""

    zone: str
    day: date
    direction: str  # forward | back | none
    first: str
    last: str


CHANGES = [
    Change("Europe/London", date(2024, 3, 31), "forward", "01:00", "02:00"),
    Change("Europe/London", date(2024, 10, 27), "back", "01:00", "02:00"),
    Change("America/New_York", date(2024, 3, 10), "forward", "02:00", "03:00"),
    Change("America/New_York", date(2024, 11, 3), "back", "01:00", "02:00"),
    # Southern hemisphere: forward in October, back in April.
    Change("Australia/Sydney", date(2024, 10, 6), "forward", "02:00", "03:00"),
    Change("Australia/Sydney", date(2024, 4, 7), "back", "02:00", "03:00"),
    # A half-hour change.
    Change("Australia/Lord_Howe", date(2024, 10, 6), "forward", "02:00", "02:30"),
    Change("Australia/Lord_Howe", date(2024, 4, 7), "back", "01:30", "02:00"),
    # Changes at midnight: 00:00 does not exist on 8 September; 23:00-24:00 happens twice on
    # 6 April.
    Change("America/Santiago", date(2024, 9, 8), "forward", "00:00", "01:00"),
    Change("America/Santiago", date(2024, 4, 6), "back", "23:00", "24:00"),
    # No daylight saving at all (and a half-hour offset from UTC).
    Change("Asia/Kolkata", date(2024, 3, 31), "none", "01:00", "02:00"),
]


def windows_for(change: Change) -> dict[str, tuple[str, str]]:
    """Send windows that cover the change, start in it, or end in it."""
    first, last = minutes(change.first), minutes(change.last)
    middle = (first + last) // 2
    windows = {
        "whole-day": ("00:00", "24:00"),
        "across": (hhmm(max(0, first - 60)), hhmm(min(1440, last + 60))),
        "starts-inside": (hhmm(middle), hhmm(min(1440, last + 120))),
    }
    if first > 0:  # a window ending at 00:30 on a day without 00:00-01:00 has no moment at all
        windows["ends-inside"] = (hhmm(max(0, first - 120)), hhmm(middle))
    return windows


def true_window(day: date, start: str, end: str, zone: ZoneInfo) -> set[datetime]:
    """Oracle: every UTC minute whose local date is ``day`` and local time in [start, end)."""
    low, high = minutes(start), minutes(end)
    moment = datetime.combine(day, time(0), UTC) - timedelta(hours=15)
    found = set()
    while moment < datetime.combine(day, time(0), UTC) + timedelta(hours=39):
        if moment.astimezone(zone).date() == day and low <= wall_minutes(moment, zone) < high:
            found.add(moment)
        moment += timedelta(minutes=1)
    return found


@pytest.mark.parametrize("change", CHANGES, ids=lambda c: f"{c.zone}-{c.day}")
def test_the_changes_are_where_the_table_says(change: Change) -> None:
    zone = ZoneInfo(change.zone)
    affected = range(minutes(change.first), minutes(change.last))
    starts = [datetime.combine(change.day, time(0), UTC) + timedelta(hours=h) for h in
              range(-15, 39)]
    on_day = Counter(wall_minutes(m, zone) for m in (
        start + timedelta(minutes=k) for start in starts for k in range(60))
        if m.astimezone(zone).date() == change.day)
    shown = {"forward": 0, "back": 2, "none": 1}[change.direction]
    assert all(on_day[m] == shown for m in affected)
    assert all(on_day[m] == 1 for m in range(1440) if m not in affected)


CASES = [pytest.param(change, name, window, id=f"{change.zone}-{change.day}-{name}")
         for change in CHANGES for name, window in windows_for(change).items()]


@pytest.mark.parametrize(("change", "name", "window"), CASES)
def test_send_window_is_exactly_the_local_times_in_it(change: Change, name: str,
                                                      window: tuple[str, str]) -> None:
    zone = ZoneInfo(change.zone)
    start, end = (time.max if w == "24:00" else time.fromisoformat(w) for w in window)
    spans = send_window(change.day, start, end, zone)
    covered = set()
    for first, length in spans:
        assert length % 60 == 0 and first.second == 0
        covered |= {first + timedelta(minutes=m) for m in range(length // 60)}
    assert covered == true_window(change.day, *window, zone)
    if name == "whole-day":  # 23, 25, 23.5 or 24.5 hours: the local day's real length
        day_length = (local_moment(change.day, time.max, zone)
                      - local_moment(change.day, time(0), zone))
        assert sum(length for _, length in spans) == day_length.total_seconds()
        expected = {"forward": -1, "back": 1, "none": 0}[change.direction] * (
            minutes(change.last) - minutes(change.first))
        assert day_length == timedelta(days=1, minutes=expected)


@pytest.mark.parametrize(("change", "name", "window"), CASES)
def test_plan_across_a_change_sends_every_probe_once_inside_its_local_window(
        change: Change, name: str, window: tuple[str, str]) -> None:
    zone = ZoneInfo(change.zone)
    brands = brand("alpha") + brand("beta")
    plan = build_plan(scenario(change.zone, change.day - timedelta(days=3), window=window,
                               per_day=30, brands=brands))
    days = [change.day + timedelta(days=d) for d in range(-3, 4)]
    assert len(plan) == len(days) * 30 * 2
    assert len({p.probe_id for p in plan}) == len(plan)
    per_day = Counter((p.brand, p.probe_id[:10]) for p in plan)
    assert per_day == {(b, d.isoformat()): 30 for b in ("alpha", "beta") for d in days}
    low, high = minutes(window[0]), minutes(window[1])
    skipped = range(minutes(change.first), minutes(change.last))
    repeated: Counter[int] = Counter()
    for probe in plan:
        local = probe.scheduled_at.astimezone(zone)
        assert probe.scheduled_at.utcoffset() == timedelta(0)
        assert local.date().isoformat() == probe.probe_id[:10]  # no date skipped or doubled
        wall = wall_minutes(probe.scheduled_at, zone)
        assert low <= wall < high, (probe.probe_id, local)
        if local.date() == change.day:
            if change.direction == "forward":
                assert wall not in skipped
            elif change.direction == "back" and wall in skipped:
                repeated[local.fold] += 1
        # The recorded time carries its offset: the same instant, whichever repeated hour.
        shown = datetime.fromisoformat(str(probe.record(zone)["scheduled_at"]))
        assert shown == probe.scheduled_at
        assert shown.utcoffset() == local.utcoffset()
    assert [p.scheduled_at for p in plan] == sorted(p.scheduled_at for p in plan)
    if change.direction == "back" and name == "across":
        # Both passes through the repeated hour get messages; fold tells them apart.
        assert repeated[0] > 0 and repeated[1] > 0


def test_a_window_start_skipped_by_the_clocks_moves_forward_not_back() -> None:
    # London skips 01:00-02:00 on 31 March 2024: a 01:30 start is 02:00 BST, never 00:30 GMT.
    zone = ZoneInfo("Europe/London")
    (first, length), = send_window(date(2024, 3, 31), time(1, 30), time(5), zone)
    assert first == datetime(2024, 3, 31, 1, 0, tzinfo=UTC)
    assert first.astimezone(zone).time() == time(2)
    assert length == 3 * 3600
    # A window that lies wholly in the gap has no moment: its messages go at the change.
    plan = build_plan(scenario("America/New_York", date(2024, 3, 10), window=("02:10", "02:40"),
                               per_day=3, brands=brand("alpha")))
    changed = [p for p in plan if p.probe_id.startswith("2024-03-10")]
    assert [p.scheduled_at for p in changed] == [datetime(2024, 3, 10, 7, tzinfo=UTC)] * 3


def test_the_ordinary_window_is_unchanged_by_the_fix() -> None:
    # On days without a change the window is one span, as it always was.
    zone = ZoneInfo("Europe/London")
    assert send_window(date(2024, 3, 4), time(9), time(17), zone) == (
        (datetime(2024, 3, 4, 9, tzinfo=UTC), 8 * 3600),)
    assert send_window(date(2024, 3, 31), time(9), time(17), zone) == (
        (datetime(2024, 3, 31, 8, tzinfo=UTC), 8 * 3600),)


# -- 2. business hours in the brand's own zone -----------------------------------------------


def test_opening_time_skipped_by_the_clocks_opens_at_the_change() -> None:
    # New York skips 02:00-03:00 on 10 March 2024; a desk opening at 02:30 opens at 03:00 EDT.
    night = Hours.of(["mon", "tue", "wed", "thu", "fri", "sat", "sun"], time(2, 30), time(10),
                     "America/New_York")
    midnight_est = datetime(2024, 3, 10, 5, tzinfo=UTC)
    assert night.next_open(midnight_est) == datetime(2024, 3, 10, 7, tzinfo=UTC)
    assert not night.is_open(datetime(2024, 3, 10, 6, 45, tzinfo=UTC))  # 01:45 EST
    assert night.is_open(datetime(2024, 3, 10, 7, 0, tzinfo=UTC))  # 03:00 EDT
    assert night.add(midnight_est, timedelta(minutes=10)) == datetime(2024, 3, 10, 7, 10,
                                                                       tzinfo=UTC)
    # Santiago skips 00:00-01:00 on 8 September 2024: a midnight opening is 01:00, that day.
    always = Hours.of(["sun"], time(0), time.max, "America/Santiago")
    opening = always.next_open(datetime(2024, 9, 7, 12, tzinfo=UTC))
    assert opening == datetime(2024, 9, 8, 4, tzinfo=UTC)
    assert opening.astimezone(ZoneInfo("America/Santiago")).date() == date(2024, 9, 8)


@pytest.mark.parametrize(("zone", "friday", "monday_open"), [
    # New York changes on Sunday 10 March: Friday closes at 17:00 EST, Monday opens 09:00 EDT.
    ("America/New_York", date(2024, 3, 8), datetime(2024, 3, 11, 13, tzinfo=UTC)),
    # Sydney changes on Sunday 7 April (back): Monday opens at 09:00 AEST.
    ("Australia/Sydney", date(2024, 4, 5), datetime(2024, 4, 7, 23, tzinfo=UTC)),
    # Lord Howe, the same weekend, by half an hour: 09:00 +10:30.
    ("Australia/Lord_Howe", date(2024, 4, 5), datetime(2024, 4, 7, 22, 30, tzinfo=UTC)),
])
def test_queued_work_resumes_at_local_opening_after_a_weekend_change(
        zone: str, friday: date, monday_open: datetime) -> None:
    hours = Hours.of(["mon", "tue", "wed", "thu", "fri"], time(9), time(17), zone)
    started = local_moment(friday, time(16, 30), ZoneInfo(zone))
    done = hours.add(started, timedelta(hours=1))
    assert done == monday_open + timedelta(minutes=30)
    assert done.astimezone(ZoneInfo(zone)).time() == time(9, 30)


def test_round_the_clock_work_counts_real_time_on_a_short_day() -> None:
    always = Hours.of(["mon", "tue", "wed", "thu", "fri", "sat", "sun"], time(0), time.max,
                      "Europe/London")
    start = datetime(2024, 3, 31, 0, tzinfo=UTC)  # local midnight; the day lasts 23 hours
    assert always.add(start, timedelta(hours=24)) == start + timedelta(hours=24)
    start = datetime(2024, 10, 26, 23, tzinfo=UTC)  # local midnight; the day lasts 25 hours
    assert always.add(start, timedelta(hours=24)) == start + timedelta(hours=24)


QUEUE = ("{reply: {at: 1.0}, latency: {median: %s, spread: 0.8, minimum: 1m}, "
         "off_hours: queue, weekends: queue}")
OFFICE = "{days: [mon, tue, wed, thu, fri], open: '09:00', close: '17:00'}"
# (brand, zone, business hours, median latency): each brand's zone differs from the
# scenario's (Asia/Tokyo, no daylight saving).
HOUR_BRANDS = [
    ("nyc", "America/New_York", OFFICE, "2h"),  # forward on 10 March
    ("ldn", "Europe/London", OFFICE, "2h"),  # forward on 31 March
    ("syd", "Australia/Sydney", OFFICE, "2h"),  # back on 7 April
    ("lhw", "Australia/Lord_Howe", OFFICE, "2h"),  # back by half an hour on 7 April
    # A night desk whose opening time does not exist on 10 March in New York.
    ("owl", "America/New_York", "{days: [mon, tue, wed, thu, fri, sat, sun], "
     "open: '02:30', close: '10:00'}", "10m"),
]


@pytest.fixture(scope="module")
def hours_race(tmp_path_factory: pytest.TempPathFactory) -> tuple[Scenario, Path]:
    brands = "".join(brand(b, zone=z, hours=h, simulate=QUEUE % latency)
                     for b, z, h, latency in HOUR_BRANDS)
    race = scenario("Asia/Tokyo", date(2024, 3, 4), weeks=6, per_day=2, brands=brands,
                    observation="3d")
    folder = tmp_path_factory.mktemp("hours")
    assert run_in_process(race, folder)
    return race, folder


def _brand_replies(folder: Path) -> list[tuple[str, datetime]]:
    db = sqlite3.connect(folder / "run.sqlite")
    try:
        return [(b, datetime.fromisoformat(c)) for b, c in db.execute(
            "SELECT p.brand, r.created_at FROM replies r JOIN probes p USING (probe_id)"
            " WHERE r.from_brand = 1 AND r.automated = 0 AND r.kind = 'public_reply'")]
    finally:
        db.close()


def test_queued_replies_come_only_in_the_brands_own_hours_across_its_change(
        hours_race: tuple[Scenario, Path]) -> None:
    race, folder = hours_race
    replies = _brand_replies(folder)
    by_brand: dict[str, list[datetime]] = {}
    for brand_id, when in replies:
        by_brand.setdefault(brand_id, []).append(when)
    tokyo = ZoneInfo("Asia/Tokyo")
    for brand_id, zone_name, hours_text, _ in HOUR_BRANDS:
        zone = ZoneInfo(zone_name)
        config = next(b for b in race.brands if b.id == brand_id).business_hours
        hours = Hours.of(config.days, config.open, config.close, zone_name)
        created = by_brand[brand_id]
        assert len(created) == 6 * 7 * 2  # every message answered, sooner or later
        offsets = set()
        for moment in created:
            local = moment.astimezone(zone)
            offsets.add(local.utcoffset())
            assert local.weekday() in hours.days, (brand_id, local)
            # Open at 09:00 (02:30) local, done by 17:00 (10:00) local, whatever the offset.
            opened = local_moment(local.date(), config.open, zone)
            assert opened <= moment <= local_moment(local.date(), config.close, zone), (
                brand_id, local)
        assert len(offsets) == 2, brand_id  # replies on both sides of the brand's change
        # Many queued replies come in the first local hour after opening, on both sides.
        early = {m.astimezone(zone).utcoffset() for m in created
                 if m - local_moment(m.astimezone(zone).date(), config.open, zone)
                 < timedelta(hours=1)}
        assert early == offsets, brand_id
        # ...and the scenario's zone is not the brand's: replies outside 09:00-17:00 Tokyo.
        if hours_text == OFFICE:
            assert any(not time(9) <= m.astimezone(tokyo).time() <= time(17) for m in created)
    owl = [m.astimezone(ZoneInfo("America/New_York")) for m in by_brand["owl"]
           if m.astimezone(ZoneInfo("America/New_York")).date() == date(2024, 3, 10)]
    assert owl and min(owl).time() >= time(3)  # opened at the change, not at 01:30 EST


# -- 5. the business-hours view on daylight-saving days ---------------------------------------


def _sent(brand_id: str, when: datetime, latency: int | None = None) -> Outcome:
    probe = Probe(f"p-{brand_id}", 0, "ana", brand_id, "Retail", "x", "faq", "at", 1, 1, when,
                  "hi")
    responded = latency is not None
    return Outcome(probe, when, "closed", None, None, latency, responded, False,
                   int(responded), 0, 0, False, False, 0)


VIEW_ZONES = {  # brand -> (zone, a winter date, a summer date, the change date)
    "ldn": ("Europe/London", date(2024, 3, 30), date(2024, 4, 1), date(2024, 3, 31)),
    "nyc": ("America/New_York", date(2024, 11, 4), date(2024, 11, 2), date(2024, 11, 3)),
    "syd": ("Australia/Sydney", date(2024, 4, 8), date(2024, 4, 6), date(2024, 4, 7)),
    "lhw": ("Australia/Lord_Howe", date(2024, 10, 5), date(2024, 10, 7), date(2024, 10, 6)),
}


@pytest.mark.parametrize("brand_id", sorted(VIEW_ZONES))
def test_view_classifies_by_local_time_in_summer_winter_and_on_the_change_day(
        brand_id: str) -> None:
    zone_name, winter, summer, change = VIEW_ZONES[brand_id]
    zone = ZoneInfo(zone_name)
    hours = {brand_id: Hours.of(["mon", "tue", "wed", "thu", "fri", "sat", "sun"], time(9),
                                time(17), zone_name)}
    days = (winter, summer, change)
    offsets = {datetime.combine(d, time(12), zone).utcoffset() for d in (winter, summer)}
    assert len(offsets) == 2  # the dates really are on both sides of the change
    for day in days:
        for clock_time, inside in ((time(8, 30), False), (time(9, 30), True),
                                   (time(16, 59), True), (time(17, 0), False)):
            moment = datetime.combine(day, clock_time, zone).astimezone(UTC)
            assert inside_hours(_sent(brand_id, moment), hours) is inside, (day, clock_time)
    # The same local times on each side give the same figures.
    outcomes = [_sent(brand_id, datetime.combine(d, t, zone).astimezone(UTC), latency)
                for d in days for t, latency in ((time(8, 30), 5400), (time(10), 600),
                                                 (time(20), None))]
    view = business_hours_view(outcomes, hours, window=86400)
    assert (view["inside"].rate.k, view["inside"].rate.n) == (3, 3)
    assert view["inside"].answered_within_1h_k == 3
    assert (view["outside"].rate.k, view["outside"].rate.n) == (3, 6)
    assert view["outside"].answered_within_1h_k == 0


def test_report_business_hours_use_each_brands_zone(hours_race: tuple[Scenario, Path]) -> None:
    from harness.analysis.summary import summarize

    race, folder = hours_race
    store = Store.open(folder / "run.sqlite")
    try:
        outcomes = from_store(store)
    finally:
        store.close()
    figures = summarize(outcomes, race).business_hours
    counts = {"inside": [0, 0], "outside": [0, 0]}
    for outcome in outcomes:
        assert outcome.sent_at is not None
        config = next(b for b in race.brands if b.id == outcome.probe.brand)
        assert config.timezone is not None and config.timezone != race.timezone
        local = outcome.sent_at.astimezone(ZoneInfo(config.timezone))
        hours = config.business_hours
        opened = local_moment(local.date(), hours.open, ZoneInfo(config.timezone))
        closed = local_moment(local.date(), hours.close, ZoneInfo(config.timezone))
        inside = (WEEKDAYS[local.weekday()] in hours.days
                  and opened <= outcome.sent_at < closed
                  and hours.open <= local.time())  # by the wall clock, too
        tally = counts["inside" if inside else "outside"]
        tally[0] += outcome.responded
        tally[1] += 1
    for side, (k, n) in counts.items():
        assert (figures[side].answered.k, figures[side].answered.n) == (k, n), side
    assert counts["inside"][1] > 50 and counts["outside"][1] > 50


# -- 3. a run that starts before a change and ends after it ----------------------------------


def _run_until(race: Scenario, folder: Path, moment: datetime) -> bool:
    """Run (or resume) until the first pass at or after ``moment`` (True: it finished)."""

    def stop_there(runner: Runner) -> None:
        def check(*, now: datetime, **_: object) -> None:
            if now >= moment:
                runner.stop_requested = True

        runner.events.tick.add_listener(check)

    return simulate(race, folder, on_runner=stop_there).finished


def _last_activity(folder: Path) -> datetime:
    store = Store.open(folder / "run.sqlite")
    try:
        moment = store.last_activity()
        assert moment is not None
        return moment
    finally:
        store.close()


RESUME_BRANDS = (
    brand("fast", simulate="{reply: {at: 0.9}, latency: {median: 20m, spread: 1.0}, "
                           "follow_up_reply: 1.0, direct_message: 0.3}")
    + brand("queue", zone="America/New_York", simulate=QUEUE % "3h")
    + brand("acks", zone="Australia/Sydney", simulate="{reply: {at: 0.5}, latency: {median: 6h}, "
            "off_hours: queue, auto_ack: {probability: 1.0, after: 2m}}")
    + brand("mute"))


@pytest.mark.parametrize(("zone", "change"), [
    ("Europe/London", datetime(2024, 3, 31, 1, tzinfo=UTC)),
    ("Europe/London", datetime(2024, 10, 27, 1, tzinfo=UTC)),
    ("Australia/Lord_Howe", datetime(2024, 4, 6, 15, tzinfo=UTC)),
], ids=["london-forward", "london-back", "lord-howe-back-half-an-hour"])
@pytest.mark.slow
def test_stopping_and_resuming_around_a_change_gives_the_same_run(
        zone: str, change: datetime, tmp_path: Path) -> None:
    local_day = change.astimezone(ZoneInfo(zone)).date()
    race = scenario(zone, local_day - timedelta(days=2), weeks=1, per_day=4,
                    brands=RESUME_BRANDS, follow_up=True, observation="2d")
    planned = len(build_plan(race))
    assert planned == 7 * 4 * 4
    assert run_in_process(race, tmp_path / "whole")
    whole = export_rows(tmp_path / "whole", zone)
    # Stop just before the change, just after it, and an hour later (in a repeated hour, the
    # clocks' second pass), then resume to the end.
    folder = tmp_path / "pieces"
    stops = [change - timedelta(minutes=20), change + timedelta(minutes=10),
             change + timedelta(hours=1, minutes=5)]
    for moment in stops:
        assert not _run_until(race, folder, moment)
        assert moment <= _last_activity(folder) < moment + timedelta(hours=2)
    assert run_in_process(race, folder)
    # And once more in many small pieces across the change.
    jerky = tmp_path / "jerky"
    assert not _run_until(race, jerky, change - timedelta(hours=3))
    pieces = 0
    while not run_in_process(race, jerky, stop_after_ticks=4):
        pieces += 1
        assert pieces < 2000
    assert pieces > 10
    for piecewise in (folder, jerky):
        assert export_rows(piecewise, zone) == whole
        posts = journal_posts(piecewise)
        assert len(posts) == len(set(posts))  # nothing posted twice
        assert sum(1 for _, step in posts if step == 0) == planned  # nothing skipped
        assert Counter(r["status"] for r in export_rows(piecewise)) == {"closed": planned}
    # The run really crossed the change: messages went out on both sides of it, in local time.
    offsets = {datetime.fromisoformat(str(r["sent_at"])).utcoffset() for r in whole}
    assert len(offsets) == 2
    assert any(r["responded"] for r in whole) and any(r["follow_ups_sent"] for r in whole)


# -- 4. a system clock that jumps ------------------------------------------------------------


class LiveLikeChannel(SimulatedChannel):
    """The simulated platform behind an adapter that cannot see the future, like a live one:
    the runner polls it every ``poll_every`` by its own clock."""

    knows_future = False


class SteppedClock:
    """The runner's system clock: the platform's (true) time plus an offset that steps at
    scripted true moments, as when someone sets the clock back an hour or NTP corrects it.
    Not virtual: sleeping waits (in true time) until this clock shows the moment, re-reading
    it like :class:`~harness.clock.SystemClock` does, so a step back makes a sleep longer and
    a step forward ends it early."""

    is_virtual = False

    def __init__(self, true: VirtualClock, steps: list[tuple[datetime, timedelta]]) -> None:
        self.true = true
        self.steps = sorted(steps)
        self.sleeps = 0

    def offset(self, at: datetime) -> timedelta:
        return sum((delta for when, delta in self.steps if when <= at), timedelta(0))

    def now(self) -> datetime:
        return self.true.now() + self.offset(self.true.now())

    def sleep_until(self, moment: datetime) -> None:
        self.sleeps += 1
        assert self.sleeps < 200_000, "the runner is spinning instead of waiting"
        while self.now() < moment:
            current = self.true.now()
            target = moment - self.offset(current)
            step = next((when for when, _ in self.steps if current < when <= target), None)
            self.true.sleep_until(step or target)


class SuspendingClock(VirtualClock):
    """A clock shared by the runner and the platform whose sleeps, at scripted moments, end
    hours late (the machine was suspended); not virtual, so the runner treats it as real."""

    is_virtual = False

    def __init__(self, start: datetime, naps: list[tuple[datetime, timedelta]]) -> None:
        super().__init__(start)
        self.naps = sorted(naps)

    def sleep_until(self, moment: datetime) -> None:
        for when, extra in list(self.naps):
            if self.now() < when <= moment:
                self.naps.remove((when, extra))
                moment = max(moment, when + extra)
        super().sleep_until(moment)


JUMP_START = date(2024, 3, 29)  # Friday; London springs forward on Sunday 31 March


def _jump_race() -> Scenario:
    return scenario("Europe/London", JUMP_START, weeks=1, per_day=5, brands=RESUME_BRANDS,
                    weekdays="[fri, sat, sun]", follow_up=True, observation="1d", poll="10m")


def _run_on(race: Scenario, folder: Path, runner_clock: Callable[[VirtualClock], Clock],
            true: VirtualClock | None = None) -> Runner:
    """Run ``race`` to the end with the platform on a true virtual clock (from the first
    probe, or ``true``) and the runner on ``runner_clock(true)``."""
    with RunFolder(folder) as run_folder:
        store = open_run(run_folder, race, "", "", durable=False)
        try:
            first = store.first_scheduled_at()
            assert first is not None
            true = true or VirtualClock(first)
            channels = build_channels(race, true, folder, adapter=LiveLikeChannel)
            runner = Runner(store, channels, runner_clock(true), Roster.from_scenario(race),
                            window=race.schedule.observation_window,
                            poll_every={c.id: c.poll_every for c in race.channels})
            try:
                assert runner.run()
            finally:
                for channel in channels.values():
                    channel.close()
            return runner
        finally:
            store.close()


def _truth(race: Scenario, folder: Path) -> dict[str, tuple[datetime, int | None]]:
    """What the platform knows: each probe's post time and its brand's first public reply
    delay (the reaction the simulated brand schedules), independent of the runner."""
    behaviours = {b.id: BrandBehaviour(b, b.timezone or race.timezone, race.seed)
                  for b in race.brands}
    names = {p.id: p.name for p in race.personas}
    truth = {}
    for line in (folder / "simulated-x.jsonl").read_text(encoding="utf-8").splitlines():
        fields = json.loads(line)
        fields[9] = datetime.fromisoformat(fields[9])
        post = Post(*fields)
        if post.step != 0:
            continue
        reactions = behaviours[post.brand].react(Stimulus(
            post.probe_id, 0, post.mention, post.category, names[post.persona],
            post.created_at))
        replies = [r.created_at for r in reactions
                   if r.kind == "public_reply" and not r.automated]
        delay = int((replies[0] - post.created_at).total_seconds()) if replies else None
        truth[post.probe_id] = (post.created_at, delay)
    return truth


def _check_against_platform(race: Scenario, folder: Path) -> list[dict[str, object]]:
    planned = build_plan(race)
    rows = export_rows(folder)
    posts = journal_posts(folder)
    assert len(posts) == len(set(posts)), "a probe step was posted twice"
    assert sorted(pid for pid, step in posts if step == 0) == sorted(p.probe_id for p in planned)
    assert Counter(r["status"] for r in rows) == {"closed": len(planned)}
    truth = _truth(race, folder)
    window = race.schedule.observation_window.total_seconds()
    for row in rows:
        posted, delay = truth[str(row["probe_id"])]
        assert datetime.fromisoformat(str(row["sent_at"])) == posted  # the platform's time
        answered = delay is not None and delay <= window
        assert row["responded"] is answered, row["probe_id"]
        if answered or row["latency_s"] is not None:  # a late reply may come after the end
            assert row["latency_s"] == delay, row["probe_id"]
    return rows


def test_a_clock_set_back_an_hour_then_corrected_sends_nothing_twice(tmp_path: Path) -> None:
    race = _jump_race()
    # True times: set back an hour on Friday morning, corrected (forward) on Friday evening;
    # set back again at 00:30 GMT on Sunday, just before the change to summer time, and
    # corrected on Sunday afternoon.
    steps = [(datetime(2024, 3, 29, 10, 7, tzinfo=UTC), timedelta(hours=-1)),
             (datetime(2024, 3, 29, 18, 2, tzinfo=UTC), timedelta(hours=1)),
             (datetime(2024, 3, 31, 0, 30, tzinfo=UTC), timedelta(hours=-1)),
             (datetime(2024, 3, 31, 15, 0, tzinfo=UTC), timedelta(hours=1))]
    _run_on(race, tmp_path, lambda true: SteppedClock(true, steps))
    rows = _check_against_platform(race, tmp_path)
    assert any(r["responded"] for r in rows)
    # The runner's own clock was an hour behind for some sends; the record keeps the
    # platform's time for them (and the latency is measured from it).
    db = sqlite3.connect(tmp_path / "run.sqlite")
    gaps = Counter(datetime.fromisoformat(s) - datetime.fromisoformat(i) for i, s in db.execute(
        "SELECT intended_at, sent_at FROM sends WHERE state = 'sent' AND step = 0"))
    db.close()
    assert gaps[timedelta(hours=1)] > 0 and gaps[timedelta(0)] > 0


def test_a_machine_suspended_for_hours_sends_the_overdue_probes_once(tmp_path: Path) -> None:
    race = _jump_race()
    naps = [(datetime(2024, 3, 29, 9, 0, tzinfo=UTC), timedelta(hours=7)),
            (datetime(2024, 3, 31, 0, 45, tzinfo=UTC), timedelta(hours=5))]  # across the change
    # One clock for the runner and the platform: after a suspend, real time has moved on.
    clock = SuspendingClock(build_plan(race)[0].scheduled_at, naps)
    result = execute(race, tmp_path, live=False, clock=clock, adapter=LiveLikeChannel)
    assert result.finished and result.sent == result.planned == len(build_plan(race))
    assert not clock.naps  # both suspends happened
    rows = _check_against_platform(race, tmp_path)
    late = [r for r in rows if datetime.fromisoformat(str(r["sent_at"]))
            - datetime.fromisoformat(str(r["scheduled_at"])) > timedelta(hours=1)]
    assert len(late) >= 3  # the probes due while asleep went out late, once each


def test_a_clock_jumping_hours_ahead_does_not_close_probes_before_their_window_ends(
        tmp_path: Path) -> None:
    race = _jump_race()
    # Late on Sunday, after the last sends, the system clock leaps six hours ahead (a bad
    # NTP server or hardware clock) and stays there. Probes close by the platform's time
    # (PollResult.as_of), so none closes before its window ends.
    steps = [(datetime(2024, 3, 31, 23, 0, tzinfo=UTC), timedelta(hours=6))]
    _run_on(race, tmp_path, lambda true: SteppedClock(true, steps))
    _check_against_platform(race, tmp_path)


class FrozenSystem:
    """freezegun's frozen system time, with ``time.sleep`` moving it on instead of waiting:
    :class:`~harness.clock.SystemClock` runs unchanged, at no cost in real time."""

    def __init__(self, frozen: Any) -> None:
        self.frozen = frozen
        self.naps: list[float] = []
        self.after_nap: list[Callable[[float], None]] = []  # real time passing elsewhere

    def sleep(self, seconds: float) -> None:
        self.naps.append(seconds)
        self.frozen.tick(timedelta(seconds=seconds))
        for hook in list(self.after_nap):
            hook(seconds)

    def jump(self, delta: timedelta) -> None:
        """The system clock is set ``delta`` away (back if negative)."""
        self.frozen.move_to(datetime.now(UTC) + delta)


@pytest.fixture
def system(monkeypatch: pytest.MonkeyPatch) -> Iterator[FrozenSystem]:
    # (pytest's own timing keeps real time, or --durations would show years)
    with freeze_time("2024-03-31 00:59:00", tick=False, ignore=["_pytest.runner"]) as frozen:
        frozen_system = FrozenSystem(frozen)
        monkeypatch.setattr(system_time, "sleep", frozen_system.sleep)  # as SystemClock sleeps
        yield frozen_system


def test_system_clock_is_utc_and_does_not_jump_at_a_daylight_saving_change(
        system: FrozenSystem) -> None:
    clock = SystemClock(max_nap=30)
    before = clock.now()
    assert before == datetime(2024, 3, 31, 0, 59, tzinfo=UTC)
    assert before.utcoffset() == timedelta(0)
    clock.sleep_until(before + timedelta(minutes=2))  # London goes 00:59 GMT -> 02:01 BST
    assert clock.now() - before == timedelta(minutes=2)
    assert sum(system.naps) == 120 and max(system.naps) <= 30
    assert clock.now().astimezone(ZoneInfo("Europe/London")).time() == time(2, 1)


def test_system_clock_sleep_outlasts_a_jump_back_and_ends_at_a_jump_forward(
        system: FrozenSystem) -> None:
    clock = SystemClock(max_nap=60)

    def once(delta: timedelta) -> Callable[[float], None]:
        def hook(_: float) -> None:
            system.after_nap.remove(hook)
            system.jump(delta)
        return hook

    start = clock.now()
    system.after_nap.append(once(timedelta(hours=-1)))
    clock.sleep_until(start + timedelta(minutes=10))
    assert clock.now() >= start + timedelta(minutes=10)  # never returns early...
    assert sum(system.naps) == 70 * 60  # ...so it waits out the repeated hour
    system.naps.clear()
    start = clock.now()
    system.after_nap.append(once(timedelta(hours=5)))
    clock.sleep_until(start + timedelta(hours=2))
    assert system.naps == [60]  # woke at its next look at the clock
    assert clock.now() == start + timedelta(hours=5, minutes=1)


def test_a_run_on_the_system_clock_survives_jumps_back_and_forward(
        system: FrozenSystem, tmp_path: Path) -> None:
    race = _jump_race()
    first = build_plan(race)[0].scheduled_at
    system.frozen.move_to(first)
    true = VirtualClock(first)  # the platform's clock: real time, which never jumps
    # Set back an hour on Friday morning and corrected in the evening; set back again just
    # before London's change to summer time early on Sunday, corrected on Sunday morning.
    jumps = [(datetime(2024, 3, 29, 10, 7, tzinfo=UTC), timedelta(hours=-1)),
             (datetime(2024, 3, 29, 20, 0, tzinfo=UTC), timedelta(hours=1)),
             (datetime(2024, 3, 31, 0, 20, tzinfo=UTC), timedelta(hours=-1)),
             (datetime(2024, 3, 31, 9, 0, tzinfo=UTC), timedelta(hours=1))]

    def real_time_passes(seconds: float) -> None:
        true.sleep_until(true.now() + timedelta(seconds=seconds))
        while jumps and jumps[0][0] <= true.now():
            system.jump(jumps.pop(0)[1])

    system.after_nap.append(real_time_passes)
    _run_on(race, tmp_path, lambda _: SystemClock(max_nap=300), true)
    assert not jumps  # every jump happened during the run
    rows = _check_against_platform(race, tmp_path)
    assert any(r["responded"] for r in rows)
