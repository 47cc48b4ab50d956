"""The manual channel: a person posts and records what happened with `shopper log`; the run
picks the records up like any other channel's, and `shopper todo` says what is left to post."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from harness.channels.base import ChannelContext, OutgoingMessage
from harness.channels.manual import ManualChannel, journal_path, parse_cursor
from harness.channels.registry import get_adapter
from harness.cli import main
from harness.clock import VirtualClock
from harness.errors import AccessDenied
from harness.scenario.model import Channel, Scenario
from harness.session.runs import execute, open_run
from harness.session.scenarios import load_scenario_text
from harness.store.folder import RunFolder
from harness.store.records import SendRecord, WriteBatch
from harness.store.sqlite import Store
from tests.fakes.race import START, Kit, Operator, scenario_yaml
from tests.simrun import export_rows

KIT = Kit(adapter="manual", platform="other", settings={}, environ={},
          persona_handles={"ana": "Ana (Facebook)", "ben": "Ben (Facebook)"},
          brand_handles={"acme": "Acme Facebook page", "globex": "Globex on Facebook",
                         "initech": "Initech FB"})

# What each brand does after a post, by step: (delay, kind, automated).
ACME_FIRST = timedelta(minutes=7, seconds=13)
GLOBEX_FIRST = timedelta(hours=3, minutes=20, seconds=5)
BEHAVIOUR: dict[tuple[str, int], list[tuple[timedelta, str, bool]]] = {
    ("acme", 0): [(ACME_FIRST, "public_reply", False),
                  (ACME_FIRST + timedelta(minutes=1), "direct_message", False)],
    ("acme", 1): [(timedelta(minutes=5), "public_reply", False)],
    ("globex", 0): [(timedelta(minutes=2), "direct_message", True),
                    (GLOBEX_FIRST, "public_reply", False)],
}


class Person(Operator):
    """Posts what the run reminds them of, records it with `shopper log` at once, and records
    the brands' replies (ahead of time: they become visible when the run's clock gets there)."""

    def __init__(self, folder: Path, clock: VirtualClock) -> None:
        super().__init__()
        self.folder = folder
        self.clock = clock

    def remind(self, channel: str, message: OutgoingMessage) -> None:
        super().remind(channel, message)
        now = self.clock.now()
        common = ["log", str(self.folder), "--probe", message.probe_id,
                  "--step", str(message.step)]
        assert main([*common, "--sent", "--at", now.isoformat()]) == 0
        for delay, kind, automated in BEHAVIOUR.get((message.brand_id, message.step), []):
            extra = ["--automated"] if automated else []
            assert main([*common, "--reply", "--at", (now + delay).isoformat(), "--kind", kind,
                         "--text", f"{kind} from {message.brand_id}", *extra]) == 0


def test_a_whole_race_on_a_manual_channel(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "run"
    scenario = load_scenario_text(scenario_yaml(KIT, mode="assisted"), "manual-race.yaml")
    assert scenario.channels[0].mode == "assisted"
    clock = VirtualClock(START)
    person = Person(folder, clock)
    result = execute(scenario, folder, live=True, clock=clock, environ={}, operator=person)
    assert result.finished and result.sent == result.planned == 15

    rows = {str(r["probe_id"]): r for r in export_rows(folder)}
    store = Store.open(folder / "run.sqlite")
    try:
        sends = {(s.probe_id, s.step): s for s in store.sends()}
        replies = store.replies()
    finally:
        store.close()
    reminded = {(m.probe_id, m.step) for m in person.reminded}
    assert {key for key, s in sends.items() if s.state == "sent"} == reminded
    assert all(r.probe_id is not None and r.matched_by == "in_reply_to" for r in replies)
    # Seen at the first poll once the run knew the post and the reply had happened, not before.
    assert all(timedelta(0) <= r.received_at - r.created_at <= timedelta(minutes=20)
               for r in replies), [(r.created_at, r.received_at) for r in replies]
    assert len(replies) == sum(len(BEHAVIOUR.get((pid.split("-")[3], step), []))
                               for pid, step in reminded)
    follow_ups = 0
    for probe_id, row in rows.items():
        brand = probe_id.split("-")[3]
        send = sends[(probe_id, 0)]
        assert send.platform_id == f"manual:{probe_id}:s0"
        assert row["sent_at"] == row["scheduled_at"]  # posted when reminded
        if brand == "acme":
            assert row["latency_s"] == ACME_FIRST.total_seconds(), row
            assert row["direct_message"] is True and row["auto_acks"] == 0
        elif brand == "globex":
            assert row["latency_s"] == GLOBEX_FIRST.total_seconds(), row
            assert row["auto_acks"] == 1 and row["first_reply_kind"] == "public_reply"
        else:
            assert row["latency_s"] is None and row["responded"] is False, row
            assert row["brand_replies"] == 0
        if (probe_id, 1) in sends:
            follow_ups += 1
            assert sends[(probe_id, 1)].state == "sent" and row["follow_ups_sent"] == 1
            assert int(str(row["brand_replies"])) >= (3 if brand == "acme" else 1)
    assert follow_ups > 0  # technical probes answered in public got their follow-up

    lines = [json.loads(line) for line in
             journal_path(folder, "live").read_text(encoding="utf-8").splitlines()]
    found = [line for line in lines if line["type"] == "found"]
    assert len(found) == len(reminded)  # each post picked up once
    assert "recorded: probe" in capsys.readouterr().out


# -- a run folder to log into -----------------------------------------------------------------

TWO_CHANNELS = textwrap.dedent("""\
    name: two-channels
    seed: 3
    timezone: America/New_York
    personas:
      - {id: ana, name: Ana, accounts: {fb: "Ana on Facebook", x: "@ana"}}
    channels:
      - {id: fb, adapter: manual, poll_every: 10m}
      - {id: x, adapter: simulated, platform: x}
    categories:
      - id: question
        label: Question
        templates: ["{{ mention }} do you deliver on Sundays?"]
        follow_up: [{after: 10m, template: "Thanks! And on holidays?"}]
    schedule:
      start: 2025-03-03
      weeks: 1
      weekdays: [mon, tue, wed]
      messages_per_brand_per_day: 2
      observation_window: 1d
    design: {type: replay, mentions: [name]}
    brands:
      - id: acme
        name: Acme
        industry: Retail
        handles: {fb: ["Acme page", "Acme Help"], x: ["@acme"]}
    """)


@pytest.fixture
def run_folder(tmp_path: Path) -> tuple[Path, Scenario]:
    """A run folder holding the plan of a scenario with a manual and a simulated channel."""
    scenario = load_scenario_text(TWO_CHANNELS, "two.yaml")
    folder = tmp_path / "run"
    folder.mkdir()
    open_run(RunFolder(folder), scenario, "", "two.yaml", durable=False).close()
    return folder, scenario


def _probes(folder: Path) -> dict[str, list[str]]:
    store = Store.open(folder / "run.sqlite")
    try:
        by_channel: dict[str, list[str]] = {}
        for probe in store.probes():
            by_channel.setdefault(probe.channel, []).append(probe.probe_id)
        return by_channel
    finally:
        store.close()


def _journal(folder: Path) -> list[dict[str, object]]:
    path = journal_path(folder, "fb")
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_log_records_sends_and_replies_and_refuses_mistakes(
        run_folder: tuple[Path, Scenario], capsys: pytest.CaptureFixture[str]) -> None:
    folder, _ = run_folder
    probes = _probes(folder)
    manual, other = probes["fb"][0], probes["x"][0]
    base = ["log", str(folder), "--probe", manual]

    def refused(argv: list[str], *needles: str) -> None:
        before = _journal(folder)
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err, err
        for needle in needles:
            assert needle in err, err
        assert _journal(folder) == before  # nothing written

    refused([*base, "--reply", "--at", "2025-03-03T10:00"], "not recorded as sent", "--sent")
    refused(["log", str(folder), "--probe", manual.replace("-acme", "acme"), "--sent"],
            "no probe", "did you mean", manual)
    refused(["log", str(folder), "--probe", other, "--sent"], "not a manual one", "'simulated'")
    refused([*base, "--sent", "--at", "yesterday at 9"], "--at", "ISO 8601")
    refused([*base, "--sent", "--at", "2999-01-01T09:00"], "in the future")
    refused([*base, "--step", "2", "--sent"], "steps 0 to 1")
    refused([*base, "--step", "1", "--sent"], "record step 0", "first")
    refused([*base, "--sent", "--author", "Acme page"], "--reply")

    # A time without a zone is in the scenario's (New York: UTC-5 in early March).
    assert main([*base, "--sent", "--at", "2025-03-03T09:05"]) == 0
    assert "recorded: probe " + manual in capsys.readouterr().out
    sent = _journal(folder)[-1]
    assert sent["type"] == "sent" and sent["at"] == "2025-03-03T14:05:00+00:00"
    assert sent["id"] == f"manual:{manual}:s0" and sent["account"] == "Ana on Facebook"
    assert sent["text"] == "Acme do you deliver on Sundays?"

    refused([*base, "--reply", "--at", "2025-03-03T09:04:59"], "cannot come before")
    assert main([*base, "--reply", "--at", "2025-03-03T14:12:13Z", "--text", "Hi Ana!"]) == 0
    out = capsys.readouterr().out
    assert "7m 13s after the message" in out
    reply = _journal(folder)[-1]
    assert reply["type"] == "reply" and reply["author"] == "Acme page"  # the first handle
    assert reply["at"] == "2025-03-03T14:12:13+00:00" and reply["kind"] == "public_reply"
    assert reply["text"] == "Hi Ana!" and reply["automated"] is False

    assert main([*base, "--reply", "--kind", "direct_message", "--author", "Acme Help",
                 "--automated", "--url", "https://fb.example/m/1",
                 "--at", "2025-03-03T10:00-05:00"]) == 0
    reply = _journal(folder)[-1]
    assert reply["id"] == "https://fb.example/m/1" and reply["automated"] is True
    assert reply["author"] == "Acme Help" and reply["at"] == "2025-03-03T15:00:00+00:00"
    refused([*base, "--reply", "--url", "https://fb.example/m/1"], "already recorded")


def test_the_adapter_hands_over_replies_once_the_run_knows_the_post(
        run_folder: tuple[Path, Scenario]) -> None:
    folder, scenario = run_folder
    probe_id = _probes(folder)["fb"][0]
    clock = VirtualClock(datetime(2025, 3, 3, 14, 0, tzinfo=UTC))
    context = ChannelContext(clock=clock, state_dir=folder, seed=1,
                             personas=scenario.personas, brands=scenario.brands,
                             timezone=scenario.timezone)
    adapter = get_adapter("manual")(scenario.channels[0], context)
    message = OutgoingMessage(probe_id, 0, "ana", "Ana on Facebook", "acme", ("Acme page",),
                              "name", "question", "Acme do you deliver on Sundays?")
    with pytest.raises(AccessDenied, match="shopper log"):
        adapter.send(message)
    assert adapter.find_post(message) is None
    base = ["log", str(folder), "--probe", probe_id]
    assert main([*base, "--sent", "--at", "2025-03-03T14:05Z",
                 "--url", "https://fb.example/p/9"]) == 0
    assert main([*base, "--reply", "--at", "2025-03-03T14:30Z"]) == 0

    clock.sleep_until(datetime(2025, 3, 3, 15, 0, tzinfo=UTC))
    first = adapter.poll(None)
    assert first.replies == []  # the run does not know the post yet: kept for later
    post = adapter.find_post(message)
    assert post is not None and post.platform_id == "https://fb.example/p/9"
    assert post.created_at == datetime(2025, 3, 3, 14, 5, tzinfo=UTC)
    second = adapter.poll(first.cursor)
    assert [(r.in_reply_to, r.author, r.to_account, r.created_at) for r in second.replies] == [
        ("https://fb.example/p/9", "Acme page", "Ana on Facebook",
         datetime(2025, 3, 3, 14, 30, tzinfo=UTC))]
    assert adapter.poll(second.cursor).replies == []  # handed over once
    # Once the run has it, the post cannot be replaced.
    assert main([*base, "--sent", "--at", "2025-03-03T14:06Z"]) == 2
    # A reply whose time has not come on the run's clock waits for it.
    assert main([*base, "--reply", "--at", "2025-03-03T16:00Z"]) == 0
    third = adapter.poll(second.cursor)
    assert third.replies == [] and parse_cursor(third.cursor)[1]
    clock.sleep_until(datetime(2025, 3, 3, 16, 0, tzinfo=UTC))
    assert len(adapter.poll(third.cursor).replies) == 1
    adapter.close()


def test_todo_lists_what_is_left_to_post(run_folder: tuple[Path, Scenario],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    folder, _ = run_folder
    fb = _probes(folder)["fb"]
    assert len(fb) >= 3
    logged, in_store, waiting = fb[0], fb[1], fb[2]
    assert main(["log", str(folder), "--probe", logged, "--sent", "--at",
                 "2025-03-03T10:00"]) == 0
    store = Store.open(folder / "run.sqlite")
    try:
        plan = {p.probe_id: p for p in store.probes()}
        moment = plan[in_store].scheduled_at
        done = SendRecord(in_store, 0, 1, "intended", moment, None, None, None, "t")
        asking = SendRecord(waiting, 0, 1, "intended", moment, None, None, None, "t")
        store.write(WriteBatch(intents=[done, asking]))
        store.write(WriteBatch(outcomes=[
            done._replace(state="sent", sent_at=moment, platform_id="p1"),
            asking._replace(state="not_sent", error="waiting for the persona to post it",
                            retry_at=moment + timedelta(minutes=10),
                            reason="awaiting_person")]))
        # The brand answered `in_store`: the run now waits for a person to post its follow-up.
        later = moment + timedelta(minutes=30)
        follow_up = SendRecord(in_store, 1, 1, "intended", later, None, None, "r1", "f")
        store.write(WriteBatch(intents=[follow_up]))
        store.write(WriteBatch(outcomes=[follow_up._replace(
            state="not_sent", error="waiting for the persona to post it",
            retry_at=later + timedelta(minutes=10), reason="awaiting_person")]))
    finally:
        store.close()
    capsys.readouterr()

    assert main(["todo", str(folder)]) == 0
    out = capsys.readouterr().out
    listed = {word for line in out.splitlines() if line.startswith(("due ", "upcoming "))
              for word in line.split() if word in plan}
    assert waiting in listed and logged not in listed
    assert listed == set(fb) - {logged}  # the simulated channel's are not a person's
    assert plan[waiting].text in out and "Ana on Facebook" in out and "Acme (Acme page)" in out
    assert f"shopper log {folder} --probe {waiting} --sent --at now" in out
    assert f"--probe {logged} " not in out
    assert f"--probe {in_store} --step 1 --sent --at now" in out
    assert f"--probe {in_store} --sent" not in out
    assert "Thanks! And on holidays?" in out


def test_a_torn_last_line_is_read_only_once_complete(tmp_path: Path) -> None:
    clock = VirtualClock(datetime(2025, 3, 3, 12, 0, tzinfo=UTC))
    context = ChannelContext(clock=clock, state_dir=tmp_path, seed=1, personas=[], brands=[],
                             timezone="UTC")
    adapter = ManualChannel(Channel(id="fb", adapter="manual"), context)
    path = journal_path(tmp_path, "fb")
    sent = {"type": "sent", "probe": "p1", "step": 0, "at": "2025-03-03T09:00:00+00:00",
            "id": "manual:p1:s0", "text": "hello", "url": None, "account": "Ana"}
    path.write_text(json.dumps(sent) + "\n", encoding="utf-8")
    message = OutgoingMessage("p1", 0, "ana", "Ana", "acme", (), "at", "q", "hello")
    assert adapter.find_post(message) is not None
    reply = json.dumps({"type": "reply", "id": "r1", "probe": "p1", "step": 0,
                        "at": "2025-03-03T09:07:13+00:00", "kind": "public_reply",
                        "author": "Acme", "text": "hi", "url": None, "automated": False})
    with path.open("a", encoding="utf-8") as handle:
        handle.write(reply[:40])  # a write in progress
    first = adapter.poll(None)
    assert first.replies == [] and first.cursor == "2"  # the sent and found lines only
    with path.open("a", encoding="utf-8") as handle:
        handle.write(reply[40:] + "\n")
    second = adapter.poll(first.cursor)
    assert [(r.platform_id, r.in_reply_to, r.text) for r in second.replies] == [
        ("r1", "manual:p1:s0", "hi")]
    assert second.cursor == "3"

    # A writer that died mid-line: the next record ends the fragment, which is skipped.
    with path.open("a", encoding="utf-8") as handle:
        handle.write('{"type": "reply", "id": "r2", "pro')
    from harness.channels.manual import append_record

    append_record(path, {**json.loads(reply), "id": "r3"})
    third = adapter.poll(second.cursor)
    assert [r.platform_id for r in third.replies] == ["r3"] and third.cursor == "5"
