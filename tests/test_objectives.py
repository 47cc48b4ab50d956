"""Objectives judged at a moment: each verdict worked by hand from a handful of probes."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta

import pytest

from harness.analysis.objectives import Evidence, Verdict, exit_status, judge, window_start
from harness.errors import ScenarioError
from harness.plan.probe import Probe
from harness.scenario.model import Scenario, scenario_hash
from harness.scenario.objectives import Window
from harness.session.scenarios import load_scenario_text
from harness.store.records import ReplyRecord, SendRecord

BASE = textwrap.dedent("""\
    name: acme-watch
    timezone: UTC
    personas:
      - {id: ana, name: Ana, accounts: {x: "@ana", mail: "ana@example.org"}}
    channels:
      - {id: x, adapter: simulated, platform: x}
      - {id: mail, adapter: simulated, platform: email, brands: [acme]}
    categories:
      - {id: urgent, label: Urgent, templates: ["{{ mention }} my order is lost"]}
      - {id: question, label: Question, templates: ["{{ mention }} do you ship to Oslo?"]}
    schedule:
      start: 2027-01-04
      weeks: 2
      observation_window: 3d
    brands:
      - id: acme
        name: Acme
        industry: Retail
        handles: {x: ["@Acme"], mail: ["care@acme.example"]}
      - id: rival
        name: Rival
        industry: Retail
        handles: {x: ["@Rival"]}
    """)

MONDAY = datetime(2027, 1, 4, 10, 0, tzinfo=UTC)


def scenario(objectives: str, extra: str = "") -> Scenario:
    return load_scenario_text(BASE + extra + "objectives:\n" + textwrap.indent(
        textwrap.dedent(objectives), "  "), "watch.yaml")


class Run:
    """Probes sent at chosen moments, answered after chosen delays (None: never)."""

    def __init__(self) -> None:
        self.probes: list[Probe] = []
        self.sends: list[SendRecord] = []
        self.replies: list[ReplyRecord] = []

    def probe(self, sent: datetime, reply_after: timedelta | None, *, brand: str = "acme",
              category: str = "urgent", channel: str = "x", automated: bool = False) -> str:
        pid = f"p{len(self.probes):03d}"
        self.probes.append(Probe(pid, len(self.probes), "ana", brand, "Retail", channel,
                                 category, "at", 1, 1, sent, "text"))
        self.sends.append(SendRecord(pid, 0, 1, "sent", sent, sent, f"post-{pid}", None, "t"))
        if reply_after is not None:
            at = sent + reply_after
            self.replies.append(ReplyRecord(channel, f"reply-{pid}", pid, 0, "thread", "@Acme",
                                            True, "public_reply", automated, "hi", at, at,
                                            f"post-{pid}", "{}"))
        return pid

    def evidence(self) -> Evidence:
        return Evidence(self.probes, self.sends, self.replies, timedelta(days=3),
                        frozenset({"mail"}))


def only(verdicts: list[Verdict], brand: str = "acme") -> Verdict:
    [verdict] = [v for v in verdicts if v.brand == brand]
    return verdict


RATE = """\
    - name: answered
      brands: [acme]
      indicator: {kind: response_rate}
      target: 80%
      min_probes: 4
