"""Kill `shopper run` with SIGKILL at random moments and at chosen points, simulated and live
(real adapters and SDKs against their fake platforms); rerunning must lose nothing and post
nothing twice. Every test prints what it did with -s.

Runs are children forked by tests/crash_forker.py, which has done the imports already: a kill
lands in the part of a run that does something, not in the interpreter's start-up. Knobs:
``SHOPPER_CRASH_KILLS`` (random kills of the simulated race, default 60),
``SHOPPER_CRASH_TARGETED`` (kills per chosen point, simulated, default 20),
``SHOPPER_CRASH_LIVE_KILLS`` (random kills per live adapter, default 10),
``SHOPPER_CRASH_LIVE_TARGETED`` (kills per chosen point, live, default 4),
``SHOPPER_CRASH_SEED``.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import hmac
import io
import json
import os
import random
import select
import signal
import socketserver
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from harness.cli import main as shopper
from harness.plan.expand import build_plan
from harness.session.scenarios import load_scenario_text
from harness.store.records import ReplyRecord, SendRecord
from harness.store.sqlite import Store
from tests.crash_live_driver import CLOCK_PATH
from tests.fakes import fake_bluesky, fake_email, fake_mastodon, fake_x
from tests.fakes.http import FakeServer, Request, Response
from tests.fakes.race import Kit, check_against_world, new_world, scenario_yaml
from tests.fakes.world import Post, World

from .conftest import REPLAY, SMALL
from .simrun import journal_posts

SEED = os.environ.get("SHOPPER_CRASH_SEED", "20130101")
KILLS = int(os.environ.get("SHOPPER_CRASH_KILLS", "60"))
TARGETED = int(os.environ.get("SHOPPER_CRASH_TARGETED", "20"))  # kills per chosen point
LIVE_KILLS = int(os.environ.get("SHOPPER_CRASH_LIVE_KILLS", "10"))  # per live adapter
LIVE_TARGETED = int(os.environ.get("SHOPPER_CRASH_LIVE_TARGETED", "4"))  # per chosen point
AFTER_FIRST_SEND = 0.75
"""The share of random kills that must land after the killed process's first send: the test
fails if kill moments drift back into start-up, where they test nothing (kills drawn over a
whole `python -m harness run`, imports included, landed there 9 times in 65; these land there
84-92% of the time: the rest fall while a fresh run creates its store, before it sends)."""

FORKER = Path(__file__).with_name("crash_forker.py")
PRELOAD = ["harness.cli", "harness.cli.running", "harness.cli.inspect", "harness.cli.output",
           "harness.cli.channels", "harness.session.runs", "harness.plan.expand",
           "harness.analysis.outcomes",
           "harness.channels.simulated", "harness.channels.x", "harness.channels.email",
           "harness.channels.mastodon", "harness.channels.bluesky", "tests.crash_driver",
           "tests.crash_live_driver"]
POLL_S = 0.0005
"""How often a watched run's folder is looked at (real seconds)."""
LIVE_SHAPE: dict[str, Any] = {"days": 3, "poll_every": "1h"}
"""The small live race, cut to three days polled hourly: 9 probes, 2 follow-ups, DMs, @ and
name mentions; a few hundred requests (each costs the SDK a few ms)."""
SIM_SLICE = 0.5
LIVE_SLICE = 0.3
"""A run is killed at a moment drawn uniformly from the first this much of an uninterrupted
run's writing time (from its first write to the store to its last), counted from its own first
write: each rerun goes on from where the last one died, so one race (fresh folder to finished
run) takes several kills, spread over all of its writing part."""


# -- children, forked and watched --------------------------------------------------------------

