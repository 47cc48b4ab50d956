"""Calibrate a finished run: each brand's ``simulate:`` profile fitted from what it did, so a
past race becomes the model of the next one (what `shopper calibrate` does).

The profiles file is YAML: ``brands: {id: {simulate: {...}}}`` holds valid
:class:`~harness.scenario.model.SimulateProfile` values, to paste under each brand of a
scenario; ``evidence:`` beside it holds the counts and intervals they rest on.
:func:`read_profiles` reads ``brands:`` and passes ``evidence:`` over; a scenario has no such
section (paste the ``simulate:`` mappings, not the file).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from harness.analysis.calibration import BrandCalibration, calibrate
from harness.analysis.calibration_profile import evidence, simulate_profile
from harness.errors import RunFolderError, UsageError
from harness.scenario.model import SimulateProfile
from harness.scenario.yamlsafe import load_text
from harness.store.folder import RunFolder


@dataclass(frozen=True)
class Calibration:
    """The fitted brands of one run, and what the run was."""

    folder: Path
    name: str
    mode: str
    window_s: int
    confidence: float
    brands: list[BrandCalibration]

    def profiles(self) -> dict[str, SimulateProfile]:
        """Each brand's fitted profile, validated as a scenario would."""
        return {b.brand: SimulateProfile.model_validate(simulate_profile(b))
                for b in self.brands}


def calibrate_folder(folder: Path, confidence: float = 0.95) -> Calibration:
    """Fit every brand of the finished run in ``folder`` (intervals at ``confidence``).

    Raises :class:`~harness.errors.RunFolderError` if there is no run there or it has not
    finished (a brand's replies would still be coming).
    """
    store = RunFolder(folder).open_store()
    try:
        meta = store.meta()
        if "finished_at" not in meta:
            counts = store.counts()
            raise RunFolderError(
                f"{folder}: the run has not finished ({counts['sent']} of {counts['planned']} "
                "first messages sent); calibrate a finished run")
        brands = calibrate(store, confidence)
    finally:
        store.close()
    return Calibration(folder, meta.get("name", ""), meta.get("run_mode", "simulated"),
                       int(meta["observation_window_s"]), confidence, brands)


def profiles_document(calibration: Calibration) -> dict[str, Any]:
    """The profiles file as data: ``brands:`` (profiles) and ``evidence:``."""
    return {
        "brands": {b.brand: {"simulate": simulate_profile(b)} for b in calibration.brands},
        "evidence": {
            "run": calibration.name, "mode": calibration.mode,
            "observation_window_s": calibration.window_s,
            "confidence": calibration.confidence,
            "brands": {b.brand: evidence(b) for b in calibration.brands},
        },
    }


def profiles_yaml(calibration: Calibration) -> str:
    """The profiles file's text, with a header saying how to use it."""
    header = (
        f"# Brand profiles fitted by `shopper calibrate` from the {calibration.mode} run "
        f"{calibration.name!r}\n"
        "# (docs/calibration.md). Paste a brand's `simulate:` mapping under that brand in "
        "the next\n# scenario. `evidence:` holds what each value rests on: k of n, "
        f"{calibration.confidence:.0%} intervals,\n# the off-hours and weekend evidence; "
        "scenarios have no such section.\n")
    body = yaml.safe_dump(profiles_document(calibration), sort_keys=False, allow_unicode=True,
                          default_flow_style=None, width=100)
    return header + body


def read_profiles(text: str, file: str = "<profiles>") -> dict[str, SimulateProfile]:
    """The profiles of a profiles file (``brands:``; ``evidence:`` is not read)."""
    data = load_text(text, file).data
    brands = data.get("brands") if isinstance(data, dict) else None
    if not isinstance(brands, dict):
        raise UsageError(f"{file}: expected a mapping `brands: {{id: {{simulate: ...}}}}`")
    profiles = {}
    for brand, entry in brands.items():
        try:
            profiles[str(brand)] = SimulateProfile.model_validate(
                entry.get("simulate") if isinstance(entry, dict) else entry)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise UsageError(f"{file}: brands.{brand}.simulate{'.' + where if where else ''}: "
                             f"{first['msg']}") from None
    return profiles
