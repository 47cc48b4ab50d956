"""A run's exit status says whether it did its job: 0 when it finished having sent what it
could, 1 when it stopped or when it finished without sending a single planned message (every
send refused: a misconfigured channel is not a success)."""

from __future__ import annotations

from pathlib import Path

from harness.channels.base import OutgoingMessage, SentPost
from harness.channels.simulated import SimulatedChannel
from harness.errors import AccessDenied
from harness.scenario.model import Scenario
from harness.session.runs import exit_status, simulate


class Refused(SimulatedChannel):
    def send(self, message: OutgoingMessage) -> SentPost:
        raise AccessDenied("this account may not post here")


def test_a_run_that_could_send_nothing_exits_1(small_scenario: Scenario, tmp_path: Path) -> None:
    result = simulate(small_scenario, tmp_path / "refused", adapter=Refused)
    assert result.finished and result.planned == 40 and result.sent == 0
    assert exit_status(result) == 1


def test_a_run_that_sent_exits_0_and_one_that_stopped_exits_1(small_scenario: Scenario,
                                                              tmp_path: Path) -> None:
    done = simulate(small_scenario, tmp_path / "done")
    assert done.finished and done.sent == 40 and exit_status(done) == 0
    stopped = simulate(small_scenario, tmp_path / "stopped",
                       on_runner=lambda runner: setattr(runner, "stop_requested", True))
    assert not stopped.finished and exit_status(stopped) == 1
