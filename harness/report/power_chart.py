"""The power chart of `shopper power --chart`: power against probes per brand, one line per
matchup, with the 80% line, in the charts' look (palette, fonts, text drawn as written)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from harness.report.charts import Chart, _pyplot, literal
from harness.report.style import FAINT, INK, series_colour


def power_chart(lines: Mapping[str, Sequence[tuple[float, float]]], *, title: str,
                xlabel: str = "probes per brand", target: float = 0.8,
                note: str = "") -> Chart:
    """A drawn chart: for each named line, its ``(probes per brand, power)`` points."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(8, 4.8))
    for index, (name, points) in enumerate(lines.items()):
        ordered = sorted(points)
        if not ordered:
            continue
        axes.plot([x for x, _ in ordered], [y for _, y in ordered], marker="o" if len(
            ordered) < 12 else None, color=series_colour(index), label=literal(name))
    axes.axhline(target, color=INK, linewidth=0.8, linestyle="--")
    axes.text(axes.get_xlim()[0], target, f" {target:.0%} power", va="bottom", color=INK,
              fontsize=9)
    axes.set_ylim(0, 1.02)
    axes.set_xlabel(xlabel)
    axes.set_ylabel("power (true leader named)")
    axes.set_title(literal(title, 90))
    axes.grid(axis="y", color=FAINT)
    if lines:
        axes.legend(frameon=False, fontsize=9, loc="best")
    if note:
        figure.text(0.01, -0.04, literal(note, 140), fontsize=8, color=INK, ha="left",
                    va="bottom")
    alt = "; ".join(f"{name}: " + ", ".join(f"{x:g} probes {y:.0%}" for x, y in sorted(pts))
                    for name, pts in lines.items())
    return Chart("power", title, f"Power against probes per brand. {alt}", figure)


def save_power_chart(drawn: Chart, path: Any, image_format: str) -> None:
    """Write ``drawn`` to ``path`` (a file or staging path) and free it."""
    try:
        drawn.figure.savefig(path, format=image_format)
    finally:
        _pyplot().close(drawn.figure)
