"""Running a repeating schedule: a simulated run needs an end; the stored plan grows pass by
pass and never past `until`; `shopper run --once` makes one pass (`--now` on a virtual
clock), and a loop of passes ends with the same export as one long run."""

from __future__ import annotations

import contextlib
import io
import signal
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from harness.cli import main
from harness.plan.continuous import plan_weeks
from harness.runner.horizon import LOOKAHEAD, PLANNED_THROUGH, Horizon, initial_plan
from harness.session.runs import RunResult, exit_status
from harness.session.scenarios import load_scenario_text
from harness.store.sqlite import Store
from tests.simrun import journal_posts

from .conftest import SMALL

FOREVER = SMALL.replace("  weeks: 2\n", "  repeat: true\n").replace(
    '  send_window: {start: "09:00", end: "17:00"}\n', '  times: ["10:00", "16:00"]\n')
UNTIL = FOREVER.replace("  repeat: true\n", "  repeat: true\n  until: 2024-03-11\n").replace(
    "  observation_window: 3d\n", "  observation_window: 1d\n")  # a week, then a day of week 2
START = datetime(2024, 3, 4, tzinfo=UTC)  # a Monday, the schedule's start


def _write(folder: Path, text: str, name: str = "repeating.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _shopper(*args: str) -> tuple[int, str]:
    """Run the command line in this process: its exit status and standard error."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(list(args))
    return code, err.getvalue()


def _export(folder: Path, fmt: str, target: Path) -> bytes:
    assert _shopper("export", str(folder), "--format", fmt, "-o", str(target))[0] == 0
    return target.read_bytes()


def _store(folder: Path) -> tuple[int, int, dict[str, str], datetime]:
    """Probes stored and sent, the meta, and the latest stored probe's time."""
    store = Store.open(folder / "run.sqlite")
    try:
        probes = store.probes()
        return (len(probes), store.counts()["sent"], store.meta(),
                max(p.scheduled_at for p in probes))
    finally:
        store.close()


def test_a_loop_of_once_passes_exports_what_one_long_run_does(tmp_path: Path) -> None:
    scenario = _write(tmp_path, UNTIL)
    long, passes = tmp_path / "long", tmp_path / "passes"
    assert _shopper("run", str(scenario), "--simulate", "-q", "--out", str(long))[0] == 0
    # every 6 hours, from before the first probe to after the last window closed
    moment, seen, said = START + timedelta(hours=4), [], ""
    while True:
        code, err = _shopper("run", str(scenario), "--simulate", "--once", "--now",
                             moment.isoformat(), "-q", "--out", str(passes))
        assert code == 0, err
        if "already finished" in err:
            break
        said = err
        stored, sent, meta, latest = _store(passes)
        planned_through = datetime.fromisoformat(meta[PLANNED_THROUGH])
        seen.append((moment, sent, stored))
        assert planned_through == min(moment + LOOKAHEAD, datetime(2024, 3, 12, 12,
                                                                    tzinfo=UTC))
        assert latest <= planned_through and latest.date() <= date(2024, 3, 11)
        moment += timedelta(hours=6)
    assert len(seen) > 25 and seen[0][1] == 0 and 0 < seen[10][1] < seen[-1][1] == 48
    assert "finished: 48/48 probes sent" in said  # the pass that closed the last window
    for fmt in ("csv", "json"):
        assert _export(passes, fmt, tmp_path / f"p.{fmt}") == \
            _export(long, fmt, tmp_path / f"l.{fmt}")
    assert b'"follow_ups_sent": 1' in (tmp_path / "p.json").read_bytes()  # some were sent
    assert sorted(journal_posts(passes)) == sorted(journal_posts(long))  # nothing twice


def test_a_simulated_run_of_an_endless_schedule_needs_an_end(tmp_path: Path) -> None:
    scenario = _write(tmp_path, FOREVER)
    code, err = _shopper("run", str(scenario), "--simulate", "--out", str(tmp_path / "run"))
    assert code == 2
    assert "the schedule repeats without end" in err and "--until DATE" in err
    assert not (tmp_path / "run").exists()
    code, err = _shopper("run", str(scenario), "--simulate", "-q", "--until", "2024-03-06",
                         "--out", str(tmp_path / "run"))
    assert code == 0, err
    assert "finished: 24/24 probes sent" in err  # 3 days x 4 brands x 2 times
    stored, sent, meta, latest = _store(tmp_path / "run")
    assert (stored, sent, latest) == (24, 24, datetime(2024, 3, 6, 16, tzinfo=UTC))
    assert datetime.fromisoformat(meta[PLANNED_THROUGH]) == datetime(2024, 3, 7, 12,
                                                                    tzinfo=UTC)
    # until the start day: that day alone
    code, err = _shopper("run", str(scenario), "--simulate", "-q", "--until", "2024-03-04",
                         "--out", str(tmp_path / "one-day"))
    assert code == 0 and "finished: 8/8 probes sent" in err, err


def test_a_pass_with_nothing_due_sends_nothing_and_exits_0(tmp_path: Path) -> None:
    scenario = _write(tmp_path, FOREVER)  # no end needed: one pass is bounded by --now
    folder = tmp_path / "run"
    code, err = _shopper("run", str(scenario), "--simulate", "--once", "-q", "--now",
                         "2024-03-01T12:00", "--out", str(folder))
    assert (code, err) == (0, f"{folder}: pass done: 0/4 probes sent so far, 0 answered; the "
                              "next pass (the same command) goes on\n")
    stored, sent, _, latest = _store(folder)  # the first probe is stored, as a start
    assert (stored, sent, latest) == (4, 0, datetime(2024, 3, 4, 10, tzinfo=UTC))
    status = io.StringIO()
    with contextlib.redirect_stdout(status):
        assert main(["status", str(folder)]) == 0
    assert "next due:   2024-03-04T10:00:00+00:00\n" in status.getvalue()
    assert "planned to: 2024-03-04T10:00:00+00:00 (the schedule repeats" in status.getvalue()
    # a pass on a Saturday: nothing due either, the plan reaches into Sunday
    code, err = _shopper("run", str(scenario), "--simulate", "--once", "-q", "--now",
                         "2024-03-02T12:00+00:00", "--out", str(folder))
    assert code == 0 and _store(folder)[:2] == (4, 0)


def test_a_pass_refuses_a_clock_going_back_and_now_without_once(tmp_path: Path) -> None:
    scenario = _write(tmp_path, FOREVER)
    folder = tmp_path / "run"
    assert _shopper("run", str(scenario), "--simulate", "--once", "-q", "--now",
                    "2024-03-04T10:00", "--out", str(folder))[0] == 0
    assert _store(folder)[1] == 4
    code, err = _shopper("run", str(scenario), "--simulate", "--once", "--now",
                         "2024-03-04T09:00", "--out", str(folder))
    assert code == 2 and "a virtual clock never goes back" in err
    for args, words in [(["--simulate", "--now", "2024-03-05T10:00"], "goes with --once"),
                        (["--live", "--once", "--now", "2024-03-05T10:00"], "goes with --once"),
                        (["--simulate", "--once"], "needs the moment its virtual clock shows")]:
        code, err = _shopper("run", str(scenario), *args, "--out", str(folder))
        assert code == 2 and words in err, (args, err)
    assert _store(folder)[1] == 4  # nothing more was sent


def test_a_run_of_another_start_is_another_run(tmp_path: Path) -> None:
    scenario = _write(tmp_path, UNTIL)
    folder = tmp_path / "run"
    assert _shopper("run", str(scenario), "--simulate", "-q", "--out", str(folder))[0] == 0
    code, err = _shopper("run", str(scenario), "--simulate", "--start", "2024-03-11",
                         "--out", str(folder))
    assert code == 2 and "differs from this one" in err
    code, err = _shopper("run", str(scenario), "--simulate", "-q", "--start", "2024-03-11",
                         "--out", str(tmp_path / "next"))
    assert code == 0 and "finished: 8/8 probes sent" in err


@pytest.mark.parametrize(("result", "status"), [
    (RunResult(Path("r"), False, False, 3, 9, 1, once=True), 0),
    (RunResult(Path("r"), False, False, 0, 9, 0, once=True), 0),
    (RunResult(Path("r"), False, False, 3, 9, 1, once=True, stopped=("x",)), 1),
    (RunResult(Path("r"), True, False, 9, 9, 1, once=True), 0),
    (RunResult(Path("r"), True, False, 0, 9, 0, once=True), 1),
    (RunResult(Path("r"), False, False, 3, 9, 1), 1),
    (RunResult(Path("r"), False, False, 3, 9, 1, signal=signal.SIGTERM), 143),
    (RunResult(Path("r"), False, False, 3, 9, 1, once=True, signal=signal.SIGINT), 130),
])
def test_exit_status_of_a_pass_and_of_a_signal(result: RunResult, status: int) -> None:
    assert exit_status(result) == status


def test_the_horizon_extends_the_stored_plan_and_stops_at_until(tmp_path: Path) -> None:
    scenario = load_scenario_text(UNTIL, "until.yaml")
    probes, through = initial_plan(scenario, None)  # a simulated run: from its first probe
    assert through == datetime(2024, 3, 5, 10, tzinfo=UTC) and len(probes) == 12
    store = Store.create(tmp_path / "run.sqlite", probes=probes,
                         meta={PLANNED_THROUGH: through.isoformat()})
    try:
        horizon = Horizon(scenario, store)
        assert horizon.extend(through - LOOKAHEAD) == [] and horizon.next_at() == through
        more = horizon.extend(datetime(2024, 3, 8, 12, tzinfo=UTC))  # through Sat 9, noon
        assert len(more) == 40 - 12 and more[0].seq == 12
        assert [p.seq for p in store.probes()] == list(range(40))
        assert store.meta()[PLANNED_THROUGH] == "2024-03-09T12:00:00+00:00"
        rest = horizon.extend(datetime(2030, 1, 1, tzinfo=UTC))  # never past until
        assert len(rest) == 8 and rest[-1].scheduled_at == datetime(2024, 3, 11, 16, tzinfo=UTC)
        assert horizon.next_at() is None and horizon.extend(datetime(2031, 1, 1,
                                                                     tzinfo=UTC)) == []
        assert store.probes() == plan_weeks(scenario, 2)  # the whole plan, as made at once
        store.clear_meta(PLANNED_THROUGH)  # a store without it goes on from its last probe
        assert Horizon(scenario, store).through == rest[-1].scheduled_at
    finally:
        store.close()
