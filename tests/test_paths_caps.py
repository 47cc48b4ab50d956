"""'0 means no cap': ``--max-per-brand-per-day 0`` and ``--max-messages 0`` lift the live
run's caps (defaults: 10 messages per brand per day, 1,000 in all) instead of allowing nothing.

Live runs through ``shopper run --live`` against the fake X on loopback (system clock, the
race dated in the past so every probe is due at once): 12 probes to each of three brands on
one day.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from harness.cli import build_parser, main
from harness.clock import SystemClock
from harness.runner.limits import DEFAULT_PER_BRAND_PER_DAY, DEFAULT_TOTAL, Limits
from harness.store.sqlite import Store
from tests.fakes import fake_x
from tests.fakes.race import new_world, scenario_yaml
from tests.fakes.world import World
from tests.simrun import export_rows

CAPS = "caps (--max-per-brand-per-day, --max-messages): "


@pytest.mark.parametrize(("given", "parsed"), [
    ([], (10, 1000)),
    (["--max-per-brand-per-day", "0"], (None, 1000)),
    (["--max-messages", "0"], (10, None)),
    (["--max-per-brand-per-day", "0", "--max-messages", "0"], (None, None)),
    (["--max-per-brand-per-day", "3", "--max-messages", "7"], (3, 7)),
])
def test_a_cap_of_0_is_read_as_no_cap(given: list[str], parsed: tuple[int | None, ...]
                                      ) -> None:
    args = build_parser().parse_args(["run", "s.yaml", "--live", *given])
    assert (args.max_per_brand_per_day, args.max_messages) == parsed


def test_without_caps_a_brand_may_get_more_than_the_defaults_allow() -> None:
    zones = {"acme": UTC}
    day = datetime(2025, 3, 3, 12, tzinfo=UTC)
    capped = Limits(DEFAULT_PER_BRAND_PER_DAY, DEFAULT_TOTAL, zones)
    free = Limits(None, None, zones)
    for limits in (capped, free):
        for _ in range(10):
            assert limits.refuse("acme", day) is None
            limits.count("acme", day)
    assert capped.refuse("acme", day) == (
        "cap: 10 messages to acme on 2025-03-03 (in the brand's time zone) already")
    assert free.refuse("acme", day) is None  # the 11th on one day
    # 1,000 in all (10 a day for 100 days), then the 1,001st
    for n in range(1, 100):
        for limits in (capped, free):
            for _ in range(10):
                assert limits.refuse("acme", day + timedelta(days=n)) is None
                limits.count("acme", day + timedelta(days=n))
    later = day + timedelta(days=100)
    assert capped.refuse("acme", later) == "cap: the run's limit of 1000 messages is reached"
    assert free.refuse("acme", later) is None


def _live(tmp_path: Path, out: str, capsys: pytest.CaptureFixture[str],
          *caps: str) -> tuple[int, str, str, Counter[str]]:
    """A live run of 12 probes to each of 3 brands on one day, on a fresh fake X: its exit
    status, stdout, stderr and the posts each brand got."""
    world: World = new_world(fake_x.kit(), SystemClock())  # type: ignore[arg-type]
    with fake_x.serve(world) as fake:
        path = tmp_path / f"{out}.yaml"
        # dated in the past: every probe is due at once; replies are awaited for a second
        path.write_text(scenario_yaml(fake.kit, days=1, per_day=12, window="1s",
                                      poll_every="1s"), encoding="utf-8")
        code = main(["run", str(path), "--live", "--yes", "--quiet",
                     "--out", str(tmp_path / out), *caps])
    text = capsys.readouterr()
    return code, text.out, text.err, _posts_per_brand(world)


def _posts_per_brand(world: World) -> Counter[str]:
    handles = {h: b for b, h in fake_x.BRAND_HANDLES.items()}
    names = {"acme": "Acme", "globex": "Globex", "initech": "Initech"}
    counted: Counter[str] = Counter()
    for post in world.visible():
        if post.author.script is None:
            mentioned = [handles[m] for m in handles if f"@{m}".lower() in post.text.lower()]
            named = [b for b, n in names.items() if post.text.startswith(n)]
            (brand,) = mentioned or named
            counted[brand] += 1
    return counted


@pytest.fixture(autouse=True)
def _credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in fake_x.kit().environ.items():
        monkeypatch.setenv(name, value)


@pytest.mark.slow
def test_max_per_brand_per_day_0_sends_all_12_to_each_brand_where_the_default_sends_10(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err, posts = _live(tmp_path, "default", capsys)
    assert code == 0, err
    assert (f"{CAPS}at most 10 messages per brand per day (its time zone), 1000 in all; "
            "6 planned first messages are beyond them and will not be sent\n") in out
    assert posts == Counter(acme=10, globex=10, initech=10)
    assert "finished: 30/36 probes sent" in err

    code, out, err, posts = _live(tmp_path, "uncapped", capsys, "--max-per-brand-per-day", "0")
    assert code == 0, err
    assert f"{CAPS}no cap per brand per day, 1000 in all\n" in out
    assert "beyond them" not in out
    assert posts == Counter(acme=12, globex=12, initech=12)
    assert "finished: 36/36 probes sent" in err

    rows = export_rows(tmp_path / "uncapped")
    assert len(rows) == 36 and all(r["sent_at"] is not None for r in rows)
    assert len({str(r["sent_at"])[:10] for r in rows}) == 1  # all on one day
    capped = [r for r in export_rows(tmp_path / "default") if r["sent_at"] is None]
    assert Counter(str(r["brand"]) for r in capped) == Counter(acme=2, globex=2, initech=2)
    assert all(r["status"] == "failed" for r in capped)
    store = Store.open(tmp_path / "default" / "run.sqlite")
    try:
        errors = Counter(s.error for s in store.sends() if s.state == "not_sent")
    finally:
        store.close()
    assert sorted(errors.values()) == [2, 2, 2]
    assert all(re.fullmatch(r"cap: 10 messages to (acme|globex|initech) on \d{4}-\d\d-\d\d "
                            r"\(in the brand's time zone\) already", e or "") for e in errors)


@pytest.mark.slow
def test_max_messages_0_lifts_the_total_cap_where_a_small_one_holds(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err, posts = _live(tmp_path, "total-25", capsys, "--max-per-brand-per-day", "0",
                                  "--max-messages", "25")
    assert code == 0, err
    assert (f"{CAPS}no cap per brand per day, 25 in all; 11 planned first messages are "
            "beyond them and will not be sent\n") in out
    assert sum(posts.values()) == 25

    code, out, err, posts = _live(tmp_path, "no-caps", capsys, "--max-per-brand-per-day", "0",
                                  "--max-messages", "0")
    assert code == 0, err
    assert f"{CAPS}no cap per brand per day, no cap in all\n" in out
    assert posts == Counter(acme=12, globex=12, initech=12)
    assert all(r["sent_at"] is not None for r in export_rows(tmp_path / "no-caps"))
