"""A run's metrics at a moment (`shopper metrics`): the probes as they stood and the
objectives judged as `shopper check` judges them, in Prometheus' text format."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from harness.analysis.objectives import Evidence, judge
from harness.analysis.outcomes import is_simulated
from harness.report.metrics import RunState, exposition
from harness.scenario.model import Scenario
from harness.store.folder import RunFolder


def run_state(folder: Path, at: datetime | None = None) -> RunState:
    """The run in ``folder`` as it stood at ``at``: by default, as `shopper check` does, now
    for a live run and the last moment recorded for a simulated one. A run without
    objectives has no verdicts (its probe metrics are all there is)."""
    store = RunFolder(folder).open_store()
    try:
        meta = store.meta()
        evidence = Evidence.from_store(store)
    finally:
        store.close()
    scenario = Scenario.model_validate_json(meta["scenario_json"])
    simulated = is_simulated(meta)
    if at is None:
        at = (evidence.last_moment() if simulated else None) or datetime.now(UTC)
    moments = [moment for moment in (
        *(s.sent_at or s.intended_at for s in evidence.sends),
        *(r.created_at for r in evidence.replies)) if moment <= at]
    return RunState(run=folder.resolve().name, scenario=scenario, simulated=simulated,
                    seed=meta.get("seed", "?"), at=at, last_record=max(moments, default=None),
                    outcomes=evidence.as_of(at), verdicts=judge(scenario, evidence, at))


def metrics_text(folder: Path, at: datetime | None = None) -> str:
    """The metrics of the run in ``folder`` at ``at``, as Prometheus' text format."""
    return exposition(run_state(folder, at))