class Forker:
    """The fork server (tests/crash_forker.py): spawns runs, reaps them, says how they ended."""

    def __init__(self) -> None:
        self.process = subprocess.Popen([sys.executable, str(FORKER), *PRELOAD],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True)
        assert self.process.stdout is not None
        assert "ready" in json.loads(self.process.stdout.readline() or "{}"), (
            f"the fork server did not start ({self.process.poll()})")

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, f"the fork server died ({self.process.poll()})"
        answer: dict[str, Any] = json.loads(line)
        return answer

    def spawn(self, target: str, *args: Any, stderr: Path) -> int:
        """Fork a child running ``target(*args)``; its pid."""
        return int(self._ask({"spawn": target, "args": list(args),
                              "stderr": str(stderr)})["pid"])

    def wait(self, pid: int) -> int:
        """Reap child ``pid``: its exit status (negative: the signal that killed it)."""
        return int(self._ask({"wait": pid})["status"])

    def run(self, target: str, *args: Any, stderr: Path) -> int:
        return self.wait(self.spawn(target, *args, stderr=stderr))

    def call(self, target: str, *args: Any) -> int:
        """Call ``target(*args)`` in the fork server itself: every child after inherits it."""
        answer = self._ask({"call": target, "args": list(args)})
        assert answer["status"] == 0, answer.get("error", answer)
        return int(answer["status"])

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def forker() -> Iterator[Forker]:
    server = Forker()
    try:
        yield server
    finally:
        server.close()


@dataclass(frozen=True)
class Attempt:
    """One watched run: how it ended, and what it did before."""

    status: int
    killed: bool
    wrote_at: float | None
    """Real seconds from the fork to the run's first write to its store (None: never)."""
    done_at: float | None
    """Real seconds from the fork to the run letting go of its folder (None: it did not)."""
    sends_before: int
    sends_after: int

    @property
    def sent(self) -> bool:
        """Whether the process sent anything (for a killed one: before the kill)."""
        return self.sends_after > self.sends_before


def _store_files(folder: Path) -> dict[str, tuple[int, int]]:
    """Size and modification time of the store's files (``run.sqlite*``, staging included;
    not the ``-shm`` index, which a reader rebuilds after a crash before anything is written)."""
    found = {}
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(folder):
            if entry.name.startswith("run.sqlite") and not entry.name.endswith("-shm"):
                with contextlib.suppress(FileNotFoundError):
                    stat = entry.stat()
                    found[entry.name] = (stat.st_size, stat.st_mtime_ns)
    return found


def _released(folder: Path) -> bool:
    """Whether the folder's lock file is empty: the runner that held it let it go."""
    try:
        return (folder / "run.lock").stat().st_size == 0
    except FileNotFoundError:
        return False


def watch(forker: Forker, folder: Path, target: str, *args: Any, delay: float | None,
          sends: Callable[[], int], stderr: Path, timeout: float = 120.0) -> Attempt:
    """Run ``target(*args)`` in a forked child working in ``folder``. With ``delay``, SIGKILL
    it ``delay`` real seconds after its first write to the store, unless it has let go of the
    folder by then (its writes are over: a kill while the interpreter exits tests nothing).
    ``sends`` counts the posts the platform has taken, before the child starts and after it
    ends."""
    untouched = _store_files(folder)
    before = sends()
    pid = forker.spawn(target, *args, stderr=stderr)
    started = time.monotonic()
    wrote = done = None
    killed = False
    exited = os.pidfd_open(pid)  # the child is not reaped until we wait: the pid stays ours
    try:
        while not select.select([exited], [], [], POLL_S)[0]:
            now = time.monotonic() - started
            if wrote is None and _store_files(folder) != untouched:
                wrote = now
            if wrote is not None and done is None and _released(folder):
                done = now
            if delay is not None and wrote is not None and done is None and now >= wrote + delay:
                os.kill(pid, signal.SIGKILL)
                killed = True
                break
            if now > timeout:
                os.kill(pid, signal.SIGKILL)
                pytest.fail(f"{target}{args} still running after {timeout} s")
    finally:
        os.close(exited)
        status = forker.wait(pid)
    if wrote is not None and done is None and _released(folder):
        done = time.monotonic() - started  # let go between two looks, then ended
    return Attempt(status, killed, wrote, done, before, sends())


