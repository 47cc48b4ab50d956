"""Charts drawn from a run's outcomes: each one titled, labelled, with alt text, in PNG and SVG.

``chart(metric, by, ...)`` is the general form (``shopper chart``); the report uses it for its
own charts and adds the timeline heat map.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple, cast

from harness.analysis.dimensions import CHART_GROUPS, KEYS, METRICS, WORDS
from harness.analysis.engagement import (
    DEFAULT_THRESHOLDS,
    LEVELS,
    Thresholds,
    distribution,
    level,
)
from harness.analysis.leaderboard import group
from harness.analysis.outcomes import Outcome
from harness.analysis.survival import reply_curve
from harness.report.style import FAINT, INK, OKABE_ITO, matplotlib_defaults, series_colour
from harness.scenario.model import Scenario
from harness.scenario.types import MENTION_WORDS

MAX_BARS = 40  # a chart of more groups shows the ones with the most (or most answered) probes
MAX_CURVES = 8
GROUPS: dict[str, Callable[[Outcome], str]] = {name: KEYS[name] for name in CHART_GROUPS}
GROUP_WORDS: dict[str, str] = {name: WORDS[name] for name in CHART_GROUPS}
MAX_LABEL = 60
LITERAL_TEXT = {"text.parse_math": False, "text.usetex": False}
"""rcParams that draw every text as written: ``$...$`` in a brand name is not math (bad math
would even stop the drawing with an error)."""


def literal(text: str, limit: int = MAX_LABEL) -> str:
    """``text`` as a chart or the poster draws it: scenario text is untrusted, so characters
    that would not print as themselves (control, bidirectional-override and other formatting
    characters: in an SVG they would make the file invalid or turn the text around) are shown
    as escapes such as ``\\u202e``, and text longer than ``limit`` is cut with an ellipsis
    (a 100,000-character name would make an image too large to draw). ``$`` needs nothing:
    math in text is off for every figure (``text.parse_math``), so ``$x$`` is drawn as
    written."""
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[: limit + 1])
    shown = shown if len(shown) <= limit else shown[: limit - 1] + "…"
    # A right-to-left name is isolated (FSI ... PDI): the text around it keeps its order, as
    # "vs <name> 7/15 (47%)", not "vs (%47) 7/15 <name>".
    return f"\u2068{shown}\u2069" if any(
        unicodedata.bidirectional(c) in ("R", "AL") for c in shown) else shown


def labels_for(scenario: Scenario) -> dict[str, str]:
    """How ids are shown on charts: brand names, mention modes in words, category labels."""
    return {**{b.id: b.name for b in scenario.brands}, **MENTION_WORDS,
            **{c.id: c.label for c in scenario.categories}}


class Chart(NamedTuple):
    """A drawn chart: its file name (without suffix), title, alt text, and figure."""

    name: str
    title: str
    alt: str
    figure: Any


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(cast(Any, {**matplotlib_defaults(), **LITERAL_TEXT}))
    return plt


def chart(metric: str, by: str, outcomes: Sequence[Outcome], window: float,
          labels: Mapping[str, str] | None = None,
          thresholds: Thresholds = DEFAULT_THRESHOLDS) -> Chart:
    """One chart of ``metric`` (response_rate, time_to_reply, level) by a grouping."""
    if metric not in METRICS or by not in GROUPS:
        raise ValueError(f"unknown chart {metric!r} by {by!r}")
    sent = [o for o in outcomes if o.sent_at is not None]
    labels = labels or {}
    if metric == "level":
        return _levels(by, sent, labels, thresholds)
    draw = {"response_rate": _rates, "time_to_reply": _curves}[metric]
    return draw(by, sent, window, labels)


def _label(labels: Mapping[str, str], key: str) -> str:
    return literal(labels.get(key, key))


def _rates(by: str, sent: Sequence[Outcome], window: float,
           labels: Mapping[str, str]) -> Chart:
    plt = _pyplot()
    every = group(sent, GROUPS[by])
    results = sorted(every, key=lambda g: (-(g.rate.value or 0.0), g.key))[:MAX_BARS][::-1]
    figure, axes = plt.subplots(figsize=(8, 0.45 * len(results) + 1.6))
    names = [_label(labels, r.key) for r in results]
    values = [100 * (r.rate.value or 0.0) for r in results]
    low = [100 * ((r.rate.value or 0.0) - (r.rate.interval or (0.0, 0.0))[0]) for r in results]
    high = [100 * ((r.rate.interval or (0.0, 0.0))[1] - (r.rate.value or 0.0))
            for r in results]
    # Bars at positions, labelled after: two groups shown alike stay two bars.
    axes.barh(range(len(names)), values, color=OKABE_ITO["blue"], xerr=[low, high],
              error_kw={"ecolor": INK, "capsize": 3, "linewidth": 1})
    axes.set_yticks(range(len(names)), names)
    for y, result in enumerate(results):
        axes.text(101, y, f"{result.rate.k}/{result.rate.n}", va="center", fontsize=10,
                  color=INK)
    axes.set_xlim(0, 112)
    axes.set_xlabel("messages answered within the observation window (%), with 95% interval")
    title = f"Share of messages answered, by {GROUP_WORDS[by]}" + _of(results, every)
    axes.set_title(title, loc="left", fontweight="bold")
    alt = f"Bar chart: {title.lower()}. " + "; ".join(
        f"{name}: {r.rate.k} of {r.rate.n} ({value:.0f}%)"
        for name, r, value in zip(reversed(names), reversed(results), reversed(values),
                                  strict=True)) + "."
    return Chart(f"response_rate_by_{by}", title, alt, figure)


def _curves(by: str, sent: Sequence[Outcome], window: float,
            labels: Mapping[str, str]) -> Chart:
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(8, 4.8))
    keys = _largest_groups(sent, by, MAX_CURVES)
    described = []
    for index, key in enumerate(keys):
        curve = reply_curve([o for o in sent if GROUPS[by](o) == key], window)
        hours = [0.0, *(t / 3600 for t in curve.times), window / 3600]
        shares = [0.0, *(100 * a for a in curve.answered)]
        shares.append(shares[-1])
        name = _label(labels, key)
        axes.step(hours, shares, where="post", color=series_colour(index), linewidth=2,
                  label=f"{name} (n={curve.n})")
        described.append(f"{name}: {100 * curve.answered_within(3600):.0f}% within 1 hour, "
                         f"{100 * curve.answered_within(window):.0f}% within the window")
    for mark, text in ((1, "1 h"), (2, "2 h")):
        axes.axvline(mark, color=OKABE_ITO["grey"], linestyle="--", linewidth=1)
        axes.text(mark, 1, f" {text}: what customers expect", rotation=90, fontsize=8,
                  color=INK, va="bottom")
    axes.set_xscale("symlog", linthresh=1)
    axes.set_xlim(0, window / 3600)
    ticks = [t for t in (0, 1, 2, 6, 24, 72, 168, 336, 720) if t <= window / 3600]
    axes.set_xticks(ticks, [str(t) for t in ticks])
    axes.set_ylim(0, 100)
    axes.set_xlabel("hours after the message was sent")
    axes.set_ylabel("answered so far (%)")
    axes.grid(axis="y", color=FAINT)
    if keys:  # no message sent: no curve to name
        axes.legend(frameon=False, fontsize=9)
    every = {GROUPS[by](o) for o in sent}
    title = f"How fast messages were answered, by {GROUP_WORDS[by]}" + _of(keys, every)
    axes.set_title(title, loc="left", fontweight="bold")
    alt = (f"Line chart: {title.lower()}, unanswered messages counted as not answered by the "
           "end of the window. " + "; ".join(described) + ".")
    return Chart(f"time_to_reply_by_{by}", title, alt, figure)


def _levels(by: str, sent: Sequence[Outcome], labels: Mapping[str, str],
            thresholds: Thresholds) -> Chart:
    plt = _pyplot()
    keys = _largest_groups(sent, by, MAX_BARS)
    figure, axes = plt.subplots(figsize=(8, 0.45 * len(keys) + 2))
    counts = {key: distribution([o for o in sent if GROUPS[by](o) == key], thresholds)
              for key in keys}
    names = [_label(labels, key) for key in keys]
    left = [0] * len(keys)
    palette = [OKABE_ITO[c] for c in ("grey", "vermillion", "orange", "green", "blue",
                                      "purple")]
    for value in range(6):
        widths = [counts[key][value] for key in keys]
        axes.barh(range(len(names)), widths, left=left, color=palette[value],
                  label=f"{value}: {LEVELS[value]}")
        left = [a + b for a, b in zip(left, widths, strict=True)]
    axes.set_yticks(range(len(names)), names)
    axes.set_xlabel("messages")
    axes.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1, 1))
    title = (f"Engagement level reached, by {GROUP_WORDS[by]}"
             + _of(keys, {GROUPS[by](o) for o in sent}))
    axes.set_title(title, loc="left", fontweight="bold")
    alt = f"Stacked bar chart: {title.lower()}. " + "; ".join(
        f"{name}: " + ", ".join(f"level {v} {counts[key][v]}" for v in range(6)
                                if counts[key][v])
        for name, key in zip(names, keys, strict=True)) + "."
    return Chart(f"level_by_{by}", title, alt, figure)


def timeline(outcomes: Sequence[Outcome], labels: Mapping[str, str],
             thresholds: Thresholds = DEFAULT_THRESHOLDS) -> Chart:
    """A brand x sending-day heat map: grey unanswered, colour by engagement level."""
    plt = _pyplot()
    from matplotlib.colors import ListedColormap

    sent = [o for o in outcomes if o.sent_at is not None]
    every = {o.probe.brand for o in sent}
    brands = sorted(_largest_groups(sent, "brand", MAX_BARS, answered=True),
                    key=lambda b: _label(labels, b))
    days = sorted({o.probe.day for o in sent})
    rows = {brand: index for index, brand in enumerate(brands)}
    columns = {day: index for index, day in enumerate(days)}
    grid = [[-1.0] * len(days) for _ in brands]
    for outcome in sent:
        row = rows.get(outcome.probe.brand)
        if row is not None:
            column = columns[outcome.probe.day]
            grid[row][column] = max(grid[row][column], float(level(outcome, thresholds)))
    palette = ListedColormap(["#FFFFFF"] + [OKABE_ITO[c] for c in (
        "grey", "vermillion", "orange", "green", "blue", "purple")])
    if not sent:  # a heat map of nothing cannot be drawn: say so in its place
        title = "Every message, day by day: no message has been sent"
        figure, axes = plt.subplots(figsize=(6, 1.6))
        axes.set_axis_off()
        axes.set_title(title, loc="left", fontweight="bold", fontsize=11)
        axes.text(0, 0.5, "Nothing to show until the first message is sent.", color=INK,
                  transform=axes.transAxes)
        return Chart("timeline", title, "Heat map: no message has been sent.", figure)
    figure, axes = plt.subplots(figsize=(max(6, 0.35 * len(days) + 3), 0.35 * len(brands) + 2))
    axes.imshow([[v + 1 for v in row] for row in grid], cmap=palette, vmin=0, vmax=6,
                aspect="auto")
    axes.set_yticks(range(len(brands)), [_label(labels, b) for b in brands])
    axes.set_xticks(range(len(days)), [str(d) for d in days], fontsize=8)
    axes.set_xlabel("sending day")
    from matplotlib.patches import Patch

    colours = ["grey", "vermillion", "orange", "green", "blue", "purple"]
    axes.legend(handles=[Patch(color=OKABE_ITO[c], label=f"{v}: {LEVELS[v]}")
                         for v, c in enumerate(colours)],
                frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1, 1))
    title = ("Every message, day by day: grey unanswered, colour = engagement level"
             + _of(brands, every))
    axes.set_title(title, loc="left", fontweight="bold", fontsize=11)
    answered = sum(o.responded for o in sent)
    alt = (f"Heat map of {len(sent)} messages to {len(brands)} brands over {len(days)} "
           f"sending days; {answered} were answered.")
    return Chart("timeline", title, alt, figure)


def _largest_groups(sent: Sequence[Outcome], by: str, limit: int, *,
                    answered: bool = False) -> list[str]:
    """The ``limit`` groups with the most probes (or, if ``answered``, the most answered),
    in name order."""
    counts: dict[str, int] = {}
    for outcome in sent:
        key = GROUPS[by](outcome)
        counts[key] = counts.get(key, 0) + (outcome.responded if answered else 1)
    chosen = sorted(counts, key=lambda k: (-counts[k], k))[:limit]
    return sorted(chosen)


def _of(shown: Sequence[object], every: Sequence[object] | set[str]) -> str:
    """A title's note when a chart shows only some of the groups."""
    return f" ({len(shown)} of {len(every)} shown)" if len(shown) < len(every) else ""