"""


def test_a_response_rate_is_judged_on_decided_probes_only() -> None:
    run = Run()
    for day in range(3):
        run.probe(MONDAY + timedelta(days=day), timedelta(hours=3))
    bad = run.probe(MONDAY + timedelta(days=3), None)
    run.probe(MONDAY + timedelta(days=5, hours=12), None)  # 12 h old at the check: pending
    at = MONDAY + timedelta(days=6)
    verdict = only(judge(scenario(RATE), run.evidence(), at))
    assert (verdict.status, verdict.good, verdict.decided, verdict.pending) == ("fail", 3, 4, 1)
    assert verdict.bad_probes == (bad,)
    low, high = verdict.interval or (0, 0)
    assert low == pytest.approx(0.3006418, abs=1e-6) and high == pytest.approx(0.9544127, abs=1e-6)
    assert verdict.straddles  # 75% observed, but 80% is inside 30%-95%
    assert "75% is below the target 80%" in verdict.reason
    assert exit_status([verdict]) == 1


def test_n_of_n_passes_and_0_of_n_fails_and_0_of_0_is_insufficient() -> None:
    at = MONDAY + timedelta(days=10)
    answered, silent = Run(), Run()
    for day in range(4):
        answered.probe(MONDAY + timedelta(days=day), timedelta(minutes=5))
        silent.probe(MONDAY + timedelta(days=day), None)
    everything = only(judge(scenario(RATE), answered.evidence(), at))
    assert (everything.status, everything.good, everything.decided) == ("pass", 4, 4)
    assert everything.interval is not None and everything.interval[1] == 1.0
    nothing = only(judge(scenario(RATE), silent.evidence(), at))
    assert (nothing.status, nothing.good, nothing.decided) == ("fail", 0, 4)
    assert nothing.interval is not None and nothing.interval[0] == 0.0
    unsent = only(judge(scenario(RATE), Run().evidence(), at))
    assert (unsent.status, unsent.decided, unsent.interval) == ("insufficient", 0, None)
    assert "fewer than the 4 needed" in unsent.reason
    assert exit_status([everything]) == 0 and exit_status([everything, unsent]) == 1


def test_replied_within_decides_as_soon_as_the_time_allowed_runs_out() -> None:
    objective = """\
        - name: urgent-1h
          brands: [acme]
          categories: [urgent]
          indicator: {kind: replied_within, within: 1h}
          target: 0.5
          min_probes: 1
    """
    run = Run()
    at = MONDAY + timedelta(hours=5)
    quick = run.probe(MONDAY, timedelta(minutes=30))
    late = run.probe(MONDAY + timedelta(hours=1), timedelta(hours=2))
    gone = run.probe(MONDAY + timedelta(hours=3), None)                  # 2 h: bad
    run.probe(at - timedelta(minutes=30), None)                          # 30 min: pending
    run.probe(MONDAY, timedelta(minutes=1), category="question")         # not selected
    verdict = only(judge(scenario(objective), run.evidence(), at))
    assert (verdict.good, verdict.decided, verdict.pending) == (1, 3, 1)
    assert set(verdict.bad_probes) == {late, gone} and quick not in verdict.bad_probes
    assert verdict.status == "fail" and verdict.indicator == "first reply within 1h"


def test_business_hours_stop_the_clock_overnight_and_at_weekends() -> None:
    friday = datetime(2027, 1, 8, 16, 30, tzinfo=UTC)  # 30 min before closing
    reply = datetime(2027, 1, 11, 9, 20, tzinfo=UTC) - friday  # Monday 09:20
    for counted_in, status in (("business_hours", "pass"), ("wall_clock", "fail")):
        objective = f"""\
            - name: four-hours
              brands: [acme]
              indicator: {{kind: replied_within, within: 1h, counted_in: {counted_in}}}
              target: 1.0
              min_probes: 1
        """
        run = Run()
        run.probe(friday, reply)
        verdict = only(judge(scenario(objective), run.evidence(), friday + timedelta(days=4)))
        assert verdict.status == status, counted_in


def test_a_reply_after_the_moment_judged_is_not_known_then() -> None:
    run = Run()
    for day in range(4):
        run.probe(MONDAY + timedelta(days=day), timedelta(days=1, hours=12))
    earlier = only(judge(scenario(RATE), run.evidence(), MONDAY + timedelta(days=4)))
    # The fourth probe's reply comes at day 4 12:00: unknown at day 4 00:00, so pending.
    assert (earlier.good, earlier.decided, earlier.pending) == (3, 3, 1)
    assert earlier.status == "insufficient"
    later = only(judge(scenario(RATE), run.evidence(), MONDAY + timedelta(days=8)))
    assert (later.good, later.decided, later.status) == (4, 4, "pass")


def test_an_automatic_acknowledgement_is_not_an_answer() -> None:
    run = Run()
    for day in range(4):
        run.probe(MONDAY + timedelta(days=day), timedelta(minutes=1), automated=True)
    verdict = only(judge(scenario(RATE), run.evidence(), MONDAY + timedelta(days=9)))
    assert (verdict.good, verdict.decided) == (0, 4)


def test_the_interval_rule_passes_or_fails_only_when_the_interval_is_clear() -> None:
    objective = """\
        - name: strict
          brands: [acme]
          indicator: {kind: response_rate}
          target: 0.5
          min_probes: 3
          rule: interval
    """
    at = MONDAY + timedelta(days=30)

    def verdict(answered: int, total: int) -> Verdict:
        run = Run()
        for i in range(total):
            run.probe(MONDAY + timedelta(hours=i), timedelta(minutes=5) if i < answered else None)
        return only(judge(scenario(objective), run.evidence(), at))

    assert verdict(10, 10).status == "pass"          # 72%-100%
    assert verdict(0, 10).status == "fail"           # 0%-28%
    middle = verdict(6, 10)                          # 31%-83% straddles 50%
    assert middle.status == "insufficient" and "straddles the target 50%" in middle.reason
    assert "wholly at or above 50%" in middle.rule


def test_rolling_and_calendar_windows() -> None:
    zone = UTC
    wednesday = datetime(2027, 1, 13, 15, 0, tzinfo=UTC)
    assert window_start(Window("rolling", timedelta(days=7)), wednesday, zone) == \
        wednesday - timedelta(days=7)
    assert window_start(Window("week"), wednesday, zone) == datetime(2027, 1, 11, tzinfo=UTC)
    assert window_start(Window("month"), wednesday, zone) == datetime(2027, 1, 1, tzinfo=UTC)
    assert window_start(Window("run"), wednesday, zone) is None
    objective = RATE.replace("min_probes: 4", "min_probes: 1\n      window: 7d")
    run = Run()
    run.probe(MONDAY, None)                                  # 10 days before: outside
    run.probe(wednesday - timedelta(days=3), timedelta(hours=1))
    verdict = only(judge(scenario(objective), run.evidence(), wednesday))
    assert (verdict.good, verdict.decided, verdict.status) == (1, 1, "pass")


def test_maintenance_leaves_its_probes_out_and_says_how_many() -> None:
    extra = textwrap.dedent("""\
        maintenance:
          - {start: 2027-01-05T00:00, end: 2027-01-06T00:00, reason: CRM migration}
        """)
    run = Run()
    for day in range(5):
        run.probe(MONDAY + timedelta(days=day), None if day == 1 else timedelta(hours=1))
    verdict = only(judge(scenario(RATE, extra), run.evidence(), MONDAY + timedelta(days=9)))
    assert (verdict.good, verdict.decided, verdict.muted, verdict.status) == (4, 4, 1, "pass")


def test_early_warning_names_a_run_of_silence_without_failing() -> None:
    objective = RATE.replace("target: 80%", "target: 50%") + \
        "      early_warning: {unanswered: 3, of_last: 4}\n"
    run = Run()
    for day in range(8):
        run.probe(MONDAY + timedelta(days=day), timedelta(hours=1) if day < 5 else None)
    verdict = only(judge(scenario(objective), run.evidence(), MONDAY + timedelta(days=12)))
    assert verdict.status == "pass"  # 5 of 8
    assert verdict.warning == "3 of the last 4 decided probes were not good"


def test_every_brand_is_judged_unless_the_objective_names_some() -> None:
    objective = RATE.replace("      brands: [acme]\n", "")
    run = Run()
    run.probe(MONDAY, timedelta(hours=1), brand="rival")
    verdicts = judge(scenario(objective), run.evidence(), MONDAY + timedelta(days=3))
    assert [v.brand for v in verdicts] == ["acme", "rival"]
    assert only(verdicts, "rival").decided == 1 and only(verdicts, "acme").decided == 0


def test_engagement_counts_the_level_the_reply_reached() -> None:
    objective = """\
        - name: quick-and-public
          brands: [acme]
          indicator: {kind: engagement, at_least: 3}
          target: 1.0
          min_probes: 2
    """
    run = Run()
    run.probe(MONDAY, timedelta(minutes=30))            # level 3: good
    run.probe(MONDAY + timedelta(hours=1), timedelta(hours=5))  # level 2: bad
    verdict = only(judge(scenario(objective), run.evidence(), MONDAY + timedelta(days=5)))
    assert (verdict.good, verdict.decided) == (1, 2)


# -- what the scenario file may say ------------------------------------------------------

def problems(objectives: str, extra: str = "") -> str:
    with pytest.raises(ScenarioError) as caught:
        scenario(objectives, extra)
    return str(caught.value)


def test_a_mistyped_selector_is_refused_at_its_line_and_column() -> None:
    text = problems("""\
        - name: urgent
          brands: [acmee]
          categories: [urgnet]
          channels: [xx]
          indicator: {kind: response_rate}
          target: 0.9
    """)
    lines = BASE.count("\n") + 1  # the objectives: line
    assert f"watch.yaml:{lines + 2}:14: objectives[0].brands[0]: undefined brand 'acmee' " \
           "(did you mean 'acme'?)" in text
    assert f"watch.yaml:{lines + 3}:18: objectives[0].categories[0]: undefined category " \
           "'urgnet' (did you mean 'urgent'?)" in text
    assert "objectives[0].channels[0]: undefined channel 'xx'" in text


@pytest.mark.parametrize(("objective", "message"), [
    ("indicator: {kind: replied_within}", "a replied_within indicator needs 'within'"),
    ("indicator: {kind: replied_within, within: 4d}", "longer than the observation window"),
    ("indicator: {kind: response_rate, within: 1h}",
     "'within' does not apply to a response_rate indicator"),
    ("indicator: {kind: engagement}", "an engagement indicator needs 'at_least'"),
    ("indicator: {kind: response_rate}\n  window: fortnight", "a window is a length like"),
    ("indicator: {kind: response_rate}\n  mentions: [hashtag]",
     "no message mentions a brand by 'hashtag'"),
    ("indicator: {kind: response_rate}\n  channels: [mail]\n  brands: [rival]",
     "no channel listed here reaches brand 'rival'"),
    ("indicator: {kind: response_rate}\n  early_warning: {unanswered: 5, of_last: 3}",
     "unanswered is at most of_last"),
])
def test_an_indicator_gets_exactly_the_fields_it_uses(objective: str, message: str) -> None:
    text = f"- name: one\n  target: 0.9\n  {objective}\n"
    assert message in problems(text)


def test_targets_take_shares_or_percentages_and_names_are_unique() -> None:
    loaded = scenario(RATE.replace("80%", "0.8"))
    assert loaded.objectives[0].target == pytest.approx(0.8)
    assert scenario(RATE).objectives[0].target == pytest.approx(0.8)
    assert "a target is a share like 0.9 or '90%'" in problems(RATE.replace("80%", "most"))
    assert "less than or equal to 1" in problems(RATE.replace("80%", "1.5"))
    assert "two objectives are named 'answered'" in problems(RATE + RATE)


def test_maintenance_and_alerts_are_checked() -> None:
    text = problems(RATE, textwrap.dedent("""\
        maintenance:
          - {start: 2027-01-06T00:00, end: 2027-01-05T00:00}
        alerts:
          urls: ["not a url", {env: "1BAD"}]
        """))
    assert "maintenance[0].end: a maintenance period ends after it starts" in text
    assert "alerts.urls[0]: 'not a url' is not an Apprise URL" in text
    assert "alerts.urls[1]: an environment reference is {env: VARIABLE_NAME}" in text


def test_objectives_do_not_change_a_runs_fingerprint() -> None:
    bare = load_scenario_text(BASE, "watch.yaml")
    assert scenario_hash(scenario(RATE)) == scenario_hash(bare)
    assert scenario_hash(scenario(RATE, "maintenance: []\n")) == scenario_hash(bare)


def test_a_rolling_window_is_elapsed_time_across_a_clock_change() -> None:
    from zoneinfo import ZoneInfo

    at = datetime(2027, 3, 15, 12, 0, tzinfo=UTC)  # a week after Denver's clocks went forward
    start = window_start(Window("rolling", timedelta(days=7)), at, ZoneInfo("America/Denver"))
    assert start is not None and at - start == timedelta(days=7)


def test_business_hours_that_end_after_the_observation_window_are_refused() -> None:
    objective = """\
        - name: three business days
          indicator: {kind: replied_within, within: 1d, counted_in: business_hours}
          target: 0.9
    """
    # 9-17 Monday to Friday: 24 business hours from Friday 17:00 end on Wednesday 17:00.
    assert "for brand 'acme', 1d of business hours can end 5d after a message" in \
        problems(objective)


def test_maintenance_mixing_zoned_and_local_times_is_compared_not_crashed() -> None:
    text = problems(RATE, textwrap.dedent("""\
        maintenance:
          - {start: "2027-01-06T00:00", end: "2027-01-05T23:00Z"}
        """))
    assert "maintenance[0].end: a maintenance period ends after it starts" in text
    fine = scenario(RATE, textwrap.dedent("""\
        maintenance:
          - {start: "2027-01-05T00:00", end: "2027-01-06T00:00+01:00"}
        """))
    assert len(fine.maintenance) == 1