def _errors(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")[-3000:] if path.exists() else ""


def _export(folder: Path) -> str:
    """`shopper export DIR`, as it prints it."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert shopper(["export", str(folder)]) == 0
    return out.getvalue()


# -- the simulated race ----------------------------------------------------------------------

def _journal_sends(folder: Path) -> Callable[[], int]:
    def count() -> int:
        return sum(journal.read_bytes().count(b"\n")
                   for journal in folder.glob("simulated-*.jsonl"))
    return count


def _shopper_run(folder: Path) -> list[str]:
    return ["run", str(REPLAY), "--simulate", "-q", "--out", str(folder)]


def _preload(forker: Forker, scenario: Path) -> None:
    assert forker.call("tests.crash_driver:preload", str(scenario)) == 0


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_nothing_and_sends_nothing_twice(
        tmp_path: Path, forker: Forker) -> None:
    """`shopper run` of the 2013 replay, killed again and again, each time at a moment drawn
    uniformly from the first half of the time an uninterrupted run spends writing (from its
    first write to the store to its last, when it lets go of the folder), counted from the
    killed run's own first write, and rerun, until a run finishes. Its export must be the
    uninterrupted one, its journal must hold no post twice, and most kills must have
    interrupted a process that had begun sending.

    The uninterrupted run is ``harness.cli.main(["run", ...])``, what ``python -m harness
    run`` runs; the killed ones make the same call `shopper run` makes once it has read and
    checked its scenario (``tests.crash_driver.shopper_run``), in a child of a fork server that
    has done that once: the imports and the checks are most of a run's time, and a kill there
    tests nothing."""
    errors = tmp_path / "stderr.txt"
    whole = tmp_path / "whole"
    reference = watch(forker, whole, "harness.cli:main", _shopper_run(whole), delay=None,
                      sends=_journal_sends(whole), stderr=errors)
    assert reference.status == 0, _errors(errors)
    assert reference.wrote_at is not None and reference.done_at is not None
    writing = reference.done_at - reference.wrote_at
    expected = _export(whole)
    _preload(forker, REPLAY)

    rng = random.Random(int(SEED))
    kills = rounds = after_send = 0
    while kills < KILLS:  # each round: a fresh folder, killed until a run gets to the end
        rounds += 1
        out = tmp_path / f"round{rounds}"
        for _ in range(200):
            result = watch(forker, out, "tests.crash_driver:shopper_run", str(REPLAY), str(out),
                           delay=rng.uniform(0, SIM_SLICE * writing),
                           sends=_journal_sends(out),
                           stderr=errors)
            if not result.killed:
                assert result.status == 0, _errors(errors)
                break
            assert result.status == -signal.SIGKILL, _errors(errors)
            kills += 1
            after_send += result.sent
        assert _export(out) == expected, f"round {rounds} differs"
        posts = journal_posts(out)
        assert len(posts) == len(set(posts)), f"round {rounds}: a message was posted twice"
    print(f"\nsurvived {kills} SIGKILLs in {rounds} interrupted runs; {after_send} landed "
          f"after the first send of the process they killed (kill moments over the first "
          f"{SIM_SLICE:.0%} of the {writing:.2f} s an uninterrupted run writes, of "
          f"{reference.done_at:.2f} s from fork to done)")
    assert after_send >= AFTER_FIRST_SEND * kills, (
        f"only {after_send} of {kills} kills landed after a send: kill moments drift into "
        "start-up")


@pytest.mark.slow
@pytest.mark.parametrize("point", ["post", "follow_up", "poll", "commit"])
def test_sigkill_at_chosen_points_loses_nothing_and_sends_nothing_twice(
        tmp_path: Path, forker: Forker, point: str) -> None:
    """Killed right after the platform took a post (first message or follow-up), right after
    replies were read, or inside a store transaction, again and again: the finished run is the
    uninterrupted one, and nothing was posted twice."""
    scenario = REPLAY
    if point == "follow_up":  # the 2013 race had none: the small race has
        scenario = tmp_path / "small.yaml"
        scenario.write_text(SMALL, encoding="utf-8")
    errors = tmp_path / "stderr.txt"
    whole = tmp_path / "whole"
    target = "tests.crash_driver:drive"
    _preload(forker, scenario)
    assert forker.run(target, str(scenario), str(whole), point, 0, stderr=errors) == 0, (
        _errors(errors))
    expected = _export(whole)
    rng = random.Random(f"{point}-{SEED}")
    out = tmp_path / "killed"
    kills = 0
    for _ in range(300):
        # the N-th time it gets there (a kill at the first commit would only ever repeat)
        low, high = {"commit": (2, 12), "follow_up": (1, 2)}.get(point, (1, 12))
        at = rng.randint(low, high) if kills < TARGETED else 0
        status = forker.run(target, str(scenario), str(out), point, at, stderr=errors)
        if status == 0:
            break
        assert status == -signal.SIGKILL, _errors(errors)
        kills += 1
    assert kills >= 1, f"never got to {point}"
    assert _export(out) == expected
    posts = journal_posts(out)
    assert len(posts) == len(set(posts)), "a message was posted twice"
    print(f"\nsurvived {kills} SIGKILLs at {point!r}")


@pytest.mark.slow
def test_a_journal_line_torn_by_a_kill_does_not_stop_the_run_resuming(
        tmp_path: Path, forker: Forker) -> None:
    """The random kills found it: a kill in the middle of the simulated platform's write of a
    post (the write cut where it crossed a page) leaves half a line at the journal's end. The
    platform skips a torn last line (that post never happened) and the resumed run sends the
    post again, but appends it to the half line; the next run cannot read the journal. Here
    the tear is made by hand where a kill made it (the fifth post's line cut in half, its
    intent committed), then the run is killed once more and resumed: it must finish as the
    uninterrupted one."""
    errors = tmp_path / "stderr.txt"
    target = "tests.crash_driver:drive"
    _preload(forker, REPLAY)
    whole, out = tmp_path / "whole", tmp_path / "killed"
    assert forker.run(target, str(REPLAY), str(whole), "post", 0, stderr=errors) == 0
    assert forker.run(target, str(REPLAY), str(out), "post", 5, stderr=errors) == -signal.SIGKILL
    journal = next(out.glob("simulated-*.jsonl"))
    data = journal.read_bytes()
    last = data.rstrip(b"\n").rfind(b"\n") + 1
    journal.write_bytes(data[:last + (len(data) - last) // 2])  # the fifth post's write, torn
    assert forker.run(target, str(REPLAY), str(out), "post", 1, stderr=errors) == -signal.SIGKILL
    assert forker.run(target, str(REPLAY), str(out), "post", 0, stderr=errors) == 0, (
        _errors(errors))
    assert _export(out) == _export(whole)
    posts = journal_posts(out)
    assert len(posts) == len(set(posts)), "a message was posted twice"


# -- live adapters against their fakes ---------------------------------------------------------

FAKES: dict[str, ModuleType] = {"x": fake_x, "email": fake_email, "mastodon": fake_mastodon,
                                "bluesky": fake_bluesky}


@contextlib.contextmanager
def _quiet_disconnects() -> Iterator[None]:
    """Fake servers say nothing when a killed child's connection breaks under them."""
    original = socketserver.BaseServer.handle_error

    def handle_error(self: socketserver.BaseServer, request: Any, address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            original(self, request, address)

    socketserver.BaseServer.handle_error = handle_error  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        socketserver.BaseServer.handle_error = original  # type: ignore[method-assign]


class LiveRace:
    """A fake platform over a fresh world in this process, a clock server the children keep
    time by (tests/crash_live_driver.py), the race's scenario file, and a run folder: what one
    live run needs to be killed and resumed any number of times."""

    def __init__(self, adapter: str, folder: Path) -> None:
        self.adapter = adapter
        self.folder = folder
        self.errors = folder.with_name(folder.name + ".stderr")
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> LiveRace:
        module = FAKES[self.adapter]
        self._stack.enter_context(_quiet_disconnects())
        self.world: World = new_world(module.kit())
        self.fake: Any = self._stack.enter_context(module.serve(self.world))
        self.kit: Kit = self.fake.kit
        clock = self._stack.enter_context(FakeServer(self.world.clock))
        clock.route("GET", CLOCK_PATH, self._clock)
        clock.route("POST", CLOCK_PATH, self._clock)
        self.clock_url = clock.url
        self.scenario = self.folder.with_name(self.folder.name + ".yaml")
        self.scenario.write_text(scenario_yaml(self.kit, **LIVE_SHAPE), encoding="utf-8")
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def _clock(self, request: Request) -> Response:
        if request.method == "POST":
            self.world.clock.sleep_until(datetime.fromisoformat(request.json()["until"]))
        return Response(200, {"now": self.world.clock.now().isoformat()})

    def ours(self) -> list[Post]:
        """What the personas posted (or mailed) on the fake platform."""
        return [p for p in self.world.visible() if p.author.script is None]

    def attempt(self, forker: Forker, point: str = "", at: int = 0, *,
                delay: float | None = None) -> Attempt:
        """Run (or resume) the race in a fresh child, killed at ``point`` or after ``delay``."""
        return watch(forker, self.folder, "tests.crash_live_driver:live", str(self.scenario),
                     str(self.folder), self.adapter, self.clock_url, self.kit.environ, point,
                     at, delay=delay, sends=lambda: len(self.ours()), stderr=self.errors)

    def world_id(self, platform_id: str) -> str:
        convert: Callable[[str], str] | None = getattr(self.fake, "world_id", None)
        return convert(platform_id) if convert else platform_id


@dataclass
class Reference:
    """An uninterrupted live run: its export, how long it wrote, what it posted."""

    export: str
    writing: float
    posts: int


_references: dict[str, Reference] = {}


def _reference(forker: Forker, adapter: str, folder: Path) -> Reference:
    """The uninterrupted run of the live race on ``adapter`` (once a session)."""
    if adapter not in _references:
        with LiveRace(adapter, folder) as race:
            result = race.attempt(forker)
            assert result.status == 0, _errors(race.errors)
            assert result.wrote_at is not None and result.done_at is not None
            _check_posted_once(race)
            _references[adapter] = Reference(_export(folder), result.done_at - result.wrote_at,
                                             len(race.ours()))
    return _references[adapter]


def _sends(folder: Path) -> list[SendRecord]:
    store = Store.open(folder / "run.sqlite")
    try:
        return store.sends()
    finally:
        store.close()


def _replies(folder: Path) -> list[ReplyRecord]:
    store = Store.open(folder / "run.sqlite")
    try:
        return store.replies()
    finally:
        store.close()


def _check_posted_once(race: LiveRace) -> None:
    """Every post the personas made on the fake is one recorded send, and none was made
    twice (X, Mastodon, Bluesky: find_post settles every interrupted send)."""
    recorded = [race.world_id(s.platform_id or "") for s in _sends(race.folder)
                if s.state == "sent"]
    made = [p.id for p in race.ours()]
    assert len(made) == len(set(made))
    assert sorted(recorded) == sorted(made), "a post made twice, or made and not recorded"


@dataclass
class MailCheck:
    """What an email race that was killed and resumed left behind."""

    uncertain: set[tuple[str, int]]
    """Sends a crash cut off that nothing settled: (probe, step)."""
    proved: set[tuple[str, int]] = field(default_factory=set)
    """Sends whose message a brand answered: (probe, step)."""


def _message_ids(folder: Path, probes: list[str]) -> dict[str, tuple[str, int]]:
    """Message-ID -> (probe, step) of every message the email channel would send: derived, as
    the adapter derives them, from the key it keeps in the run folder."""
    state = json.loads((folder / "email-live.json").read_text(encoding="utf-8"))
    key = bytes.fromhex(state["key"])
    found = {}
    for probe in probes:
        tag = hmac.new(key, probe.encode("utf-8"), hashlib.sha256).hexdigest()[:20]
        for step, suffix in ((0, ""), (1, ".1")):
            found[f"<{tag}{suffix}@shopper.test>"] = (probe, step)
    return found


def _rows(export: str) -> dict[str, dict[str, str]]:
    """An export's rows by probe id."""
    return {row["probe_id"]: row for row in csv.DictReader(io.StringIO(export))}


def _check_mail(race: LiveRace, expected: Reference) -> MailCheck:
    """What email promises after any crash. Email has no find_post: a send a crash cut off
    between its intent and its outcome is *uncertain* and never sent again; its Message-ID is
    stored with the intent, so a brand's answer to it is credited to it and proves it sent.

    - no message was delivered twice (a message's Message-ID is one per probe and step);
    - every message delivered is recorded, under its Message-ID: sent, or uncertain;
    - every brand mail to the personas is in the store (nothing read is lost), credited to the
      probe whose message it answers, uncertain or not;
    - every message a brand answered is recorded as sent;
    - the export is the uninterrupted run's, but for the rows of probes left uncertain (their
      status says so, and nothing counts as their answer)."""
    scenario = load_scenario_text(race.scenario.read_text(encoding="utf-8"), "race.yaml")
    ids = _message_ids(race.folder, [p.probe_id for p in build_plan(scenario)])
    delivered = [p.headers.get("Message-ID", "") for p in race.ours()]
    assert len(delivered) == len(set(delivered)), "a message was delivered twice"
    assert len(delivered) <= expected.posts
    sends = {(s.probe_id, s.step): s for s in _sends(race.folder)}  # the last attempt of each
    for message_id in delivered:
        assert message_id in ids, f"{message_id}: not one of the race's messages"
        send = sends.get(ids[message_id])
        assert send is not None, f"{message_id} delivered, never recorded"
        assert send.state in ("sent", "uncertain") and send.platform_id == message_id, send
    replies = {r.platform_id: r for r in _replies(race.folder)}
    check = MailCheck({key for key, s in sends.items() if s.state == "uncertain"})
    for post in race.world.visible():
        if post.author.script is None or post.kind != "email":
            continue
        message_id = race.fake.message_id(post)
        assert message_id in replies, f"brand mail {message_id} lost"
        answers = post.in_reply_to
        assert answers is not None and answers.author.script is None  # brands answer us
        key = ids[answers.headers.get("Message-ID", "")]
        assert replies[message_id].probe_id == key[0], (
            f"{message_id} answers {key} but is credited to {replies[message_id].probe_id}")
        check.proved.add(key)
    assert not check.proved & check.uncertain, "an answered message left uncertain"
    rows, wanted = _rows(_export(race.folder)), _rows(expected.export)
    assert rows.keys() == wanted.keys()
    for probe_id, row in rows.items():
        if (probe_id, 0) in check.uncertain:
            assert row["status"] == "uncertain" and row["brand_replies"] == "0", row
        elif not any(key[0] == probe_id for key in check.uncertain):
            assert row == wanted[probe_id], probe_id
    return check


def _check_live(race: LiveRace, expected: Reference) -> MailCheck | None:
    """After a killed and resumed live race: what its adapter promises (see :func:`_check_mail`
    for email). X, Mastodon and Bluesky settle every interrupted send with find_post, so their
    export is the uninterrupted run's, every post is made once and recorded, and every reply
    the fake brands sent is where the world says."""
    if race.adapter == "email":
        check = _check_mail(race, expected)
        if not check.uncertain:  # no send left in doubt: nothing may differ at all
            assert _export(race.folder) == expected.export
        return check
    assert _export(race.folder) == expected.export
    _check_posted_once(race)
    assert len(race.ours()) == expected.posts, "not the uninterrupted run's posts"
    check_against_world(race.kit, race.world, race.folder, world_id=race.world_id)
    return None


@pytest.mark.slow
@pytest.mark.parametrize("adapter", ["x", "email", "mastodon", "bluesky"])
def test_live_sigkill_at_random_moments(tmp_path: Path, forker: Forker, adapter: str) -> None:
    """The live race through the real adapter and SDK against its fake (which lives on in this
    process, with the world and its clock), killed at random moments in the part of the run
    that writes, and resumed by a fresh process until it finishes: see :func:`_check_live`
    for what must hold."""
    expected = _reference(forker, adapter, tmp_path / "whole")
    rng = random.Random(f"live-{adapter}-{SEED}")
    kills = rounds = after_send = uncertain = 0
    while kills < LIVE_KILLS:
        rounds += 1
        with LiveRace(adapter, tmp_path / f"round{rounds}") as race:
            for _ in range(100):
                result = race.attempt(forker, delay=rng.uniform(0, LIVE_SLICE * expected.writing))
                if not result.killed:
                    assert result.status == 0, _errors(race.errors)
                    break
                assert result.status == -signal.SIGKILL, _errors(race.errors)
                kills += 1
                after_send += result.sent
            check = _check_live(race, expected)
            uncertain += len(check.uncertain) if check else 0
    print(f"\n{adapter}: survived {kills} SIGKILLs in {rounds} interrupted runs; {after_send} "
          f"landed after the first send of the process they killed (kill moments over the "
          f"first {LIVE_SLICE:.0%} of the {expected.writing:.2f} s a whole run writes)"
          + (f"; {uncertain} sends left uncertain" if adapter == "email" else ""))
    assert kills >= LIVE_KILLS
    assert after_send > 0, "no kill landed after a send: kill moments drift into start-up"


LIVE_POINTS = {"x": ["intended", "accepted", "poll", "commit"],
               "email": ["intended", "accepted", "poll", "commit"],
               "mastodon": ["accepted"], "bluesky": ["accepted"]}


@pytest.mark.slow
@pytest.mark.parametrize(("adapter", "point"),
                         [(a, p) for a, points in LIVE_POINTS.items() for p in points])
def test_live_sigkill_at_chosen_points(tmp_path: Path, forker: Forker, adapter: str,
                                       point: str) -> None:
    """Killed before the platform was called (the send committed as intended), right after it
    accepted a post (first message or follow-up) and before the runner recorded it, right
    after replies were read, or inside a store transaction: again and again, then resumed to
    the end. X, Mastodon and Bluesky settle each interrupted send by looking for it
    (find_post): nothing is posted twice, nothing lost, the export is the uninterrupted
    run's. Email: see :func:`_check_mail`."""
    expected = _reference(forker, adapter, tmp_path / "whole")
    rng = random.Random(f"live-{adapter}-{point}-{SEED}")
    low, high = {"commit": (2, 30), "poll": (1, 2)}.get(point, (1, 3))
    kills = 0
    with LiveRace(adapter, tmp_path / "killed") as race:
        for _ in range(100):
            at = rng.randint(low, high) if kills < LIVE_TARGETED else 0
            result = race.attempt(forker, point, at)
            if result.status == 0:
                break
            assert result.status == -signal.SIGKILL, _errors(race.errors)
            kills += 1
        check = _check_live(race, expected)
    assert kills >= 1, f"never got to {point}"
    note = f"; {len(check.uncertain)} sends left uncertain" if check else ""
    print(f"\n{adapter}: survived {kills} SIGKILLs at {point!r}{note}")


# -- email: a crash between the server's acceptance and the record -----------------------------

@pytest.mark.slow
@pytest.mark.parametrize("brand", ["acme", "initech"])
def test_email_killed_after_the_server_accepted_a_message_never_sends_it_again(
        tmp_path: Path, forker: Forker, brand: str) -> None:
    """Killed right after the SMTP server accepted a message, before the runner recorded it
    (to a brand the persona wrote to before, so a guess by recency would pick the wrong
    probe), then resumed to the end. Email cannot look for what it sent: the send is
    *uncertain* and not sent again. Acme answers: its answer names the message (In-Reply-To),
    is credited to its probe and proves it sent, and the export is the uninterrupted run's.
    Initech never answers: the send stays uncertain, the only row that differs."""
    expected = _reference(forker, "email", tmp_path / "whole")
    with LiveRace("email", tmp_path / "killed") as race:
        scenario = load_scenario_text(race.scenario.read_text(encoding="utf-8"), "race.yaml")
        plan = build_plan(scenario)
        probe = next(p for i, p in enumerate(plan) if p.brand == brand and any(
            q.brand == brand and q.persona == p.persona for q in plan[:i])).probe_id
        killed = race.attempt(forker, f"accepted@{probe}", 1)
        assert killed.status == -signal.SIGKILL, _errors(race.errors)
        assert race.ours()[-1].headers["Message-ID"] in _message_ids(race.folder, [probe])
        assert race.attempt(forker).status == 0, _errors(race.errors)
        check = _check_mail(race, expected)
        answers = [r for r in _replies(race.folder) if r.probe_id == probe]
    if brand == "acme":
        assert check.uncertain == set() and (probe, 0) in check.proved
        assert answers and all(r.matched_by == "in_reply_to" for r in answers)
        assert _export(race.folder) == expected.export
    else:
        assert check.uncertain == {(probe, 0)} and not answers
    print(f"\nemail: killed after the server accepted {probe} ({brand}): not sent again; "
          + ("its answer credited to it, proving it sent" if brand == "acme"
             else "never answered, left uncertain"))
