"""Build a run's report: charts, report.html, infographic.png, probes.csv and summary.json.

Everything here is a pure function of the run's store. Replies from brands are untrusted: the
page is rendered with autoescaping on, so any HTML or template syntax in them is shown as
text, and charts are embedded as images with alt text, so the page needs no network.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from harness.analysis.engagement import Thresholds, thresholds_of
from harness.analysis.figures import RateFigure, Summary
from harness.analysis.outcomes import EXPORT_FIELDS, Outcome, from_store, is_simulated
from harness.analysis.power import low_power_warnings
from harness.analysis.replay import figures, published_figures, with_differences
from harness.analysis.summary import summarize
from harness.durations import format_duration
from harness.report import charts as charting
from harness.report.alerts import AlertLog, alert_log
from harness.report.figure_words import label, shown
from harness.report.files import json_text, write_csv
from harness.report.fonts import advice, missing_glyphs
from harness.report.poster import draw_poster
from harness.report.trend_section import TrendSection, trend_section
from harness.scenario.model import Scenario
from harness.scenario.types import MENTION_WORDS
from harness.store.records import ReplyRecord
from harness.store.sqlite import Store


@dataclass(frozen=True)
class ReportFiles:
    """Where a report was written."""

    folder: Path
    html: Path
    poster: Path
    summary: Path
    probes: Path
    charts: list[Path]
    warnings: list[str]
    """What the reader of the pictures should know (a script no installed font draws)."""
    power_notes: list[str]
    """Matchups the design is too small to judge (under the brands' profiles), also on the
    page."""


def build_report(store: Store, out: Path) -> ReportFiles:
    """Write the whole report for ``store`` into ``out``."""
    meta = store.meta()
    scenario = Scenario.model_validate_json(meta["scenario_json"])
    replies = store.replies()
    outcomes = from_store(store, replies)
    simulated = is_simulated(meta)
    summary = summarize(outcomes, scenario, store.channel_health().values(),
                        simulated=simulated)
    out.mkdir(parents=True, exist_ok=True)
    window = scenario.schedule.observation_window.total_seconds()
    names = {b.id: b.name for b in scenario.brands}
    labels = charting.labels_for(scenario)
    levels = thresholds_of(scenario.report)
    # A design too small to tell its brands apart says so wherever it is reported.
    power_notes = low_power_warnings(scenario)
    with missing_glyphs() as missing:
        chart_files, embedded = _draw_charts(outcomes, window, labels, levels, out,
                                             scenario.seed if simulated else None,
                                             scenario.design.type == "replay")
        trends = trend_section(store, scenario, outcomes, replies, out,
                               scenario.seed if simulated else None)
        chart_files += trends.files if trends else []
        html = out / "report.html"
        html.write_text(_page(scenario, summary, embedded, outcomes, replies, names,
                              power_notes, trends,
                              alert_log(store, scenario, ZoneInfo(scenario.timezone))),
                        encoding="utf-8")
        poster = out / "infographic.png"
        draw_poster(summary, poster)
    summary_path = out / "summary.json"
    summary_path.write_text(json_text(summary.to_json()), encoding="utf-8")
    probes = out / "probes.csv"
    zone = ZoneInfo(scenario.timezone)
    with probes.open("w", encoding="utf-8", newline="") as handle:
        write_csv([o.row(zone, levels.quick_s, levels.slow_s, simulated=simulated)
                   for o in outcomes],
                  EXPORT_FIELDS, handle)
    return ReportFiles(out, html, poster, summary_path, probes, chart_files, advice(missing),
                       power_notes)


def _draw_charts(outcomes: list[Outcome], window: float, labels: dict[str, str],
                 levels: Thresholds, out: Path, simulated_seed: int | None,
                 replay: bool) -> tuple[list[Path], dict[str, Markup]]:
    """Every chart of the report, saved as PNG and SVG, and each one's figure for the page
    (stamped as simulated, with the seed, when ``simulated_seed`` is given)."""
    drawn = {
        "leaderboard": charting.chart("response_rate", "brand", outcomes, window, labels),
        "mention": charting.chart("response_rate", "mention", outcomes, window, labels),
        "time": charting.chart("time_to_reply", "mention", outcomes, window, labels),
        "levels": charting.chart("level", "industry", outcomes, window, labels, levels),
        "timeline": charting.timeline(outcomes, labels, levels),
    }
    chart_files: list[Path] = []
    embedded: dict[str, Markup] = {}
    for key, chart in drawn.items():
        if key in ("mention", "time") and replay:
            chart = charting.footnote(chart, charting.REPLAY_MENTION_NOTE)
        if simulated_seed is not None:
            chart = charting.stamp_simulated(chart, simulated_seed)
        paths = charting.save(chart, out / "charts")
        chart_files.extend(paths)
        svg = next(p for p in paths if p.suffix == ".svg")
        embedded[key] = _figure(svg, chart)
        charting.close(chart)
    return chart_files, embedded


def _figure(svg: Path, chart: charting.Chart) -> Markup:
    data = base64.b64encode(svg.read_bytes()).decode("ascii")
    return Markup('<figure><img src="data:image/svg+xml;base64,{}" alt="{}">'
                  "<figcaption>{}</figcaption></figure>").format(data, chart.alt, chart.title)


def _page(scenario: Scenario, summary: Summary, charts: dict[str, Markup],
          outcomes: list[Outcome], replies: list[ReplyRecord], names: dict[str, str],
          power_notes: list[str], trends: TrendSection | None = None,
          alerts: AlertLog | None = None) -> str:
    environment = Environment(loader=PackageLoader("harness.report", "templates"),
                              autoescape=select_autoescape(["html", "j2"]),
                              keep_trailing_newline=True)
    environment.filters["bdi"] = _isolated
    template = environment.get_template("report.html.j2")
    window = scenario.schedule.observation_window
    return template.render(
        title=scenario.title or scenario.name, description=scenario.description,
        head=summary.headline, leaderboard=summary.leaderboard, matchups=summary.matchups,
        groups=summary.groups, mention_effect=summary.mention_effect,
        engagement=summary.engagement, business_hours=summary.business_hours,
        charts=charts, names=names, mention_words=MENTION_WORDS,
        categories={c.id: c.label for c in scenario.categories},
        design_type=scenario.design.type, window=_window_words(window),
        examples=_examples(outcomes, replies, names), methodology=_methodology(scenario,
                                                                              summary),
        rate=_rate, pct=_pct, frac=_frac, duration=_duration, p=p_text, signed=_signed,
        verdict=lambda v: names.get(v, v), health=summary.channel_health,
        rules=summary.rules, simulated=summary.simulated, seed=scenario.seed,
        published=_published(scenario, outcomes, names), power_notes=power_notes,
        trends=trends,
        alerts=alerts,
    )


def _published(scenario: Scenario, outcomes: list[Outcome],
               names: dict[str, str]) -> list[tuple[str, str, str]]:
    """The scenario's published figures beside this run's: (figure, published, this run)."""
    published = scenario.report.published
    if published is None:
        return []
    run = with_differences(figures(outcomes, [b.id for b in scenario.brands],
                                   [c.id for c in scenario.categories]), published.differences)
    return [(label(name, names), shown(name, value), shown(name, run.get(name)))
            for name, value in published_figures(published).items()]


def _isolated(text: object) -> Markup:
    """Untrusted text (a brand's name, a reply) escaped and isolated with ``<bdi>``: a
    right-to-left name or a reordering character in it cannot turn the line around it."""
    return Markup("<bdi>%s</bdi>") % str(text)


def _window_words(window: timedelta) -> str:
    seconds = int(window.total_seconds())
    if seconds % 86400 == 0:
        days = seconds // 86400
        return f"{days} day{'s' if days != 1 else ''}"
    return format_duration(window)


def _rate(figure: RateFigure) -> str:
    if not figure.n or figure.rate is None or figure.ci95 is None:
        return f"{figure.k}/{figure.n}"
    low, high = figure.ci95
    return f"{figure.k}/{figure.n} = {figure.rate:.0%} ({low:.0%}-{high:.0%})"


def p_text(value: float | None) -> str:
    """A p-value as a reader can take it: never "p = 0.000"."""
    if value is None:
        return "p: none"
    return "p < 0.001" if value < 0.001 else f"p = {value:.3f}"


def _signed(value: float | None) -> str:
    """A difference of rates in percentage points, with its sign."""
    return "-" if value is None else f"{100 * value:+.0f} points"


def _frac(k: int, n: int) -> str:
    return f"{k}/{n} = {k / n:.0%}" if n else f"{k}/{n}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _duration(seconds: float | None) -> str:
    return "-" if seconds is None else format_duration(seconds)


def _examples(outcomes: list[Outcome], replies: list[ReplyRecord], names: dict[str, str],
              count: int = 6) -> list[dict[str, str]]:
    """A few brand replies, fastest first within each brand, one per brand at most."""
    sent = {o.probe.probe_id: o for o in outcomes if o.sent_at is not None}
    chosen: dict[str, dict[str, str]] = {}
    for reply in sorted(replies, key=lambda r: r.created_at):
        outcome = sent.get(reply.probe_id or "")
        if outcome is None or not reply.from_brand or reply.automated or outcome.sent_at is None:
            continue
        brand = outcome.probe.brand
        if brand in chosen:
            continue
        chosen[brand] = {
            "text": reply.text, "author": f"{reply.author} ({names.get(brand, brand)})",
            "persona": outcome.probe.persona, "kind": reply.kind.replace("_", " "),
            "latency": format_duration(reply.created_at - outcome.sent_at)}
        if len(chosen) == count:
            break
    return list(chosen.values())


def _methodology(scenario: Scenario, summary: Summary) -> str:
    head = summary.headline
    industries = len({b.industry for b in scenario.brands})
    named = ", ".join(MENTION_WORDS[m] for m in dict.fromkeys(scenario.design.mentions))
    design = ("the way of naming the brand changed week by week for every brand alike"
              if scenario.design.type == "replay" else
              "brands were split so that half started with each way of naming them")
    window: timedelta = scenario.schedule.observation_window
    return (f"{head.personas} shoppers sent {head.sent} messages to {head.brands} "
            f"brands in {industries} industries over {head.weeks} weeks "
            f"({len(scenario.categories)} kinds of question; brands named by {named}; "
            f"{design}). Replies were counted for {_window_words(window)} after each "
            f"message. Seed {scenario.seed}.")
