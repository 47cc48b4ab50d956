"""What every fake platform offers the shared tests (contract, race, faults).

Each live adapter NAME has a module ``tests/fakes/fake_NAME.py`` with a function
``serve(world: World) -> ContextManager[FakePlatform]`` that starts its servers on loopback
and stops them afterwards. The contract test (tests/test_channel_contract.py) and the race
tests use only what this protocol declares.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
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


@dataclass(frozen=True)
class Hit:
    """One request (HTTP) or session (SMTP, IMAP) a fake served."""

    at: datetime
    """World time it arrived."""
    what: str
    """``METHOD /path`` or ``smtp`` / ``imap``."""
    fault: str = ""
    """The fault it met, if any."""
    reset_at: datetime | None = None
    """For a rate limit that said when to come back: that time."""


@dataclass(frozen=True)
class Traffic:
    """Everything that reached a fake platform, oldest first."""

    hits: list[Hit]

    @property
    def requests(self) -> int:
        return len(self.hits)

    @property
    def faults(self) -> Counter[str]:
        """Faults met, by name."""
        return Counter(h.fault for h in self.hits if h.fault)

    @property
    def injected(self) -> int:
        return sum(self.faults.values())

    def resets(self) -> list[Hit]:
        """The rate limits that named a time to come back."""
        return [h for h in self.hits if h.reset_at is not None]

    def too_early(self) -> list[tuple[Hit, Hit]]:
        """(rate limit, request) for every request that came after a rate limit with a reset
        time but before that time."""
        early = []
        for index, limit in enumerate(self.hits):
            if limit.reset_at is None:
                continue
            reset = limit.reset_at
            early += [(limit, later) for later in self.hits[index + 1:] if later.at < reset]
        return early

    def summary(self) -> str:
        kinds = ", ".join(f"{name} {count}" for name, count in sorted(self.faults.items()))
        share = self.injected / self.requests if self.requests else 0.0
        return (f"{self.requests} requests, {self.injected} faults ({share:.0%}): "
                f"{kinds or 'none'}")


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

    def inject(self, rate: float, seed: int, *, timeout_s: float | None = None) -> None:
        """From now on, fail ``rate`` of the requests (for email: of the SMTP and of the IMAP
        sessions), exactly (at 20%, one in every five), with faults drawn at random (seeded)
        from the platform's mix: rate limits with and without a reset time a few minutes after
        the world's now, server errors, dropped connections and malformed answers, before and
        after the request was acted on. None is final (no auth or permission failures). Stalls
        longer than the client's timeout join the mix only when ``timeout_s`` (the adapter's
        timeout, as the test set it through settings) is given."""
        ...

    def outage(self, start: datetime, end: datetime,
               operation: Operation | None = None) -> None:
        """Fail every request (of ``operation``, if given: ``poll`` covers the reads of
        mentions, notifications and messages; ``send`` the posting) that arrives between the
        world times ``start`` and ``end``, as a server that is down."""
        ...

    def traffic(self) -> Traffic:
        """Every request (or mail session) so far, with its world time and fault."""
        ...
