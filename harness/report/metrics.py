"""A run's numbers in Prometheus' text exposition format (`shopper metrics`): what
`shopper check` judges (per objective and brand) and what was sent and answered (per brand,
channel, category and mention mode), for dashboards and alert rules.

Written with prometheus_client: a collector of metric families, registered in a registry of
its own (never the process-wide one), and ``generate_latest``. Every name and label is listed
in :data:`METRICS` and documented in docs/monitoring.md ("Metrics for dashboards"). Label values
taken from the scenario (objective and brand names, industries) are untrusted text: the
client escapes backslashes, double quotes and line breaks in them.

No sample carries a timestamp (node_exporter's textfile collector refuses them): the moment
judged is a metric of its own, ``shopper_judged_at_timestamp_seconds``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)

from harness.analysis.objectives import Status, Verdict
from harness.analysis.outcomes import Outcome
from harness.scenario.model import Scenario

FIRST_REPLY_BUCKETS = (300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0,
                       259200.0, 604800.0)
"""Upper bounds of the first-reply histogram, in seconds: 5 and 15 minutes, half an hour,
1, 2, 4 and 8 hours, a day, 3 days and a week (then +Inf)."""

STATUSES: tuple[Status, ...] = ("pass", "fail", "insufficient")
RUN = ("run",)
PROBE = ("run", "brand", "channel", "category", "mention")
OBJECTIVE = ("run", "objective", "brand")

METRICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "shopper_run_info": ("info", ("run", "scenario", "simulated", "seed")),
    "shopper_run_simulated": ("gauge", RUN),
    "shopper_judged_at_timestamp_seconds": ("gauge", RUN),
    "shopper_run_last_record_timestamp_seconds": ("gauge", RUN),
    "shopper_brand_info": ("info", ("run", "brand", "name", "industry")),
    "shopper_probes_planned": ("gauge", PROBE),
    "shopper_probes_sent_total": ("counter", PROBE),
    "shopper_probes_answered_total": ("counter", PROBE),
    "shopper_first_reply_seconds": ("histogram", PROBE),
    "shopper_objective_info": ("info", ("run", "objective", "indicator", "window", "rule")),
    "shopper_objective_status": ("gauge", (*OBJECTIVE, "status")),
    "shopper_objective_good_probes": ("gauge", OBJECTIVE),
    "shopper_objective_decided_probes": ("gauge", OBJECTIVE),
    "shopper_objective_pending_probes": ("gauge", OBJECTIVE),
    "shopper_objective_muted_probes": ("gauge", OBJECTIVE),
    "shopper_objective_target_ratio": ("gauge", OBJECTIVE),
    "shopper_objective_ratio": ("gauge", OBJECTIVE),
    "shopper_objective_interval_lower_ratio": ("gauge", OBJECTIVE),
    "shopper_objective_interval_upper_ratio": ("gauge", OBJECTIVE),
    "shopper_objective_early_warning": ("gauge", OBJECTIVE),
    "shopper_objective_window_start_timestamp_seconds": ("gauge", OBJECTIVE),
}
"""Every metric written: its exposed name, its type and its labels (in order)."""

SIMULATED_HELP = ("SIMULATED run (seed {seed}): brand behaviour models on a virtual clock, "
                  "not replies from the real brands. ")


@dataclass(frozen=True)
class RunState:
    """One run as it stood at ``at``: what the metrics describe."""

    run: str
    """The run's label value (the run folder's name)."""
    scenario: Scenario
    simulated: bool
    seed: str
    at: datetime
    last_record: datetime | None
    """The latest send or reply recorded by ``at`` (None: nothing yet)."""
    outcomes: list[Outcome]
    """Every planned probe, as it stood at ``at``."""
    verdicts: list[Verdict]


class RunCollector:
    """A prometheus_client collector of one :class:`RunState`'s metric families."""

    def __init__(self, state: RunState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        """The run's, the probes' and the objectives' metric families (a family with no
        series, such as the objectives' in a run without any, is left out)."""
        for family in (*self._run(), *self._probes(), *self._objectives()):
            if family.samples:
                yield family

    def _run(self) -> Iterator[Metric]:
        state = self.state
        run = [state.run]
        note = SIMULATED_HELP.format(seed=state.seed) if state.simulated else ""
        info = InfoMetricFamily(
            "shopper_run", f"{note}The run: its scenario, whether it was simulated and, if "
            "so, its seed (empty for a live run). Always 1.", labels=RUN)
        info.add_metric(run, {"scenario": state.scenario.name,
                              "simulated": "true" if state.simulated else "false",
                              "seed": state.seed if state.simulated else ""})
        yield info
        yield _gauge("shopper_run_simulated", f"{note}1 when the run was simulated (brand "
                     "behaviour models on a virtual clock), 0 for a live run.",
                     RUN, [(run, float(state.simulated))])
        yield _gauge("shopper_judged_at_timestamp_seconds", "The moment these numbers "
                     "describe (shopper metrics --at), as Unix time in seconds.", RUN,
                     [(run, state.at.timestamp())])
        last = ([(run, state.last_record.timestamp())] if state.last_record is not None
                else [])
        yield _gauge("shopper_run_last_record_timestamp_seconds", "The latest send or reply "
                     "recorded by the moment judged, as Unix time in seconds (absent before "
                     "the first).", RUN, last)
        brands = InfoMetricFamily("shopper_brand", "A brand's display name and industry, "
                                  "by its id (the brand label of the other metrics).",
                                  labels=("run", "brand"))
        for brand in state.scenario.brands:
            brands.add_metric([state.run, brand.id], {"name": brand.name,
                                                      "industry": brand.industry})
        yield brands

    def _probes(self) -> Iterator[Metric]:
        groups: dict[tuple[str, ...], list[Outcome]] = defaultdict(list)
        for outcome in self.state.outcomes:
            probe = outcome.probe
            groups[(self.state.run, probe.brand, probe.channel, probe.category,
                    probe.mention)].append(outcome)
        keys = sorted(groups)
        planned = GaugeMetricFamily("shopper_probes_planned", "Probes (first messages) in the "
                                    "run's plan.", labels=PROBE)
        sent = CounterMetricFamily("shopper_probes_sent", "Probes whose first message was "
                                   "sent by the moment judged.", labels=PROBE)
        answered = CounterMetricFamily(
            "shopper_probes_answered", "Probes the brand answered within the observation "
            "window by the moment judged (automatic acknowledgements and other accounts do "
            "not count).", labels=PROBE)
        latency = HistogramMetricFamily(
            "shopper_first_reply_seconds", "Time from a probe's message to the brand's first "
            "reply, in seconds, over the answered probes (its _count is "
            "shopper_probes_answered_total).", labels=PROBE, unit="seconds")
        for key in keys:
            members = groups[key]
            replies = [float(o.latency_s) for o in members
                       if o.responded and o.latency_s is not None]
            planned.add_metric(key, len(members))
            sent.add_metric(key, sum(1 for o in members if o.sent_at is not None))
            answered.add_metric(key, len(replies))
            latency.add_metric(key, _buckets(replies), sum(replies))
        yield from (planned, sent, answered, latency)

    def _objectives(self) -> Iterator[Metric]:
        state = self.state
        info = InfoMetricFamily("shopper_objective", "An objective's indicator, window and "
                                "rule, in words.", labels=("run", "objective"))
        for objective in state.scenario.objectives:
            info.add_metric([state.run, objective.name], {
                "indicator": objective.indicator.describe(), "window": str(objective.window),
                "rule": objective.rule})
        yield info
        status = GaugeMetricFamily(
            "shopper_objective_status", "The objective's verdict for the brand, as a state "
            "set: 1 for the status it has (pass, fail or insufficient), 0 for the others.",
            labels=(*OBJECTIVE, "status"))
        series: dict[str, list[tuple[list[str], float]]] = defaultdict(list)
        for verdict in state.verdicts:
            labels = [state.run, verdict.objective, verdict.brand]
            for value in STATUSES:
                status.add_metric([*labels, value], float(verdict.status == value))
            series["good"].append((labels, verdict.good))
            series["decided"].append((labels, verdict.decided))
            series["pending"].append((labels, verdict.pending))
            series["muted"].append((labels, verdict.muted))
            series["target"].append((labels, verdict.target))
            if verdict.share is not None and verdict.interval is not None:
                series["ratio"].append((labels, verdict.share))
                series["lower"].append((labels, verdict.interval[0]))
                series["upper"].append((labels, verdict.interval[1]))
            series["warning"].append((labels, float(verdict.warning is not None)))
            if verdict.window_start is not None:
                series["start"].append((labels, verdict.window_start.timestamp()))
        yield status
        yield from (_gauge(name, words, OBJECTIVE, series[key]) for name, key, words in (
            ("shopper_objective_good_probes", "good", "Decided probes in the window that "
             "met the indicator."),
            ("shopper_objective_decided_probes", "decided", "Probes in the window decided "
             "good or bad by the moment judged (the n of the ratio)."),
            ("shopper_objective_pending_probes", "pending", "Probes in the window not yet "
             "decided (they count for nothing)."),
            ("shopper_objective_muted_probes", "muted", "Probes in the window sent during "
             "a maintenance period, left out."),
            ("shopper_objective_target_ratio", "target", "The share of good probes promised "
             "(0-1)."),
            ("shopper_objective_ratio", "ratio", "Good / decided (0-1); absent while "
             "nothing is decided."),
            ("shopper_objective_interval_lower_ratio", "lower", "Lower end of the 95% Wilson "
             "interval of the ratio; absent while nothing is decided."),
            ("shopper_objective_interval_upper_ratio", "upper", "Upper end of the 95% Wilson "
             "interval of the ratio; absent while nothing is decided."),
            ("shopper_objective_early_warning", "warning", "1 when the objective's early "
             "warning is raised (K of the last N decided probes not good), else 0."),
            ("shopper_objective_window_start_timestamp_seconds", "start", "Where the "
             "objective's window begins, as Unix time in seconds (absent for a whole-run "
             "window)."),
        ))


def _gauge(name: str, words: str, labels: Sequence[str],
           samples: Sequence[tuple[Sequence[str], float]]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, words, labels=labels)
    for values, value in samples:
        family.add_metric(values, value)
    return family


def _buckets(latencies: Sequence[float]) -> list[tuple[str, float]]:
    """Cumulative bucket counts, each bound as Prometheus writes it (``300.0``), then
    +Inf."""
    counts = [(repr(bound), float(sum(1 for s in latencies if s <= bound)))
              for bound in FIRST_REPLY_BUCKETS]
    return [*counts, ("+Inf", float(len(latencies)))]


def exposition(state: RunState) -> str:
    """The metrics of ``state`` in Prometheus' text exposition format (version 0.0.4)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RunCollector(state))
    return generate_latest(registry).decode("utf-8")
