"""What every fake platform offers the shared tests (contract, race, faults).

Each live adapter NAME has a module ``tests/fakes/fake_NAME.py`` with a function
``serve(world: World) -> ContextManager[FakePlatform]`` that starts its servers on loopback
and stops them afterwards. The contract test (tests/test_channel_contract.py) and the race
tests use only what this protocol declares.
"""

from __future__ import annotations

from typing import Literal, Protocol

from tests.fakes.race import Kit
from tests.fakes.world import World

Operation = Literal["send", "poll"]
Failure = Literal["auth", "denied", "rate_limited", "rate_limited_no_reset", "server_error",
                  "dropped"]
FAILURES: tuple[Failure, ...] = ("auth", "denied", "rate_limited", "rate_limited_no_reset",
                                 "server_error", "dropped")
RESET_AFTER_S = 900
"""A fake's rate-limit answers say to come back this many seconds after the world's now."""


class FakePlatform(Protocol):
    world: World
    kit: Kit
    """The adapter's settings and environment pointing at this fake."""

    def fail(self, operation: Operation, failure: Failure, count: int = 1) -> None:
        """Make the next ``count`` requests of ``operation`` fail so: ``auth`` (HTTP 401 /
        SMTP 535), ``denied`` (403 / 550), ``rate_limited`` (429 with a reset time
        ``RESET_AFTER_S`` after the world's now / SMTP 421 4.7.0), ``rate_limited_no_reset``
        (429 without one), ``server_error`` (503 / SMTP 451), ``dropped`` (connection closed
        without an answer)."""
        ...

    def read_times(self) -> list[str]:
        """For each request that read mentions or notifications (not DMs), the world time it
        came at, ISO 8601, oldest first: lets tests count reads per poll."""
        ...

    def post_as(self, persona: str, text: str) -> str:
        """Post ``text`` "by hand" as ``persona`` (assisted-mode tests); returns its id."""
        ...
