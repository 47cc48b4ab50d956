"""The Trends charts: the share answered per week and the median time to first reply per week,
one line per channel, with the objectives drawn as labelled horizontal lines and the weeks in
which an objective failed shaded (and hatched, for readers who cannot tell the colour).

In the charts' look (palette, fonts, scenario text drawn through ``literal``). A week with no
message on a channel leaves a gap in that channel's line, never a point at 0%.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from harness.analysis.trends import Trends, Week, WeekCell
from harness.durations import compact_duration, format_duration
from harness.report.charts import Chart, _pyplot, literal
from harness.report.style import FAINT, INK, OKABE_ITO, series_colour
from harness.scenario.objectives import Objective

FAILED = OKABE_ITO["vermillion"]
FAILED_NOTE = "shaded, hatched weeks: an objective failed when judged at the week's end"
NO_PROBES_NOTE = "a gap: no probes (messages) on that channel that week"
BUSINESS_HOURS_NOTE = ("Limits counted in business hours are not drawn on this wall-clock "
                       "axis")
STYLES = ("--", ":", "-.")


def week_label(week: Week) -> str:
    """A week as its axis tick shows it: ISO week over its Monday."""
    return f"W{week.start.isocalendar()[1]:02d}\n{week.start:%d %b}"


def response_rate_chart(trends: Trends, objectives: Sequence[Objective],
                        names: Mapping[str, str]) -> Chart:
    """The share answered per week and channel, with its 95% interval; every objective's
    target as a labelled line."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(max(9.0, 0.6 * len(trends.weeks) + 4), 4.8))
    _shade_failures(axes, trends)
    described = []
    offsets = _offsets(len(trends.channels))
    for index, channel in enumerate(trends.channels):
        xs, ys, low, high = [], [], [], []
        for x, week in enumerate(trends.weeks):
            rate = week.cells[index].answered
            xs.append(x + offsets[index])
            if rate.value is None or rate.interval is None:  # NaN: a gap in the line
                ys.append(math.nan)
                low.append(0.0)
                high.append(0.0)
                continue
            ys.append(100 * rate.value)
            low.append(100 * (rate.value - rate.interval[0]))
            high.append(100 * (rate.interval[1] - rate.value))
        name = literal(channel)
        axes.errorbar(xs, ys, yerr=[low, high], color=series_colour(index), marker="o",
                      capsize=3, linewidth=1.5, label=name)
        described.append(f"{name}: " + ", ".join(
            f"{week.iso} {_rate_words(week.cells[index].answered.k, week.cells[index].sent)}"
            for week in trends.weeks))
    for number, (target, promised) in enumerate(_targets(objectives).items()):
        _line(axes, 100 * target, f"target {target:.0%}: {literal(', '.join(promised), 60)}",
              number)
    _empty_weeks(axes, trends)
    axes.set_ylim(-3, 105)
    axes.set_ylabel("answered within the observation window (%)")
    title = "Share of messages answered, week by week, by channel (95% intervals)"
    _finish(axes, trends, title)
    notes = [NO_PROBES_NOTE] + ([FAILED_NOTE] if _any_failed(trends) else [])
    alt = (f"Line chart: {title.lower()}. " + "; ".join(described) + ". "
           + _objective_words(trends, objectives, names) + " Note: " + "; ".join(notes) + ".")
    return Chart("trend_response_rate", title, alt, figure)


