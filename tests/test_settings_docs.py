"""The settings tables of docs/channels.md are the adapters' declarations: a table that no longer
says what its adapter declares fails here (regenerate: ``python -m harness.channels.docs``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.channels.docs import DOCS, MARKED, main, marked_adapters, render, settings_table
from harness.channels.registry import _BUILTIN, get_adapter

ROOT = Path(__file__).resolve().parent.parent


def test_the_docs_are_where_the_generator_looks() -> None:
    assert ROOT / "docs" / "channels.md" == DOCS


def test_every_built_in_adapter_has_one_table() -> None:
    names = marked_adapters(DOCS.read_text(encoding="utf-8"))
    assert sorted(names) == sorted(_BUILTIN)
    assert len(names) == len(set(names))


@pytest.mark.parametrize("name", sorted(_BUILTIN))
def test_each_table_is_what_its_adapter_declares(name: str) -> None:
    text = DOCS.read_text(encoding="utf-8")
    found = next(m for m in MARKED.finditer(text) if m["name"] == name)
    expected = "\n" + settings_table(get_adapter(name).settings_spec) + "\n"
    assert found["body"] == expected, (
        f"the settings table of {name!r} in {DOCS} is stale: run python -m harness.channels.docs")


def test_the_generator_changes_nothing_else_and_checks(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert render(text) == text
    stale = text.replace("| `instance` | URL | yes |", "| `instance` | text | no |")
    assert stale != text
    copy = tmp_path / "channels.md"
    copy.write_text(stale, encoding="utf-8")
    assert main([str(copy), "--check"]) == 1
    assert copy.read_text(encoding="utf-8") == stale
    assert main([str(copy)]) == 0
    assert copy.read_text(encoding="utf-8") == text
    assert main([str(copy), "--check"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_shopper_channels_shows_an_adapters_declared_settings(
        capsys: pytest.CaptureFixture[str]) -> None:
    from harness.channels.docs import setting_rows
    from harness.cli import main

    assert main(["channels", "--settings", "email"]) == 0
    out = capsys.readouterr().out
    declared = [name for name, _, _ in setting_rows(get_adapter("email").settings_spec or ())]
    assert "smtp.host" in declared and "password" in " ".join(declared)
    lines = out.splitlines()
    for name in declared:  # one row each, the name first
        assert any(line.split()[:1] == [name] for line in lines), name
    secret_rows = [line for line in lines if "{env: NAME}" in line]
    assert secret_rows and all(line.split()[0].startswith("password") for line in secret_rows)
    assert main(["channels", "--settings", "nope"]) == 2
    assert "unknown adapter 'nope'" in capsys.readouterr().err
