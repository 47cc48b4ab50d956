"""The infographic: one tall PNG a journalist can publish as it is.

Title, the headline number with its denominator, the leaderboard, the head-to-head matchups
and the @ finding, drawn with matplotlib at 1080 pixels wide.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any, cast

from harness.analysis.figures import RateFigure, Summary
from harness.analysis.verdicts import TOO_CLOSE
from harness.report.charts import LITERAL_TEXT, literal
from harness.report.style import FAINT, INK, OKABE_ITO, matplotlib_defaults

WIDTH_PX = 1080
POSTER_ROWS = 20
DPI = 100
TITLE_LINES = 3  # a longer title is cut: the poster stays a poster
NAME_LENGTH = 40  # brand names on the poster (see charts.literal)


def _rate_text(figure: RateFigure) -> str:
    if not figure.n or figure.rate is None:
        return f"{figure.k}/{figure.n}"
    return f"{figure.k}/{figure.n} ({figure.rate:.0%})"


def _step(size: float, gap: float = 0.0) -> float:
    """Inches a line of text of ``size`` points takes, plus ``gap``."""
    return size / 72 * 1.5 + gap


def _fit_labels(figure: Any, axes: Any) -> None:
    """Move the bars right until the widest brand name fits on the poster (names in wide
    scripts, CJK, take twice the room of Latin ones); smaller type if even that is not
    enough. No label is cut at the left edge."""
    renderer = figure.canvas.get_renderer()
    left, bottom, width, height = axes.get_position().bounds
    right = left + width
    for size in (11, 10, 9, 8, 7):
        axes.tick_params(axis="y", labelsize=size)
        widest = max((label.get_window_extent(renderer).width
                      for label in axes.get_yticklabels()), default=0.0) / figure.bbox.width
        needed = 0.03 + widest + 0.015  # the margin, the widest name, the gap to the axis
        if needed <= 0.55:
            left = max(left, needed)
            break
    else:
        left = 0.55
    axes.set_position((left, bottom, right - left, height))


def draw_poster(summary: Summary, path: Path) -> None:
    """Draw the poster for a run's summary into ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(cast(Any, {**matplotlib_defaults(), **LITERAL_TEXT}))
    board = summary.leaderboard[:POSTER_ROWS]
    ranked = len(summary.leaderboard)
    matchups = summary.matchups[:POSTER_ROWS]
    head = summary.headline
    effect = summary.mention_effect.get("at_vs_name")
    heading = summary.scenario.title or summary.scenario.name
    title = textwrap.wrap(literal(heading, 50 * TITLE_LINES), 50)[:TITLE_LINES]
    bar_height = 0.42 * len(board)
    replay = summary.scenario.design == "replay"
    stamp = _step(12, 0.2) if summary.simulated else 0.0
    height = (0.45 + stamp + len(title) * _step(24) + 0.1 + _step(20) + _step(13, 0.25)
              + _step(15, 0.05) + bar_height + 0.55 + _step(15) + len(matchups) * _step(12)
              + (0.15 + _step(15) + _step(12) + (_step(12) if replay else 0.0)
                 if effect else 0.0) + _step(9, 0.1) + _step(9) + 0.3)
    figure = plt.figure(figsize=(WIDTH_PX / DPI, height), dpi=DPI)
    figure.patch.set_facecolor("white")
    y = 1.0 - 0.45 / height

    def line(text: str, size: float, weight: str = "normal", colour: str = INK,
             gap: float = 0.0) -> None:
        nonlocal y
        figure.text(0.05, y, text, fontsize=size, fontweight=weight, color=colour, va="top")
        y -= _step(size, gap) / height

    if summary.simulated:
        line(f"SIMULATED (seed {summary.scenario.seed}): brand behaviour models on a virtual "
             "clock, not the real brands", 12, "bold", OKABE_ITO["vermillion"], gap=0.2)
    for number, text in enumerate(title):
        line(text, 24, "bold", gap=0.1 if number == len(title) - 1 else 0.0)
    line(f"{_rate_text(head.answered)} messages answered by the brand", 20, "bold",
         OKABE_ITO["blue"])
    quick = head.answered_within_k["1h"]
    line(f"{head.brands} brands, {head.personas} shoppers, {head.weeks} weeks; "
         f"{quick}/{head.sent} messages answered within an hour", 13, gap=0.25)

    shown = f" (top {len(board)} of {ranked})" if len(board) < ranked else ""
    line(f"Leaderboard: share of messages answered (95% interval){shown}", 15, "bold",
         gap=0.05)
    axes = figure.add_axes((0.3, y - bar_height / height, 0.55, bar_height / height))
    names = [literal(row.name, NAME_LENGTH) for row in reversed(board)]
    shares = [row.answered.rate or 0.0 for row in reversed(board)]
    bounds = [row.answered.ci95 or (0.0, 0.0) for row in reversed(board)]  # n > 0: never None
    rates = [100 * share for share in shares]
    lows = [100 * (share - low) for share, (low, _) in zip(shares, bounds, strict=True)]
    highs = [100 * (high - share) for share, (_, high) in zip(shares, bounds, strict=True)]
    axes.barh(range(len(names)), rates, xerr=[lows, highs], color=OKABE_ITO["blue"],
              error_kw={"ecolor": INK, "capsize": 2, "linewidth": 0.8})
    axes.set_yticks(range(len(names)), names)
    for index, row in enumerate(reversed(board)):
        axes.text(101, index, f"{row.answered.k}/{row.answered.n}", va="center", fontsize=10)
    axes.set_xlim(0, 112)
    axes.tick_params(labelsize=11)
    axes.grid(axis="x", color=FAINT)
    _fit_labels(figure, axes)
    y -= (bar_height + 0.55) / height

    line("Head to head", 15, "bold")
    for match in matchups:
        pairs = sorted(zip(match.names, match.contenders, strict=True),
                       key=lambda pair: -(pair[1].answered.rate or 0.0))
        parts = [f"{literal(name, NAME_LENGTH)} {_rate_text(c.answered)}"
                 for name, c in pairs[:3]]
        if len(pairs) > 3:
            parts.append(f"{len(pairs) - 3} more")
        winner = match.rate_verdict
        winner = next((n for b, n in zip(match.brands, match.names, strict=True)
                       if b == winner), winner)
        verdict = (winner if match.rate_verdict == TOO_CLOSE
                   else f"more replies: {literal(winner, NAME_LENGTH)} "
                        f"(adjusted p = {match.rate_p_adjusted or 0.0:.2g})")
        line(f"{' vs '.join(parts)}: {verdict}", 12)

    if effect:
        y -= 0.15 / height
        clear = effect.fisher.p_value < summary.rules.alpha
        subject = ("The @handle weeks got more replies" if replay else
                   "Naming the brand by its @handle mattered")
        line(subject if clear else "Naming the brand by its @handle made no clear difference",
             15, "bold")
        line(f"With @: {_rate_text(effect.fisher.first)}.  By name only: "
             f"{_rate_text(effect.fisher.second)}.  Fisher's exact test "
             f"p = {effect.fisher.p_value:.2g}.", 12)
        if replay:
            line("The mention mode followed the calendar week: a difference between weeks is "
                 "mixed into it.", 12, colour=OKABE_ITO["grey"])
    y -= 0.1 / height
    line("Rates count replies from the brand's own accounts within the observation window; "
         "intervals are 95% Wilson intervals.", 9, colour=OKABE_ITO["grey"])
    line(f"Verdicts: {summary.rules.rate_test} at the {summary.rules.alpha:g} level, Holm's "
         "correction over all matchups; \"too close to call\": the data cannot tell them apart.",
         9, colour=OKABE_ITO["grey"])
    with plt.rc_context({"savefig.bbox": "standard"}):  # exactly WIDTH_PX wide
        figure.savefig(path, format="png", dpi=DPI, metadata=_metadata(summary, heading))
    plt.close(figure)


def _metadata(summary: Summary, heading: str) -> dict[str, str | None]:
    """The PNG's text chunks: its title, and for a simulated run a description saying so
    (a picture taken away from the page keeps both)."""
    metadata: dict[str, str | None] = {"Software": None, "Title": heading}
    if summary.simulated:
        metadata["Description"] = (f"SIMULATED (seed {summary.scenario.seed}): brand behaviour "
                                   "models on a virtual clock, not the real brands")
    return metadata
