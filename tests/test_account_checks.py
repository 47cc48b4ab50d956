"""Mistakes in who sends and who is asked that validation used to accept: an account with a
space on a platform where accounts are one word, and a persona who could never send anything;
and scenario text shown by `shopper export` on a terminal stays inert."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import ScenarioError
from harness.session.scenarios import load_scenario_text

from .conftest import SMALL
from .fakes.terminal import Terminal, harness_env


def problems_of(text: str) -> list[tuple[str, str]]:
    with pytest.raises(ScenarioError) as caught:
        load_scenario_text(text, "s.yaml")
    return [(p.path, p.message) for p in caught.value.problems]


@pytest.mark.parametrize(("old", "new", "path"), [
    ('accounts: {x: "@ana"}', 'accounts: {x: "@ana smith"}', "personas[0].accounts.x"),
    ('accounts: {x: "@ben"}', 'accounts: {x: "@b\\u200ben"}', "personas[1].accounts.x"),
    ('handles: {x: ["@FastCo"]}', 'handles: {x: ["Fast Co"]}', "brands[0].handles.x[0]"),
    ('handles: {x: ["@BankPlc", "@BankPlcHelp"]}', 'handles: {x: ["@BankPlc", "@Bank Help"]}',
     "brands[3].handles.x[1]"),
])
def test_an_account_with_a_space_is_refused_where_accounts_are_one_word(
        old: str, new: str, path: str) -> None:
    [(where, message)] = problems_of(SMALL.replace(old, new))
    assert where == path
    assert message.startswith("an account here is one word (no spaces or invisible "
                              "characters)")


def test_on_a_manual_channel_an_account_may_be_any_label() -> None:
    text = SMALL.replace("adapter: simulated, platform: x", "adapter: simulated, platform: other")
    text = text.replace('handles: {x: ["@FastCo"]}', 'handles: {x: ["Fast Co page"]}')
    scenario = load_scenario_text(text, "s.yaml")
    assert scenario.brands[0].handles["x"] == ["Fast Co page"]


def test_a_persona_that_could_never_send_is_refused() -> None:
    text = SMALL.replace('  - {id: ben, name: Ben, accounts: {x: "@ben"}}\n',
                         '  - {id: ben, name: Ben, accounts: {x: "@ben"}}\n'
                         '  - {id: cleo, name: Cleo}\n')
    assert problems_of(text) == [(
        "personas[2].accounts", "persona 'cleo' has no account on any channel that serves a "
        "brand: no message could ever be sent from it")]


def test_export_on_a_terminal_shows_escape_codes_as_text(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SMALL.replace("do you deliver on Sundays?",
                                      "do you deliver on \\e[31mSundays\\e[0m?"),
                        encoding="utf-8")
    assert main(["run", str(scenario), "--simulate", "-q", "--out", str(tmp_path / "run")]) == 0
    terminal = Terminal(["-m", "harness", "export", str(tmp_path / "run")],
                        env=harness_env(), cwd=tmp_path)
    try:
        code = terminal.finish()
        shown = terminal.transcript
        assert code == 0, shown[-2000:]
    finally:
        terminal.close()
    assert b"\x1b" not in shown
    assert b"\\x1b[31mSundays\\x1b[0m" in shown
    piped = tmp_path / "piped.csv"
    assert main(["export", str(tmp_path / "run"), "-o", str(piped)]) == 0
    assert "\x1b[31mSundays" in piped.read_text(encoding="utf-8"), "saved data is unchanged"
