"""The alert state machine, transition by transition: one breach when an objective starts
failing, one recovery (with how long it lasted) when it passes again and only after a breach,
reminders on an exact grid, insufficient verdicts, restarts and maintenance periods."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from harness.analysis.objectives import Status, Verdict
from harness.monitor.alerting import Notice, decide
from harness.monitor.messages import compose
from harness.scenario.objectives import Alerts, Maintenance
from harness.store.alerts import AlertState

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def verdict(status: Status, at: datetime, *, brand: str = "acme",
            objective: str = "answered") -> Verdict:
    good, decided = {"pass": (9, 10), "fail": (3, 10), "insufficient": (1, 2)}[status]
    return Verdict(objective, brand, status, good, decided, 0, 0, 0.8, (0.1, 0.9), False,
                   None, at, "answered within the observation window", "rule", "reason", None,
                   ())


class Follower:
    """Feeds verdicts to the state machine moment by moment, keeping its states as the store
    would (what one round writes, the next reads back)."""

    def __init__(self, alerts: Alerts | None = None,
                 maintenance: Sequence[Maintenance] = ()) -> None:
        self.alerts = alerts or Alerts(urls=["json://127.0.0.1/hook"])
        self.maintenance = list(maintenance)
        self.states: dict[tuple[str, str], AlertState] = {}
        self.notices: list[Notice] = []

    def judge(self, at: datetime, *statuses: Status, brands: Sequence[str] = ("acme",)
              ) -> list[Notice]:
        verdicts = [verdict(status, at, brand=brand)
                    for status, brand in zip(statuses, brands, strict=True)]
        states, notices = decide(self.states, verdicts, at, maintenance=self.maintenance,
                                 zone=UTC, alerts=self.alerts)
        self.states.update((s.key, s) for s in states)
        self.notices += notices
        return notices

    def series(self, statuses: Sequence[Status], *, start: datetime = T0,
               every: timedelta = HOUR) -> list[Notice]:
        found = []
        for index, status in enumerate(statuses):
            found += self.judge(start + index * every, status)
        return found

    def kinds(self) -> list[str]:
        return [n.kind for n in self.notices]


def test_a_breach_is_announced_once_however_often_it_is_judged_failing() -> None:
    follower = Follower()
    failing: list[Status] = ["fail"] * 20
    follower.series(["pass", *failing])
    assert follower.kinds() == ["breach"]
    (breach,) = follower.notices
    assert breach.at == breach.breach_since == T0 + HOUR


def test_a_recovery_follows_a_breach_and_says_how_long_it_lasted() -> None:
    follower = Follower()
    follower.series(["pass", "fail", "fail", "fail", "pass", "pass", "pass"])
    assert follower.kinds() == ["breach", "recovery"]
    recovery = follower.notices[1]
    assert recovery.breach_since == T0 + HOUR
    assert recovery.recovered_at == recovery.at == T0 + 4 * HOUR
    text = compose(recovery, run="watch", brand_name="Acme", zone=UTC, simulated=False,
                   seed="1").text
    assert "the breach lasted 3h 00m" in text


def test_flapping_gives_a_breach_and_a_recovery_each_time_never_two_breaches_in_a_row() -> None:
    follower = Follower()
    follower.series(["pass", "fail", "pass", "fail", "fail", "pass", "fail", "pass", "fail"])
    assert follower.kinds() == ["breach", "recovery", "breach", "recovery", "breach",
                                "recovery", "breach"]


def test_a_recovery_is_never_sent_without_a_breach_before_it() -> None:
    follower = Follower()
    follower.series(["insufficient", "pass", "pass", "insufficient", "pass"])
    assert follower.notices == []
    assert follower.states["answered", "acme"].state == "ok"


def test_judging_the_same_state_again_after_a_restart_sends_nothing() -> None:
    follower = Follower()
    follower.series(["pass", "fail", "fail"])
    assert follower.kinds() == ["breach"]
    restarted = Follower()
    restarted.states = dict(follower.states)  # read back from the store
    assert restarted.judge(T0 + 2 * HOUR, "fail") == []  # the moment already judged
    assert restarted.judge(T0 + 2 * HOUR - timedelta(minutes=5), "pass") == []  # earlier
    assert restarted.states == follower.states  # and nothing was changed by them
    assert restarted.judge(T0 + 3 * HOUR, "fail") == []  # later, still failing: nothing new
    assert [n.kind for n in restarted.judge(T0 + 4 * HOUR, "pass")] == ["recovery"]


def test_the_first_verdict_failing_is_a_breach_and_insufficient_is_no_verdict_at_all() -> None:
    follower = Follower()
    follower.series(["insufficient", "insufficient", "fail"])
    assert follower.kinds() == ["breach"]
    assert follower.notices[0].breach_since == T0 + 2 * HOUR


def test_insufficient_keeps_the_state_it_finds() -> None:
    follower = Follower()
    follower.series(["fail", "insufficient", "insufficient", "fail", "insufficient", "pass"])
    assert follower.kinds() == ["breach", "recovery"]  # the quiet spell cleared nothing
    quiet = Follower()
    quiet.series(["pass", "insufficient", "insufficient", "pass"])
    assert quiet.notices == []  # nor raised anything


def test_on_insufficient_a_passing_objective_that_becomes_insufficient_is_a_breach() -> None:
    follower = Follower(Alerts(urls=["json://127.0.0.1/hook"], on_insufficient=True))
    follower.series(["insufficient", "pass", "insufficient", "insufficient", "pass"])
    assert follower.kinds() == ["breach", "recovery"]
    assert follower.notices[0].at == T0 + 2 * HOUR
    start = Follower(Alerts(urls=["json://127.0.0.1/hook"], on_insufficient=True))
    start.series(["insufficient", "insufficient"])
    assert start.notices == []  # the start of a run, too few probes yet: no alert


def test_reminders_fall_due_every_remind_every_after_the_breach_exactly() -> None:
    follower = Follower(Alerts(urls=["json://127.0.0.1/hook"], remind_every=HOUR))
    follower.series(["fail"] * 31, every=timedelta(minutes=10))  # five hours
    assert follower.kinds() == ["breach"] + ["reminder"] * 5
    assert [n.at - T0 for n in follower.notices] == [k * HOUR for k in range(6)]


def test_reminders_judged_off_the_grid_keep_to_it_and_never_come_in_a_burst() -> None:
    follower = Follower(Alerts(urls=["json://127.0.0.1/hook"], remind_every=HOUR))
    follower.series(["fail"] * 13, every=timedelta(minutes=25))  # 0, 25, 50, ... 300 min
    reminders = [n.at - T0 for n in follower.notices if n.kind == "reminder"]
    assert reminders == [timedelta(minutes=m) for m in (75, 125, 200, 250, 300)]
    assert follower.states["answered", "acme"].last_notified_at == T0 + 5 * HOUR
    gap = Follower(Alerts(urls=["json://127.0.0.1/hook"], remind_every=HOUR))
    gap.judge(T0, "fail")
    assert [n.kind for n in gap.judge(T0 + 5 * HOUR + timedelta(minutes=30), "fail")] == [
        "reminder"]  # five were due: one is sent
    assert gap.judge(T0 + 5 * HOUR + timedelta(minutes=59), "fail") == []
    assert [n.kind for n in gap.judge(T0 + 6 * HOUR, "fail")] == ["reminder"]  # on the grid


def test_no_reminders_without_remind_every_and_none_after_a_recovery() -> None:
    follower = Follower()
    follower.series(["fail"] * 48)
    assert follower.kinds() == ["breach"]
    reminded = Follower(Alerts(urls=["json://127.0.0.1/hook"], remind_every=HOUR))
    reminded.series(["fail", "pass", "pass", "pass"])
    assert reminded.kinds() == ["breach", "recovery"]


def test_maintenance_mutes_and_a_breach_still_failing_when_it_ends_is_announced_then() -> None:
    period = Maintenance(start=T0 + 2 * HOUR, end=T0 + 5 * HOUR)
    follower = Follower(maintenance=[period])
    follower.series(["pass", "pass", "fail", "fail", "fail", "fail", "fail"])
    assert follower.kinds() == ["breach"]
    (breach,) = follower.notices
    assert breach.at == T0 + 5 * HOUR  # the first moment judged after the period
    assert breach.breach_since == T0 + 2 * HOUR  # its real start, inside the period


def test_a_breach_that_begins_and_ends_inside_maintenance_is_never_announced() -> None:
    period = Maintenance(start=T0 + 2 * HOUR, end=T0 + 6 * HOUR)
    follower = Follower(maintenance=[period])
    follower.series(["pass", "pass", "fail", "fail", "pass", "pass", "pass", "pass"])
    assert follower.notices == []


def test_a_breach_announced_before_maintenance_that_recovers_inside_it_recovers_after() -> None:
    period = Maintenance(start=T0 + 2 * HOUR, end=T0 + 6 * HOUR)
    follower = Follower(maintenance=[period])
    follower.series(["pass", "fail", "fail", "pass", "pass", "pass", "pass"])
    assert follower.kinds() == ["breach", "recovery"]
    recovery = follower.notices[1]
    assert recovery.at == T0 + 6 * HOUR
    assert (recovery.breach_since, recovery.recovered_at) == (T0 + HOUR, T0 + 3 * HOUR)


def test_maintenance_times_without_an_offset_are_in_the_scenarios_zone() -> None:
    london = ZoneInfo("Europe/London")
    summer = datetime(2027, 7, 1, 9, 0, tzinfo=UTC)  # 10:00 in London
    period = Maintenance(start=datetime(2027, 7, 1, 10, 0), end=datetime(2027, 7, 1, 11, 0))
    follower = Follower(maintenance=[period])
    states, notices = decide({}, [verdict("fail", summer)], summer, maintenance=[period],
                             zone=london, alerts=follower.alerts)
    assert notices == [] and states[0].state == "failing"  # muted: 10:00 London is inside
    states, notices = decide({}, [verdict("fail", summer)], summer, maintenance=[period],
                             zone=UTC, alerts=follower.alerts)
    assert [n.kind for n in notices] == ["breach"]  # 10:00 UTC is not yet


def test_each_brand_is_followed_on_its_own() -> None:
    follower = Follower()
    follower.judge(T0, "pass", "pass", brands=("acme", "rival"))
    follower.judge(T0 + HOUR, "fail", "pass", brands=("acme", "rival"))
    follower.judge(T0 + 2 * HOUR, "fail", "fail", brands=("acme", "rival"))
    follower.judge(T0 + 3 * HOUR, "pass", "fail", brands=("acme", "rival"))
    assert [(n.kind, n.brand) for n in follower.notices] == [
        ("breach", "acme"), ("breach", "rival"), ("recovery", "acme")]


def test_a_message_names_everything_in_plain_text_and_says_simulated() -> None:
    follower = Follower()
    follower.series(["fail"])
    (breach,) = follower.notices
    message = compose(breach, run="watch", brand_name="Acme\n<b>Evil</b>\x1b[31m",
                      zone=ZoneInfo("Europe/London"), simulated=True, seed="7")
    assert message.title.startswith("SIMULATED FAILING: answered / Acme\\n<b>Evil</b>\\x1b[31m")
    assert "\x1b" not in message.title + message.text
    lines = message.text.splitlines()
    assert "Brand: Acme\\n<b>Evil</b>\\x1b[31m (acme)" in lines  # one line, inert, as text
    assert "Failing since: 2027-03-01 09:00 GMT" in lines
    assert lines[-1].startswith("SIMULATED: brand behaviour models") and "(seed 7)" in lines[-1]
    assert any(line.startswith("Now: fail: 3/10 = 30%") for line in lines)
    live = compose(breach, run="watch", brand_name="Acme", zone=UTC, simulated=False, seed="7")
    assert "SIMULATED" not in live.title + live.text


def test_a_recovery_and_a_new_breach_inside_maintenance_are_both_announced_after_it() -> None:
    period = Maintenance(start=T0 + 3 * HOUR, end=T0 + 6 * HOUR)
    follower = Follower(maintenance=[period])
    follower.series(["pass", "fail", "fail", "pass", "fail", "fail", "fail", "fail"])
    assert follower.kinds() == ["breach", "recovery", "breach"]
    first, recovery, second = follower.notices
    assert first.breach_since == T0 + HOUR
    assert (recovery.at, recovery.breach_since, recovery.recovered_at) == (
        T0 + 6 * HOUR, T0 + HOUR, T0 + 3 * HOUR)
    assert second.at == T0 + 7 * HOUR and second.breach_since == T0 + 6 * HOUR
