"""Engagement levels (the six levels of social CRM) and response tiers.

Levels 0-3 follow from timestamps; 4 and 5 from the brand moving the customer to a direct
message or an email after its reply; 6 (in-person service) is only ever set by a person coding
the results, never here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from harness.analysis.leaderboard import GroupResult
from harness.analysis.outcomes import Outcome
from harness.scenario.model import ReportSettings

LEVELS = {
    0: "no response",
    1: "reply days later",
    2: "reply hours later",
    3: "reply within the hour",
    4: "reply, then a private message",
    5: "reply, then an email",
    6: "in-person service (coded by a person)",
}


@dataclass(frozen=True)
class Thresholds:
    """Where levels 1-3 begin: slower than ``slow_s`` is 1, slower than ``quick_s`` is 2."""

    quick_s: float = 3600
    slow_s: float = 86400


DEFAULT_THRESHOLDS = Thresholds()


def level(outcome: Outcome, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> int:
    """The engagement level (0-5) of one probe."""
    return outcome.level(thresholds.quick_s, thresholds.slow_s)


def distribution(outcomes: Iterable[Outcome],
                 thresholds: Thresholds = DEFAULT_THRESHOLDS) -> dict[int, int]:
    """How many sent probes reached each level 0-5 (every level present, zeros included)."""
    counts = Counter(level(o, thresholds) for o in outcomes if o.sent_at is not None)
    return {value: counts.get(value, 0) for value in range(6)}


TOO_FEW_TIER = "too few replies to tell"


def tier(result: GroupResult, fast_s: float = 3600, min_replies: int = 1) -> str:
    """'fast responders' (median time among replies within ``fast_s``), 'slow responders',
    'no response', or, with fewer than ``min_replies`` replies, 'too few replies to tell' (a
    median of one or two replies says little)."""
    if result.rate.k == 0 or result.median_latency_s is None:
        return "no response"
    if result.rate.k < min_replies:
        return TOO_FEW_TIER
    return "fast responders" if result.median_latency_s <= fast_s else "slow responders"


def thresholds_of(settings: ReportSettings) -> Thresholds:
    """The level thresholds a scenario's ``report:`` section sets."""
    return Thresholds(settings.quick_reply.total_seconds(), settings.slow_reply.total_seconds())