def time_to_reply_chart(trends: Trends, objectives: Sequence[Objective],
                        names: Mapping[str, str]) -> Chart:
    """The median time to first reply among replies per week and channel, with each point's
    n; every ``replied_within`` objective's limit as a labelled line."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(max(9.0, 0.6 * len(trends.weeks) + 4), 4.8))
    _shade_failures(axes, trends)
    described = []
    offsets = _offsets(len(trends.channels))
    for index, channel in enumerate(trends.channels):
        cells = [week.cells[index] for week in trends.weeks]
        # NaN (no reply that week) breaks the line; a median under a minute is drawn at one.
        hours = [math.nan if c.median_s is None else max(c.median_s, 60.0) / 3600
                 for c in cells]
        xs = [x + offsets[index] for x in range(len(cells))]
        name = literal(channel)
        axes.plot(xs, hours, color=series_colour(index), marker="o", linewidth=1.5,
                  label=name)
        for x, y, cell in zip(xs, hours, cells, strict=True):
            if cell.median_s is not None:
                axes.annotate(f"n={cell.answered.k}", (x, y), textcoords="offset points",
                              xytext=(0, 6), ha="center", fontsize=7, color=INK)
        described.append(f"{name}: " + ", ".join(
            f"{week.iso} {_median_words(cell)}" for week, cell in zip(trends.weeks, cells,
                                                                      strict=True)))
    timed = [o for o in objectives if o.indicator.kind == "replied_within"
             and o.indicator.within is not None]
    # A limit counted in business hours has no place on a wall-clock axis: not drawn.
    limits = [o for o in timed if o.indicator.counted_in == "wall_clock"]
    drawn = [h for cell_hours in (
        [(c.median_s or 0.0) / 3600 for c in w.cells if c.median_s is not None]
        for w in trends.weeks) for h in cell_hours]
    for number, objective in enumerate(limits):
        within = objective.indicator.within
        assert within is not None
        hours_allowed = within.total_seconds() / 3600
        drawn.append(hours_allowed)
        _line(axes, hours_allowed, f"{literal(objective.name, 50)}: within "
              f"{compact_duration(within)}", number)
    _hour_axis(axes, drawn)
    _empty_weeks(axes, trends)
    axes.set_ylabel("median hours to first reply, among replies")
    title = "Time to first reply, week by week, by channel (median among replies)"
    _finish(axes, trends, title)
    alt = (f"Line chart: {title.lower()}; unanswered messages are not in these medians. "
           + "; ".join(described) + ". " + _objective_words(trends, objectives, names)
           + (f" Note: {FAILED_NOTE}." if _any_failed(trends) else "")
           + (f" {BUSINESS_HOURS_NOTE}." if len(limits) < len(timed) else ""))
    return Chart("trend_time_to_reply", title, alt, figure)


HOUR_TICKS = ((1 / 60, "1m"), (5 / 60, "5m"), (0.25, "15m"), (1.0, "1h"), (4.0, "4h"),
              (24.0, "24h"), (72.0, "3d"), (168.0, "7d"), (720.0, "30d"))


def _hour_axis(axes: Any, hours: Sequence[float]) -> None:
    """A log axis of hours, ticked in words (1m, 15m, 1h, 4h, 24h...) around ``hours``."""
    axes.set_yscale("log")
    low = min((h for h in hours if h > 0), default=0.25)
    high = max(hours, default=24.0)
    ticks = [(value, text) for value, text in HOUR_TICKS
             if low / 4 <= value <= high * 4] or list(HOUR_TICKS)
    axes.set_yticks([v for v, _ in ticks], [t for _, t in ticks])
    axes.minorticks_off()
    axes.set_ylim(min(low / 2, ticks[0][0]), max(high * 2, ticks[-1][0]))


def _line(axes: Any, y: float, words: str, number: int) -> None:
    """A labelled horizontal line: an objective's target or limit."""
    axes.axhline(y, color=INK, linewidth=1, linestyle=STYLES[number % len(STYLES)])
    axes.annotate(words, (0, y), xycoords=("axes fraction", "data"), xytext=(4, 2),
                  textcoords="offset points", va="bottom", fontsize=8, color=INK,
                  bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.7, "pad": 1})


def _offsets(count: int) -> list[float]:
    """Small sideways shifts, so that channels' interval bars in one week do not overlap."""
    return [0.12 * (i - (count - 1) / 2) for i in range(count)]


def _targets(objectives: Sequence[Objective]) -> dict[float, list[str]]:
    """Each target, with the objectives that promise it (one line for equal targets)."""
    targets: dict[float, list[str]] = {}
    for objective in objectives:
        targets.setdefault(objective.target, []).append(objective.name)
    return dict(sorted(targets.items()))


def _any_failed(trends: Trends) -> bool:
    return any(week.failing for week in trends.weeks)


def _shade_failures(axes: Any, trends: Trends) -> None:
    shaded = False
    for x, week in enumerate(trends.weeks):
        if week.failing:
            axes.axvspan(x - 0.5, x + 0.5, facecolor=FAILED, alpha=0.18, hatch="//",
                         edgecolor=FAILED, linewidth=0,
                         label=None if shaded else "an objective failed at the week's end")
            shaded = True


def _empty_weeks(axes: Any, trends: Trends) -> None:
    for x, week in enumerate(trends.weeks):
        if not week.sent:
            axes.text(x, 0.02, "no\nprobes", ha="center", va="bottom", fontsize=8,
                      color=INK, transform=axes.get_xaxis_transform())


def _finish(axes: Any, trends: Trends, title: str) -> None:
    axes.set_xticks(range(len(trends.weeks)), [week_label(w) for w in trends.weeks],
                    fontsize=8)
    axes.set_xlim(-0.6, len(trends.weeks) - 0.4)
    axes.set_xlabel("calendar week, from Monday", loc="left")
    axes.grid(axis="y", color=FAINT)
    axes.set_title(title, loc="left", fontweight="bold", fontsize=11)
    if trends.channels:
        axes.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    # the legend inside the figure: the simulated stamp at its foot then stays clear of the
    # axis label
    axes.figure.subplots_adjust(right=0.76)


def _median_words(cell: WeekCell) -> str:
    if cell.median_s is not None:
        return f"{format_duration(cell.median_s)} (n={cell.answered.k})"
    return "no replies" if cell.sent else "no probes"


def _rate_words(k: int, n: int) -> str:
    return f"{k} of {n} ({k / n:.0%})" if n else "no probes"


def _objective_words(trends: Trends, objectives: Sequence[Objective],
                     names: Mapping[str, str]) -> str:
    if not objectives:
        return ""
    failed = [f"{week.iso}: " + ", ".join(
        f"{literal(v.objective, 40)} ({literal(names.get(v.brand, v.brand))})"
        for v in week.failing) for week in trends.weeks if week.failing]
    return ("Objectives failed at the end of " + "; ".join(failed) + "."
            if failed else "No objective failed at the end of any week.")
