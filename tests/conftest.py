"""Shared fixtures: small scenarios written as text, and helpers to run them.

Importing this module also keeps the whole run on loopback (see ``tests/netguard``): the guard is
installed in the pytest process and, through ``PYTHONPATH``, in every child Python the tests start.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from harness.scenario.model import Scenario
from harness.session.scenarios import load_scenario_text
from tests.netguard import sitecustomize as netguard  # importing it installs the guard here

ROOT = Path(__file__).resolve().parent.parent
REPLAY = ROOT / "scenarios" / "great-race-2013.yaml"
NETGUARD = Path(netguard.__file__).parent

# At import, not in a fixture, so that every child Python (`sys.executable -m harness ...`)
# imports the guard at startup as `sitecustomize`, whichever fixture or test starts it.
_inherited = os.environ.get("PYTHONPATH", "")
if _inherited.split(os.pathsep)[0] != str(NETGUARD):
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(NETGUARD), _inherited]))

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
