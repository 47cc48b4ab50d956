"""What results can be grouped by and measured: one list for the summary, the charts and the
CLI's choices alike.

Light on purpose (nothing is imported at run time), so the CLI can offer the choices without
loading the analysis.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from harness.analysis.outcomes import Outcome

Dimension = Literal["brand", "industry", "category", "mention", "persona", "channel", "week"]

KEYS: dict[Dimension, Callable[[Outcome], str]] = {
    "brand": lambda o: o.probe.brand,
    "industry": lambda o: o.probe.industry,
    "category": lambda o: o.probe.category,
    "mention": lambda o: o.probe.mention,
    "persona": lambda o: o.probe.persona,
    "channel": lambda o: o.probe.channel,
    "week": lambda o: str(o.probe.week),
}
"""Each dimension's value for one probe's outcome."""

WORDS: dict[Dimension, str] = {
    "brand": "brand", "industry": "industry", "category": "question category",
    "mention": "how the brand was named", "persona": "shopper", "channel": "channel",
    "week": "week",
}
"""Each dimension as a title says it ("... by question category")."""

SUMMARY_GROUPS: tuple[Dimension, ...] = ("industry", "category", "mention", "persona",
                                         "channel", "week")
"""The groups of ``summary.json`` (brands have the leaderboard), in its order."""

CHART_GROUPS: tuple[Dimension, ...] = ("brand", "industry", "category", "mention", "persona",
                                       "channel")
"""What `shopper chart --by` offers."""

Metric = Literal["response_rate", "time_to_reply", "level"]
METRICS: tuple[Metric, ...] = ("response_rate", "time_to_reply", "level")
"""What `shopper chart --metric` offers."""
