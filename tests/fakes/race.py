"""One small live race, the same for every adapter: 2 personas x 3 brands x 5 days, @ and name
modes, one follow-up, played against a fake platform on a virtual clock.

Each platform test supplies a :class:`Kit` (its adapter, settings, environment and how
personas and brands are named there) and a fake server built on :class:`~tests.fakes.world.World`;
:func:`check_against_world` then compares the run's export with what the fake brands did.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from harness.channels.base import ChannelAdapter, OutgoingMessage
from harness.clock import VirtualClock
from harness.runner.loop import Runner
from harness.scenario.model import Scenario
from harness.session.runs import RunResult, execute
from harness.session.scenarios import load_scenario_text
from harness.store.sqlite import Store
from tests.fakes.world import BrandScript, World
from tests.simrun import export_rows

START = datetime(2025, 3, 3, tzinfo=UTC)  # a Monday

PERSONAS = {"ana": "Ana Lopez", "ben": "Ben Okafor"}
BRANDS: dict[str, tuple[str, BrandScript]] = {
    # name, how it behaves: answers @ in 7 min 13 s, its name in 2 h, follow-ups in 5 min,
    # and sends a DM a minute after each public reply
    "acme": ("Acme", BrandScript(at=timedelta(minutes=7, seconds=13),
                                 name=timedelta(hours=2), follow_up=timedelta(minutes=5),
                                 dm=timedelta(minutes=1))),
    # answers @ only, after 3 h 20 min 5 s, with an automatic acknowledgement first
    "globex": ("Globex", BrandScript(at=timedelta(hours=3, minutes=20, seconds=5),
                                     auto_ack=timedelta(minutes=2))),
    "initech": ("Initech", BrandScript()),  # never answers
}


@dataclass
class Kit:
    """How one platform names things and where its adapter finds its settings."""

    adapter: str
    platform: str
    settings: dict[str, Any]
    environ: dict[str, str]
    persona_handles: dict[str, str]  # persona id -> handle as written in the scenario
    brand_handles: dict[str, str]  # brand id -> handle as written in the scenario
    tokens: dict[str, str] = field(default_factory=dict)  # persona id -> the fake's token
    public_kind: str = "post"  # what a brand's answer is on this platform ("email" for email)
    dms: bool = True  # whether brands can send direct messages here
    auto_acks: bool = True
    """Whether the platform marks automatic acknowledgements (email's Auto-Submitted); where
    it cannot, the race's brands send none (the harness could not tell them from replies)."""


class Operator:
    """A person at the controls: approves everything, or declines what they are told to."""

    def __init__(self, decline: set[str] | None = None) -> None:
        self.decline = decline or set()
        self.approved: list[OutgoingMessage] = []
        self.reminded: list[OutgoingMessage] = []

    def approve(self, channel: str, message: OutgoingMessage) -> bool:
        if message.probe_id in self.decline:
            return False
        self.approved.append(message)
        return True

    def remind(self, channel: str, message: OutgoingMessage) -> None:
        self.reminded.append(message)


def new_world(kit: Kit, clock: VirtualClock | None = None) -> World:
    """A world with the kit's personas and the three scripted brands."""
    world = World(clock or VirtualClock(START))
    for persona, name in PERSONAS.items():
        world.account(kit.persona_handles[persona], name, token=kit.tokens.get(persona))
    for brand, (name, script) in BRANDS.items():
        if not kit.auto_acks:
            script = replace(script, auto_ack=None)
        world.account(kit.brand_handles[brand], name, script=script)
    return world


def scenario_yaml(kit: Kit, *, mode: str = "auto", days: int = 5,
                  per_day: int = 1, poll_every: str = "10m", window: str = "1d") -> str:
    """The small race for ``kit``'s platform."""
    channel = {"id": "live", "adapter": kit.adapter, "platform": kit.platform, "mode": mode,
               "poll_every": poll_every, "settings": kit.settings}
    personas = [{"id": p, "name": n, "accounts": {"live": kit.persona_handles[p]}}
                for p, n in PERSONAS.items()]
    brands = [{"id": b, "name": n, "industry": "Retail", "handles": {"live": kit.brand_handles[b]}}
              for b, (n, _) in BRANDS.items()]
    weekdays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][:days]
    head = yaml.safe_dump({"channels": [channel], "personas": personas, "brands": brands},
                          sort_keys=False)
    return textwrap.dedent(f"""\
        name: live-race
        seed: 11
        timezone: UTC
        categories:
          - id: question
            label: Question
            templates: ["{{{{ mention }}}} do you deliver on Sundays?"]
          - id: technical
            label: Technical
            templates: ["{{{{ mention }}}} the app crashes when I pay"]
            follow_up:
              - {{after: 10m, template: "Still crashing after the update, what next?"}}
        schedule:
          start: {START.date().isoformat()}
          weeks: 1
          weekdays: [{", ".join(weekdays)}]
          send_window: {{start: "09:00", end: "17:00"}}
          messages_per_brand_per_day: {per_day}
          observation_window: {window}
        design: {{type: counterbalanced, mentions: [at, name]}}
        """) + head


