"""The look shared by every chart and the poster: a colour-blind-safe palette (Okabe-Ito)."""

from __future__ import annotations

OKABE_ITO = {
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "black": "#000000",
    "grey": "#999999",
}
SERIES = ["blue", "orange", "green", "vermillion", "purple", "sky", "yellow"]
INK = "#222222"
FAINT = "#DDDDDD"


def series_colour(index: int) -> str:
    """The ``index``-th series colour."""
    return OKABE_ITO[SERIES[index % len(SERIES)]]


def matplotlib_defaults() -> dict[str, object]:
    """rcParams for every figure: plain, readable, text kept as text in SVG, and fonts for
    the scripts names are written in (see :mod:`harness.report.fonts`)."""
    from harness.report.fonts import font_families

    return {
        "font.family": list(font_families()),
        "font.size": 11,
        "axes.edgecolor": INK,
        "axes.labelcolor": INK,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "xtick.color": INK,
        "ytick.color": INK,
        "svg.fonttype": "none",
        "svg.hashsalt": "shopper",  # stable ids: a rebuilt SVG is the same file
        "figure.dpi": 100,
        "savefig.bbox": "tight",
    }
