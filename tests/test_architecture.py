"""The structure stays as docs/architecture.md draws it: every package sits in a layer of the
import contract (so none escapes `lint-imports`), the document names each one, and no module
grows past 400 lines."""

from __future__ import annotations

import tomllib

from tests.conftest import ROOT

HARNESS = ROOT / "harness"
MAX_LINES = 400


def _layers() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    (layered,) = [c for c in contracts if c["type"] == "layers"]
    return [name.strip() for layer in layered["layers"] for name in layer.split("|")]


def _top_level() -> set[str]:
    """Every package and module directly under harness/ (but the entry points)."""
    names = {p.name for p in HARNESS.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    names |= {p.stem for p in HARNESS.glob("*.py")} - {"__init__", "__main__"}
    return {f"harness.{name}" for name in names}


def test_every_package_and_module_is_in_a_layer() -> None:
    assert set(_layers()) == _top_level()


def test_the_architecture_document_names_every_layer() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    missing = [name for name in _layers() if name.removeprefix("harness.") not in text]
    assert missing == []


def test_no_module_is_over_400_lines() -> None:
    long = {str(path.relative_to(ROOT)): lines for path in sorted(HARNESS.rglob("*.py"))
            if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}