SIMULATED_STAMP = "SIMULATED (seed {seed}): brand behaviour models, not the real brands"


def stamp_simulated(drawn: Chart, seed: int) -> Chart:
    """Mark a chart of a simulated run as such, on the picture itself (a PNG or SVG taken
    away from the page keeps it) and in its title and alt text."""
    words = SIMULATED_STAMP.format(seed=seed)
    drawn.figure.text(0.995, 0.005, words, ha="right", va="bottom", fontsize=8,
                      fontweight="bold", color="white",
                      bbox={"facecolor": INK, "edgecolor": "none", "pad": 2})
    return drawn._replace(title=f"{drawn.title} [simulated]", alt=f"{words}. {drawn.alt}")


def footnote(drawn: Chart, words: str) -> Chart:
    """A note drawn at the chart's foot (bottom left) and added to its alt text: what a reader
    of the picture alone must know."""
    drawn.figure.text(0.005, 0.005, words, ha="left", va="bottom", fontsize=8, color=INK)
    return drawn._replace(alt=f"{drawn.alt} Note: {words}")


REPLAY_MENTION_NOTE = ("In this replay the mention mode followed the calendar week: a "
                       "difference between weeks is mixed into it.")


def save(drawn: Chart, folder: Path) -> list[Path]:
    """Write the chart as PNG and SVG into ``folder``; return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for suffix in ("png", "svg"):
        path = folder / f"{drawn.name}.{suffix}"
        drawn.figure.savefig(path, format=suffix, metadata=_metadata(suffix, drawn.title))
        paths.append(path)
    return paths


def _metadata(suffix: str, title: str) -> dict[str, Any]:
    # Fixed metadata keeps rebuilt files identical (no dates, no software versions).
    if suffix == "svg":
        return {"Title": title, "Date": None, "Creator": None}
    return {"Title": title, "Software": None}


def close(drawn: Chart) -> None:
    """Free the figure's memory."""
    _pyplot().close(drawn.figure)


__all__ = ["GROUPS", "METRICS", "Chart", "chart", "close", "footnote", "literal", "save",
           "stamp_simulated", "timeline"]
