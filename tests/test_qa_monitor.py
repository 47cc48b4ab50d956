"""The shipped QA monitor, as a QA team would use it: eight simulated weeks of a repeating
schedule in which service slips in week 5; weekly checks pass, then fail, with the evidence;
alerts reach a webhook on loopback once per breach and once per recovery; a restart sends
nothing new."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import junitparser
import pytest

from tests.fakes.webhook import Webhook

ROOT = Path(__file__).resolve().parent.parent
MONITOR = ROOT / "scenarios" / "qa-acme-monitor.yaml"
FIRST_SUNDAY = date(2027, 1, 10)


def shopper(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})})


def week_end(week: int) -> str:
    """Sunday 23:00 in Denver at the end of ``week`` (1-based)."""
    return f"{FIRST_SUNDAY + timedelta(weeks=week - 1)}T23:00-07:00"


@pytest.fixture(scope="module")
def hook() -> Iterator[Webhook]:
    webhook = Webhook()
    yield webhook
    webhook.stop()


@pytest.fixture(scope="module")
def monitor(hook: Webhook, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("monitor") / "run"
    done = shopper("run", str(MONITOR), "--simulate", "--out", str(out),
                   env={"QA_ALERT_URL": hook.url("/qa")})
    assert done.returncode == 0, done.stderr
    assert "160/160 probes sent" in done.stderr
    return out


def verdicts(folder: Path, at: str) -> tuple[int, list[dict[str, Any]]]:
    result = shopper("check", str(folder), "--at", at, "--format", "json")
    return result.returncode, json.loads(result.stdout)["verdicts"]


def test_weekly_checks_pass_until_the_slip_and_fail_from_the_first_window_with_it(
        monitor: Path) -> None:
    for week in (1, 2, 3, 4):
        code, judged = verdicts(monitor, week_end(week))
        assert code == 0, (week, judged)
        assert {v["status"] for v in judged} == {"pass"}
    code, judged = verdicts(monitor, week_end(5))
    assert code == 1
    failing = {v["objective"]: v for v in judged if v["status"] == "fail"}
    assert set(failing) == {"urgent within 1h", "answered within 4 business hours", "answered"}
    answered = failing["answered"]
    # The evidence: the week's probes, most not answered, each named.
    assert answered["decided"] >= 10 and answered["good"] / answered["decided"] < 0.8
    assert len(answered["not_good"]) == answered["decided"] - answered["good"]
    assert all(pid.startswith("2027-02-0") for pid in answered["not_good"])  # week 5's
    assert answered["interval"][1] < 0.8  # wholly below the target: not chance


def test_junit_at_the_failing_week_agrees_with_the_exit_code(monitor: Path,
                                                           tmp_path: Path) -> None:
    for week, expected in ((4, 0), (5, 1)):
        target = tmp_path / f"week{week}.xml"
        result = shopper("check", str(monitor), "--at", week_end(week), "--junit", str(target))
        assert result.returncode == expected
        suite = next(iter(junitparser.JUnitXml.fromfile(str(target))))
        failed = [case.classname for case in suite if not case.is_passed]
        assert bool(failed) == bool(expected)
        if expected:
            assert len(failed) == 3 and suite.failures == 3


def test_one_alert_and_one_recovery_per_breach_not_one_per_check(monitor: Path,
                                                                 hook: Webhook) -> None:
    titles = [post.title for post in hook.posts]
    assert titles and all(t.startswith("SIMULATED ") for t in titles)
    kinds = Counter((t.split(":")[0].removeprefix("SIMULATED "), t.split(": ", 1)[1]
                     .split(" / ")[0]) for t in titles)
    for objective in ("urgent within 1h", "answered within 4 business hours", "answered"):
        assert kinds[("FAILING", objective)] == 1, titles
        assert kinds[("RECOVERED", objective)] == 1, titles
    # Reminders come once a day while a breach lasts (remind_every: 1d), never more often.
    reminders = [t for t in titles if t.startswith("SIMULATED STILL FAILING")]
    assert len(reminders) <= 3 * 14
    # The recovery comes after its breach, and says how long it lasted.
    for objective in ("answered",):
        order = [t for t in titles if f": {objective} / " in t and "STILL" not in t]
        assert order[0].startswith("SIMULATED FAILING") and "RECOVERED" in order[1]
        assert "(after " in order[1]


def test_a_restart_sends_nothing_new(monitor: Path, hook: Webhook) -> None:
    before = len(hook.posts)
    again = shopper("run", str(MONITOR), "--simulate", "--out", str(monitor),
                    env={"QA_ALERT_URL": hook.url("/qa")})
    assert again.returncode == 0, again.stderr
    notify = shopper("check", str(monitor), "--notify", env={"QA_ALERT_URL": hook.url("/qa")})
    assert notify.returncode == 0, notify.stdout + notify.stderr  # the run ends recovered
    assert len(hook.posts) == before


def test_the_maintenance_window_leaves_its_probes_out(monitor: Path) -> None:
    _, judged = verdicts(monitor, "2027-01-21T12:00-07:00")
    assert {v["muted"] for v in judged if v["objective"] == "answered"} == {1}


def test_the_github_actions_example_uses_commands_that_exist() -> None:
    import shlex

    import yaml

    from harness.cli import build_parser

    workflow = yaml.safe_load((ROOT / "docs" / "examples" / "github-actions-qa.yml")
                              .read_text(encoding="utf-8"))
    commands = [" ".join(step["run"].split()) for step in workflow["jobs"]["monitor"]["steps"]
                if str(step.get("run", "")).lstrip().startswith("shopper ")]
    assert len(commands) == 2
    parser = build_parser()
    for command in commands:
        args = parser.parse_args(shlex.split(command)[1:])  # exits 2 on an unknown flag
        assert args.command in ("run", "check")
        if args.command == "run":  # a CI job has no terminal to confirm at
            assert args.live and args.once and args.yes
