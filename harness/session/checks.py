"""Judge a run's objectives at a moment: what `shopper check`, `shopper metrics` and the
alerts share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from harness.analysis.objectives import Evidence, Verdict, judge
from harness.analysis.outcomes import is_simulated
from harness.errors import UsageError
from harness.scenario.model import Scenario
from harness.store.folder import RunFolder


@dataclass(frozen=True)
class Check:
    """Every objective of a run judged at ``at``."""

    run: str
    title: str
    simulated: bool
    seed: str
    at: datetime
    scenario: Scenario
    verdicts: list[Verdict]
    latest: datetime
    """The latest moment the run can speak for: now (live), or the last moment recorded."""


def check_run(folder: Path, at: datetime | None = None) -> Check:
    """Judge the objectives of the run in ``folder`` at ``at``: by default now for a live run,
    and for a simulated run the last moment its virtual clock recorded."""
    store = RunFolder(folder).open_store()
    try:
        meta = store.meta()
        evidence = Evidence.from_store(store)
    finally:
        store.close()
    scenario = Scenario.model_validate_json(meta["scenario_json"])
    if not scenario.objectives:
        raise UsageError(f"{folder}: the run's scenario states no objectives (add an "
                         "objectives: section and rerun `shopper run` to adopt it; see "
                         "docs/monitoring.md)")
    simulated = is_simulated(meta)
    now = datetime.now(UTC)
    latest = (evidence.last_moment() if simulated else None) or now
    if at is None:
        at = latest
    elif not simulated and at > now:
        raise UsageError(f"--at {at.isoformat()} is in the future: what happens after now is "
                         "not known yet (probes still waiting would be judged as failed)")
    return Check(meta.get("name", folder.name), meta.get("title", ""), simulated,
                 meta.get("seed", "?"), at, scenario, judge(scenario, evidence, at), latest)
