"""Stored text has limits: a reply's text and raw payload are kept up to 64 KB each, with the
cut marked and the original length given, so one message cannot fill the disk."""

from __future__ import annotations

import json
from pathlib import Path

from harness.channels.base import PollResult
from harness.channels.simulated import SimulatedChannel
from harness.runner.matching import MAX_STORED_TEXT, raw_json, stored_text
from harness.scenario.model import Scenario
from harness.store.sqlite import Store

from .simrun import run_in_process

HUGE = 1_500_000


class Verbose(SimulatedChannel):
    """Brands that answer with 1.5 MB of text and a payload to match."""

    def poll(self, cursor: str | None) -> PollResult:
        result = super().poll(cursor)
        return result._replace(replies=[
            reply._replace(text="y" * HUGE, raw={**reply.raw, "blob": "z" * HUGE})
            for reply in result.replies])


def test_a_huge_reply_is_stored_cut_with_its_length(small_scenario: Scenario,
                                                    tmp_path: Path) -> None:
    assert run_in_process(small_scenario, tmp_path, adapter=Verbose)
    store = Store.open(tmp_path / "run.sqlite")
    try:
        replies = store.replies()
        raws = [raw for (raw,) in store.db.execute("SELECT raw FROM replies")]
    finally:
        store.close()
    assert replies, "the brands answered"
    for reply in replies:
        assert reply.text.startswith("y" * MAX_STORED_TEXT)
        assert reply.text.endswith("[cut by shopper: 1,500,000 characters in all]")
        assert len(reply.text) < MAX_STORED_TEXT + 100
    for raw in raws:
        kept = json.loads(raw)
        assert kept["cut_by_shopper"] is True and kept["length"] > HUGE
        assert len(kept["start"]) == MAX_STORED_TEXT
    assert (tmp_path / "run.sqlite").stat().st_size < 200 * len(replies) * 1024


def test_text_up_to_the_limit_is_stored_whole() -> None:
    exact = "x" * MAX_STORED_TEXT
    assert stored_text(exact) == exact
    assert stored_text(exact + "x") == exact + f"\n[cut by shopper: {MAX_STORED_TEXT + 1:,} " \
                                              "characters in all]"
    assert json.loads(raw_json({"id": "1", "n": float("nan")})) == {"id": "1", "n": "nan"}
    assert raw_json({"id": "1"}) == '{"id": "1"}'
