"""Confirm mode's real prompt: before each post of a live run in ``mode: confirm`` the terminal
asks "Post it now? [y/N]"; a yes posts, anything else declines for good.

The end-to-end test runs ``python -m harness run SCENARIO --live`` on a pseudo-terminal against
the fake X on loopback (system clock, the race dated in the past so every probe is due at once)
and types the answers, as a person would.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from harness.channels.base import (
    ChannelAdapter,
    ChannelContext,
    OutgoingMessage,
    PollResult,
    SentPost,
)
from harness.channels.modes import Confirmed, gate
from harness.cli.operator import TerminalOperator
from harness.clock import SystemClock
from harness.errors import Declined
from harness.session.scenarios import load_scenario_text
from harness.store.sqlite import Store
from tests.fakes import fake_x
from tests.fakes.race import new_world, scenario_yaml
from tests.fakes.terminal import Terminal, harness_env
from tests.fakes.world import World
from tests.simrun import export_rows

MESSAGE = OutgoingMessage(
    probe_id="2025-03-03-acme-1", step=0, persona_id="ana", persona_account="@ana_shops",
    brand_id="acme", brand_handles=("@AcmeHelp",), mention="at", category="question",
    text="@AcmeHelp do you deliver on Sundays?")


class _Typed(io.StringIO):
    """What a person typed, on something that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("typed", "approved"), [
    ("y\n", True), ("yes\n", True), ("  Y \n", True), ("YES\n", True),
    ("n\n", False), ("no\n", False), ("\n", False), ("maybe\n", False), ("yy\n", False),
    ("", False),  # end of input (Ctrl-D): no
])
def test_the_terminal_prompt_posts_only_on_a_yes(typed: str, approved: bool) -> None:
    shown = io.StringIO()
    operator = TerminalOperator(stdin=_Typed(typed), out=shown)
    assert operator.approve("live", MESSAGE) is approved
    text = shown.getvalue()
    assert "Ready to post" in text
    assert "probe 2025-03-03-acme-1 (first message) on live" in text
    assert "as @ana_shops to @AcmeHelp" in text
    assert "text: @AcmeHelp do you deliver on Sundays?" in text
    assert text.endswith("Post it now? [y/N] ")


def test_each_prompt_reads_one_answer_so_answers_go_to_the_posts_in_order() -> None:
    operator = TerminalOperator(stdin=_Typed("y\nn\ny\n"), out=io.StringIO())
    assert [operator.approve("live", MESSAGE) for _ in range(4)] == [True, False, True, False]


class _Recorder(ChannelAdapter):
    """Stands in for a platform's adapter: records what it was asked to post."""

    name = "recorder"
    platform = "x"
    posted: list[OutgoingMessage]

    def send(self, message: OutgoingMessage) -> SentPost:
        self.posted.append(message)
        return SentPost("1", SystemClock().now())

    def poll(self, cursor: str | None) -> PollResult:
        return PollResult([], cursor)


def test_the_confirm_gate_never_calls_the_platform_after_a_no(tmp_path: Path) -> None:
    scenario = load_scenario_text(scenario_yaml(fake_x.kit("http://127.0.0.1:9"),
                                                mode="confirm"), "race.yaml")
    inner = _Recorder(scenario.channels[0], ChannelContext(
        clock=SystemClock(), state_dir=tmp_path, seed=1, personas=scenario.personas,
        brands=scenario.brands, timezone="UTC", environ={}))
    inner.posted = []
    gated = gate(inner, TerminalOperator(stdin=_Typed("n\ny\n"), out=io.StringIO()))
    assert isinstance(gated, Confirmed)  # mode: confirm
    with pytest.raises(Declined, match="declined by the operator"):
        gated.send(MESSAGE)
    assert inner.posted == []
    assert gated.send(MESSAGE._replace(probe_id="2025-03-03-acme-2")).platform_id == "1"
    assert [m.probe_id for m in inner.posted] == ["2025-03-03-acme-2"]


@pytest.mark.slow
def test_confirm_mode_on_a_real_terminal_posts_exactly_the_approved_and_a_no_is_final(
        tmp_path: Path) -> None:
    world: World = new_world(fake_x.kit(), SystemClock())  # type: ignore[arg-type]
    folder = tmp_path / "run"
    answers: dict[str, str] = {}
    with fake_x.serve(world) as fake:
        scenario = tmp_path / "confirm.yaml"
        scenario.write_text(scenario_yaml(fake.kit, mode="confirm", days=1, window="2s",
                                          poll_every="1s"), encoding="utf-8")
        terminal = Terminal(["-m", "harness", "run", str(scenario), "--live", "--quiet",
                             "--out", str(folder)], env=harness_env(fake.kit.environ),
                            cwd=tmp_path)
        try:
            terminal.expect(rb"Start this live run\? \[y/N\] ")
            assert fake.server.requests("POST", r"^/2/tweets$") == []  # nothing before a yes
            terminal.type("y")
            for answer in ("y", "n", "y"):
                shown = terminal.expect(rb"probe (\S+) \(first message\) on live")
                terminal.expect(rb"Post it now\? \[y/N\] ")
                answers[shown.group(1).decode()] = answer
                terminal.type(answer)
            code = terminal.finish(timeout=30)
        finally:
            terminal.close()
        tweets = fake.server.requests("POST", r"^/2/tweets$")
        ours = [p for p in world.visible() if p.author.script is None]
    transcript = terminal.text
    assert code == 0, transcript
    # three probes, three prompts: the "no" was never asked again
    assert len(answers) == 3
    assert transcript.count("Post it now? [y/N]") == 3, transcript
    assert re.search(r"finished: 2/3 probes sent", transcript), transcript
    approved = sorted(p for p, a in answers.items() if a == "y")
    (declined,) = [p for p, a in answers.items() if a == "n"]

    store = Store.open(folder / "run.sqlite")
    try:
        texts = {p.probe_id: p.text for p in store.probes()}
        attempts = [s for s in store.sends() if s.probe_id == declined]
        sent_ids = {s.probe_id: s.platform_id for s in store.sends() if s.state == "sent"}
    finally:
        store.close()
    # exactly the approved posts reached X, once each, with their planned text
    assert len(tweets) == 2
    assert sorted(p.text for p in ours) == sorted(texts[p] for p in approved)
    assert sorted(sent_ids) == approved
    assert {fake_x.snowflake(p) for p in ours} == set(sent_ids.values())
    # the declined one: one attempt, recorded as declined, never retried, never posted
    assert [(s.state, s.error, s.retry_at) for s in attempts] == [
        ("not_sent", "declined: declined by the operator", None)]
    assert texts[declined] not in {p.text for p in ours}
    rows = {str(r["probe_id"]): r for r in export_rows(folder)}
    assert rows[declined]["status"] == "failed" and rows[declined]["sent_at"] is None
    assert all(rows[p]["status"] == "closed" and rows[p]["sent_at"] for p in approved)
