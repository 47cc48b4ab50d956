"""Shared fixtures: small scenarios written as text, and helpers to run them."""

from __future__ import annotations

import socket
import textwrap
from pathlib import Path
from typing import Any

import pytest

from harness.scenario.load import load_scenario_text
from harness.scenario.model import Scenario

ROOT = Path(__file__).resolve().parent.parent
REPLAY = ROOT / "scenarios" / "great-race-2013.yaml"

SMALL = textwrap.dedent("""\
    name: small-race
    seed: 7
    timezone: Europe/London
    personas:
      - {id: ana, name: Ana, accounts: {x: "@ana"}}
      - {id: ben, name: Ben, accounts: {x: "@ben"}}
    channels:
      - {id: x, adapter: simulated, platform: x, poll_every: 5m}
    categories:
      - id: question
        label: Question
        templates: ["{{ mention }} do you deliver on Sundays?"]
      - id: technical
        label: Technical
        templates: ["{{ mention }} the app crashes when I pay"]
        follow_up:
          - {after: 10m, template: "Still crashing after the update, what next?"}
    schedule:
      start: 2024-03-04
      weeks: 2
      weekdays: [mon, tue, wed, thu, fri]
      send_window: {start: "09:00", end: "17:00"}
      observation_window: 3d
    design: {type: counterbalanced, mentions: [at, name]}
    brands:
      - id: fast
        name: Fast Co
        industry: Retail
        handles: {x: ["@FastCo"]}
        simulate:
          reply: {at: 0.9, name: 0.5}
          latency: {median: 10m, spread: 0.5}
          follow_up_reply: 1.0
          direct_message: 0.5
      - id: slow
        name: Slow Ltd
        industry: Retail
        handles: {x: ["@SlowLtd"]}
        simulate:
          reply: {at: 0.6}
          latency: {median: 20h, spread: 0.5}
          off_hours: queue
          auto_ack: {probability: 1.0, after: 2m}
      - id: mute
        name: Mute Inc
        industry: Banking
        handles: {x: ["@MuteInc"]}
      - id: bank
        name: Bank Plc
        industry: Banking
        handles: {x: ["@BankPlc", "@BankPlcHelp"]}
        simulate:
          reply: {at: 0.5, name: 0.2}
          latency: {median: 1h}
          email: 0.5
    """)


@pytest.fixture
def small_text() -> str:
    """A 4-brand, 2-week counterbalanced scenario with every kind of brand behaviour."""
    return SMALL


@pytest.fixture
def small_scenario() -> Scenario:
    """The small scenario, loaded."""
    return load_scenario_text(SMALL, "small.yaml")


@pytest.fixture
def small_file(tmp_path: Path) -> Path:
    """The small scenario, written to a file."""
    path = tmp_path / "small.yaml"
    path.write_text(SMALL, encoding="utf-8")
    return path


_LOOPBACK = ("127.", "::1", "localhost")
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _loopback_only(address: object) -> None:
    if isinstance(address, tuple) and not str(address[0]).startswith(_LOOPBACK):
        raise OSError(f"tests may only reach loopback, not {address[0]!r}")


def _guarded_connect(self: socket.socket, address: Any) -> None:
    _loopback_only(address)
    _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    _loopback_only(address)
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True)
def no_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing in the tests reaches beyond loopback: a connection elsewhere fails at once."""
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)