def run_race(kit: Kit, world: World, folder: Path, *, mode: str = "auto",
             operator: Operator | None = None,
             caps: tuple[int | None, int | None] = (None, None),
             on_runner: Callable[[Runner], None] | None = None, **shape: Any) -> RunResult:
    """Run the small race live against ``world``'s fake platform, on its clock (without
    caps unless given)."""
    scenario = load_scenario_text(scenario_yaml(kit, mode=mode, **shape), "live-race.yaml")
    assert isinstance(world.clock, VirtualClock)
    return execute(scenario, folder, live=True, clock=world.clock, environ=kit.environ,
                   operator=operator or Operator(), caps=caps, on_runner=on_runner)


def check_against_world(kit: Kit, world: World, folder: Path, *,
                        world_id: Callable[[str], str] | None = None) -> list[dict[str, Any]]:
    """Assert the export says exactly what the fake brands did; return its rows.
    ``world_id`` turns a platform id into the World's id, where the fake renders ids."""
    rows: dict[str, dict[str, Any]] = {str(r["probe_id"]): dict(r) for r in export_rows(folder)}
    store = Store.open(folder / "run.sqlite")
    try:
        posts = {(s.probe_id, s.step): (world_id or str)(s.platform_id or "")
                 for s in store.sends() if s.state == "sent"}
        schedule = Scenario.model_validate_json(store.meta()["scenario_json"]).schedule
    finally:
        store.close()
    # every brand gets messages_per_brand_per_day probes on each day of the schedule: the
    # whole race is 3 brands x 5 days x 1 = 15 rows; ``days=1`` is 3, ``per_day=3`` is 45
    per_brand = len(schedule.weekdays) * schedule.weeks * schedule.messages_per_brand_per_day
    per_brand_rows = Counter(str(r["brand"]) for r in rows.values())
    assert per_brand_rows == dict.fromkeys(BRANDS, per_brand), (per_brand_rows, per_brand)
    assert len(rows) == per_brand * len(BRANDS), (len(rows), per_brand)
    reactions = world.reactions
    answered = 0
    for (probe_id, step), post_id in posts.items():
        if step != 0:
            continue
        row = rows[probe_id]
        public = sorted(r.delay for r in reactions if r.answers == post_id
                        and r.kind == kit.public_kind and not r.automated)
        thread = {p for (pid, _), p in posts.items() if pid == probe_id}
        acks = [r for r in reactions if r.answers in thread and r.automated]
        if public:
            answered += 1
            assert row["latency_s"] == int(public[0].total_seconds()), (probe_id, row)
            assert row["responded"] is True or row["responded"] == "true"
        else:
            assert row["latency_s"] in (None, ""), (probe_id, row)
        assert int(row["auto_acks"]) == len(acks), (probe_id, row)
        follow_up = posts.get((probe_id, 1))
        if follow_up is not None:
            answers = [r for r in reactions if r.answers == follow_up and not r.automated
                       and (kit.dms or r.kind != "dm")]
            assert int(row["brand_replies"]) >= 1 + len(answers), (probe_id, row)
        if kit.dms and any(r.kind == "dm" and r.answers == post_id and not r.automated
                           for r in reactions):
            assert row["direct_message"] in (True, "true"), (probe_id, row)
    assert answered > 0
    ours = [p for p in world.visible() if p.author.script is None]
    assert len(ours) == len(posts), "every post made once, and each one recorded"
    return list(rows.values())


def live_adapter(kit: Kit, world: World, folder: Path, *, mode: str = "auto",
                 environ: dict[str, str] | None = None,
                 unchecked: dict[str, Any] | None = None) -> tuple[ChannelAdapter,
                                                                   OutgoingMessage]:
    """The race's channel adapter (not wrapped in its mode) and its first planned message;
    ``unchecked`` settings are added after the scenario's validation (which would refuse
    them), as a channel built by other code might have them."""
    from harness.plan.expand import build_plan
    from harness.runner.roster import Roster
    from harness.session.runs import build_channels

    scenario = load_scenario_text(scenario_yaml(kit, mode=mode), "live-race.yaml")
    if unchecked:
        channel = scenario.channels[0]
        channel = channel.model_copy(update={"settings": {**channel.settings, **unchecked}})
        scenario = scenario.model_copy(update={"channels": [channel]})
    folder.mkdir(parents=True, exist_ok=True)
    adapter = build_channels(scenario, world.clock, folder,
                             environ=kit.environ if environ is None else environ)["live"]
    probe = build_plan(scenario)[0]
    roster = Roster.from_scenario(scenario)
    message = OutgoingMessage(
        probe_id=probe.probe_id, step=0, persona_id=probe.persona,
        persona_account=roster.persona_accounts[("live", probe.persona)], brand_id=probe.brand,
        brand_handles=roster.brand_handles[("live", probe.brand)], mention=probe.mention,
        category=probe.category, text=probe.text, not_before=probe.scheduled_at)
    return adapter, message
