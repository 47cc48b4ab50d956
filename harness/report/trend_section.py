"""The report's Trends section: a run's weeks (``analysis.trends``) drawn as two charts (saved
as PNG and SVG beside the others, stamped when simulated), written as ``trends.json``, and
laid out as a table for the page, in which every rate is k/n with its interval and a week
without messages says so."""

from __future__ import annotations

import base64
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from markupsafe import Markup

from harness.analysis.objectives import Evidence, Verdict
from harness.analysis.outcomes import Outcome, email_channels
from harness.analysis.rates import Rate
from harness.analysis.trends import Week, WeekCell, trends
from harness.durations import format_duration
from harness.report import charts as charting
from harness.report.files import json_text
from harness.report.trend_chart import (
    FAILED_NOTE,
    NO_PROBES_NOTE,
    response_rate_chart,
    time_to_reply_chart,
)
from harness.scenario.model import Scenario
from harness.store.records import ReplyRecord
from harness.store.sqlite import Store


@dataclass(frozen=True)
class Failure:
    """A failing verdict in a week, as the table shows it."""

    objective: str
    brand: str
    evidence: str


@dataclass(frozen=True)
class TrendRow:
    """One week of the table."""

    week: str
    cells: tuple[tuple[str, str], ...]
    """Per channel: the share answered (k/n = p% (low%-high%), or "no probes") and the
    median time among replies with its n."""
    failures: tuple[Failure, ...]
    others: str
    """The verdicts that did not fail, counted (``3 pass, 1 insufficient``)."""


@dataclass(frozen=True)
class TrendSection:
    """What the page shows of a run's trends, and the files written for it."""

    timezone: str
    channels: tuple[str, ...]
    rows: tuple[TrendRow, ...]
    objectives: bool
    charts: dict[str, Markup]
    files: list[Path]
    failed_note: str


def trend_section(store: Store, scenario: Scenario, outcomes: list[Outcome],
                  replies: list[ReplyRecord], out: Path,
                  simulated_seed: int | None) -> TrendSection | None:
    """Compute, draw and write the Trends of the run in ``store`` into ``out`` (stamped as
    simulated, with the seed, when ``simulated_seed`` is given); None when the run is too
    short to have them (:attr:`Trends.shown`)."""
    evidence: Evidence | None = None
    end: datetime | None = None
    if scenario.objectives:
        meta = store.meta()
        evidence = Evidence(store.probes(), store.sends(), replies,
                            timedelta(seconds=int(meta["observation_window_s"])),
                            email_channels(meta))
        end = evidence.last_moment()
    weeks = trends(scenario, outcomes, evidence, end)
    if not weeks.shown:
        return None
    names = {b.id: b.name for b in scenario.brands}
    failed = any(week.failing for week in weeks.weeks)
    files: list[Path] = []
    embedded: dict[str, Markup] = {}
    for key, drawn in (("rate", response_rate_chart(weeks, scenario.objectives, names)),
                       ("time", time_to_reply_chart(weeks, scenario.objectives, names))):
        if simulated_seed is not None:
            drawn = charting.stamp_simulated(drawn, simulated_seed)
        paths = charting.save(drawn, out / "charts")
        files.extend(paths)
        svg = next(p for p in paths if p.suffix == ".svg")
        data = base64.b64encode(svg.read_bytes()).decode("ascii")
        notes = [NO_PROBES_NOTE] + ([FAILED_NOTE] if failed else [])
        embedded[key] = Markup('<figure><img src="data:image/svg+xml;base64,{}" alt="{}">'
                               "<figcaption>{}. {}.</figcaption></figure>").format(
                                   data, drawn.alt, drawn.title, "; ".join(notes).capitalize())
        charting.close(drawn)
    record = {"simulated": simulated_seed is not None, "seed": simulated_seed,
              **weeks.to_json()}
    (out / "trends.json").write_text(json_text(record), encoding="utf-8")
    return TrendSection(weeks.timezone, weeks.channels,
                        tuple(_row(week, names) for week in weeks.weeks),
                        weeks.objectives, embedded, files,
                        FAILED_NOTE if failed else "")


def rate_text(rate: Rate) -> str:
    """k/n = p% (low%-high%), or "no probes" when nothing was sent."""
    if rate.value is None or rate.interval is None:
        return "no probes"
    low, high = rate.interval
    return f"{rate.k}/{rate.n} = {rate.value:.0%} ({low:.0%}-{high:.0%})"


def median_text(cell: WeekCell) -> str:
    """The median among replies with its n, "no replies", or "no probes"."""
    if not cell.sent:
        return "no probes"
    if cell.median_s is None:
        return "no replies"
    return f"{format_duration(cell.median_s)} (n={cell.answered.k})"


def _row(week: Week, names: dict[str, str]) -> TrendRow:
    counted = Counter(v.status for v in week.verdicts if v.status != "fail")
    others = ", ".join(f"{counted[s]} {s}" for s in ("pass", "insufficient") if counted[s])
    return TrendRow(
        week=f"{week.iso} (from Mon {week.start:%d %b %Y})",
        cells=tuple((rate_text(cell.answered), median_text(cell)) for cell in week.cells),
        failures=tuple(Failure(v.objective, names.get(v.brand, v.brand), _evidence(v))
                       for v in week.failing),
        others=others)


def _evidence(verdict: Verdict) -> str:
    share = f" = {verdict.share:.0%}" if verdict.share is not None else ""
    interval = (f" (95% CI {verdict.interval[0]:.0%}-{verdict.interval[1]:.0%})"
                if verdict.interval else "")
    return f"{verdict.good}/{verdict.decided}{share}{interval}, target {verdict.target:.0%}"
