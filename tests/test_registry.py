"""The channel registry and the protocol's declarations (names, platforms, secrets)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import pytest

from harness.channels.base import (
    ChannelAdapter,
    ChannelContext,
    OutgoingMessage,
    PollResult,
    SentPost,
)
from harness.channels.registry import AdapterError, adapter_names, check_adapter, get_adapter
from harness.channels.simulated import SimulatedChannel
from harness.clock import VirtualClock
from harness.scenario.model import Channel


def test_builtin_simulated_adapter_is_registered_and_valid() -> None:
    assert "simulated" in adapter_names()
    assert get_adapter("simulated") is SimulatedChannel


def test_an_unknown_adapter_names_the_ones_there_are() -> None:
    with pytest.raises(AdapterError, match=r"unknown adapter 'nope' \(available: .*simulated"):
        get_adapter("nope")


class Incomplete(ChannelAdapter):
    name = "incomplete"
    platform = "x"


class WrongPlatform(SimulatedChannel):
    name = "wrong"
    platform = "myspace"


@pytest.mark.parametrize(("adapter", "name", "message"), [
    (object, "x", "is not a ChannelAdapter subclass"),
    (SimulatedChannel, "other-name", "SimulatedChannel.name is 'simulated'"),
    (WrongPlatform, "wrong", "WrongPlatform.platform must be one of"),
    (Incomplete, "incomplete", "Incomplete does not implement poll, send"),
])
def test_a_broken_adapter_is_refused_naming_the_class(adapter: object, name: str,
                                                      message: str) -> None:
    with pytest.raises(AdapterError, match=message):
        check_adapter(adapter, name)


class WithSecrets(ChannelAdapter):
    name = "with-secrets"
    platform = "mastodon"
    secret_settings: ClassVar[frozenset[str]] = frozenset({"access_token"})

    def send(self, message: OutgoingMessage) -> SentPost:
        raise NotImplementedError

    def poll(self, cursor: str | None) -> PollResult:
        raise NotImplementedError


def test_describe_masks_declared_secrets() -> None:
    config = Channel(id="m", adapter="with-secrets",
                     settings={"access_token": {"env": "M_TOKEN"}, "base_url": "https://m.x"})
    context = ChannelContext(clock=VirtualClock(datetime(2024, 1, 1, tzinfo=UTC)),
                             state_dir=Path("."), seed=0, personas=[], brands=[],
                             timezone="UTC", environ={"M_TOKEN": "s3cret-value"})
    adapter = WithSecrets(config, context)
    assert adapter.describe() == {"access_token": "$M_TOKEN (set)", "base_url": "https://m.x"}
    assert "s3cret-value" not in repr(adapter.describe())
    assert not adapter.can_find_posts
