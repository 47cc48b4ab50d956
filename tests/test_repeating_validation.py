"""Bad repeating schedules and send times: every problem named by file, line and field, exit 2,
never a traceback; `--start` and `--until` checked the same way; `validate` and `plan` say a
schedule repeats, and show its first weeks."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import Problem, ScenarioError, UsageError
from harness.plan.calendar import PREVIEW_WEEKS
from harness.session.scenarios import load_scenario_text

from .conftest import SMALL

REPEATING = SMALL.replace("  weeks: 2\n", "  repeat: true\n")
WINDOW = '  send_window: {start: "09:00", end: "17:00"}\n'


def _problems(text: str) -> list[Problem]:
    with pytest.raises(ScenarioError) as caught:
        load_scenario_text(text, "s.yaml")
    return caught.value.problems


def _line(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


@pytest.mark.parametrize(("old", "new", "needle", "path", "words"), [
    (WINDOW, WINDOW + '  times: ["10:00"]\n', "send_window", "schedule.send_window",
     "either times"),
    (WINDOW, '  times: ["10:00", "22:00", "10:00"]\n', "times", "schedule.times[2]",
     "10:00 is listed twice (first as times[0])"),
    (WINDOW, '  times: ["24:00"]\n', "times", "schedule.times[0]", "00:00 to 23:59"),
    (WINDOW, '  times: ["10:00", "22:00"]\n  messages_per_brand_per_day: 3\n',
     "messages_per_brand_per_day", "schedule.messages_per_brand_per_day",
     "3 messages a day, but times lists 2"),
    ("  weeks: 2\n", "  weeks: 2\n  until: 2024-04-01\n", "until", "schedule.until",
     "until ends a repeating schedule: add repeat: true"),
    ("  weeks: 2\n", "  weeks: 2\n  repeat: true\n", "weeks", "schedule.weeks",
     "a repeating schedule has no number of weeks"),
    ("  weeks: 2\n", "  repeat: true\n  until: 2024-03-01\n", "until: 2024", "schedule.until",
     "until (2024-03-01) is before start (2024-03-04)"),
])
def test_a_bad_schedule_is_one_problem_at_its_field(old: str, new: str, needle: str,
                                                   path: str, words: str) -> None:
    text = SMALL.replace(old, new)
    assert text != SMALL
    [problem] = _problems(text)
    assert (problem.file, problem.path) == ("s.yaml", path)
    assert words in problem.message
    assert problem.line == _line(text, needle)


def test_times_set_the_number_of_messages_a_day_and_an_equal_number_is_fine() -> None:
    text = SMALL.replace(WINDOW, '  times: ["10:00", "22:00"]\n  messages_per_brand_per_day: 2\n')
    assert load_scenario_text(text, "s.yaml").schedule.messages_per_brand_per_day == 2
    assert load_scenario_text(SMALL.replace(WINDOW, '  times: ["07:15"]\n'),
                              "s.yaml").schedule.messages_per_brand_per_day == 1


def test_an_unquoted_time_of_day_is_a_time_not_a_base_60_number() -> None:
    text = REPEATING.replace(WINDOW, "  times: [10:00, 22:30]\n")
    times = load_scenario_text(text, "s.yaml").schedule.times
    assert times is not None and [t.isoformat() for t in times] == ["10:00:00", "22:30:00"]


def test_start_and_until_override_the_file_and_are_checked_as_it_is() -> None:
    scenario = load_scenario_text(REPEATING, "s.yaml", start=date(2025, 1, 6),
                                  until=date(2025, 1, 10))
    assert (scenario.schedule.start, scenario.schedule.until) == (date(2025, 1, 6),
                                                                 date(2025, 1, 10))
    with pytest.raises(UsageError, match=r"with --until 2024-03-01: schedule.until: until "
                                         r"\(2024-03-01\) is before start \(2024-03-04\)"):
        load_scenario_text(REPEATING, "s.yaml", until=date(2024, 3, 1))
    with pytest.raises(UsageError, match=r"with --until 2024-04-01: .*add repeat: true"):
        load_scenario_text(SMALL, "s.yaml", until=date(2024, 4, 1))
    with pytest.raises(UsageError, match="no sending days"):  # a Saturday only
        load_scenario_text(REPEATING, "s.yaml", start=date(2024, 3, 9), until=date(2024, 3, 9))
    moved = load_scenario_text(SMALL, "s.yaml", start=date(2024, 5, 6))
    assert moved.schedule.start == date(2024, 5, 6) and moved.schedule.weeks == 2


def _shopper(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def test_the_command_line_refuses_bad_dates_and_schedules_with_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(SMALL.replace("  weeks: 2\n", "  weeks: 2\n  until: 2024-04-01\n"),
                   encoding="utf-8")
    good = tmp_path / "good.yaml"
    good.write_text(REPEATING, encoding="utf-8")
    for args, words in [
        (["validate", str(bad)], f"{bad}:{_line(bad.read_text(), 'until')}:3: schedule.until:"),
        (["plan", str(good), "--start", "2024-02-30"], "argument --start: not a date: "
                                                       "'2024-02-30' (expected YYYY-MM-DD"),
        (["run", str(good), "--simulate", "--until", "tomorrow"], "argument --until: not a"),
        (["validate", str(good), "--until", "2024-03-01"], "with --until 2024-03-01: "
                                                           "schedule.until: until"),
        (["run", str(good), "--simulate", "--once", "--now", "soon"], "argument --now: not a"),
    ]:
        result = _shopper(*args, cwd=tmp_path)
        assert result.returncode == 2, (args, result.stderr)
        assert words in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml", "good.yaml"]


def test_validate_says_a_schedule_repeats_and_counts_its_first_weeks(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    forever, until = tmp_path / "forever.yaml", tmp_path / "until.yaml"
    forever.write_text(REPEATING, encoding="utf-8")
    until.write_text(REPEATING.replace("  repeat: true\n", "  repeat: true\n  until: "
                                       "2024-03-13\n"), encoding="utf-8")
    assert main(["validate", str(forever), str(until)]) == 0
    out = capsys.readouterr().out
    assert (f"{forever}: ok (small-race: {4 * 5 * PREVIEW_WEEKS} probes in the first "
            f"{PREVIEW_WEEKS} weeks, repeats every week without end, 4 brands") in out
    assert (f"{until}: ok (small-race: 32 probes in the first 2 weeks, repeats every week "
            "until 2024-03-13 (32 probes in all), 4 brands") in out
    assert main(["validate", str(forever), "--weeks", "1"]) == 0
    assert "20 probes in the first week, repeats every week without end" in \
        capsys.readouterr().out


def test_plan_shows_the_first_weeks_of_a_repeating_schedule(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "forever.yaml"
    path.write_text(REPEATING, encoding="utf-8")
    assert main(["plan", str(path), "--weeks", "2"]) == 0
    out = capsys.readouterr().out
    assert out.endswith("\n40 probes in the first 2 weeks; the schedule repeats every week "
                        "without end\n")
    assert main(["plan", str(path), "--format", "json", "--start", "2025-01-06"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["repeat"] == {"until": None, "weeks_shown": PREVIEW_WEEKS}
    assert len(data["probes"]) == 4 * 5 * PREVIEW_WEEKS
    assert data["probes"][0]["probe_id"].startswith("2025-01-06-")
    assert main(["plan", str(path), "--format", "csv", "--until", "2024-03-05"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 1 + 8
    assert ("note: only the first week; the schedule repeats every week until "
            "2024-03-05") in captured.err


def test_a_repeating_plan_is_bounded_through_until_and_by_its_first_weeks_without() -> None:
    far = REPEATING.replace("  repeat: true\n", "  repeat: true\n  until: 2033-12-30\n")
    [problem] = _problems(far.replace("  observation_window: 3d\n",
                                      "  observation_window: 3d\n  "
                                      "messages_per_brand_per_day: 100\n"))
    assert problem.path == "schedule"
    assert ("over the limit of 1,000,000: 4 brands x 2,565 sending days (513 weeks of the "
            "repeating schedule x 5 weekdays") in problem.message
    # without until, what is bounded is the plan shown (its first weeks): this one is fine
    load_scenario_text(REPEATING.replace("  observation_window: 3d\n", "  observation_window: "
                                         "3d\n  messages_per_brand_per_day: 100\n"), "s.yaml")
