"""The `shopper` command line, run as users run it."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPLAY, SMALL

COMMANDS = ("validate", "plan", "power", "schema", "run", "race", "status", "export", "report",
            "chart", "channels", "log", "todo", "check", "metrics")


def shopper(*args: str, cwd: Path | None = None,
            check: bool = False) -> subprocess.CompletedProcess[str]:
    """Run `python -m harness ARGS`."""
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True,
                          text=True, cwd=cwd, check=check, timeout=120)


def test_help_does_not_import_heavy_libraries() -> None:
    code = ("import sys\nfrom harness.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('matplotlib', 'scipy', 'tweepy', 'numpy', 'pydantic', 'jinja2')"
            " if m in sys.modules]\nprint(heavy)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"
    assert "validate" in result.stdout and "race" in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_subcommand_explains_itself(command: str) -> None:
    result = shopper(command, "--help")
    assert result.returncode == 0
    assert f"usage: shopper {command}" in result.stdout
    assert len(result.stdout.splitlines()) > 4


def test_version() -> None:
    from harness import __version__

    assert shopper("--version").stdout.strip() == f"shopper {__version__}"


def test_run_needs_an_explicit_mode(tmp_path: Path) -> None:
    result = shopper("run", str(REPLAY), "--out", str(tmp_path / "r"))
    assert result.returncode == 2
    assert "--simulate" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_run_export_status_and_a_second_run_that_does_nothing(tmp_path: Path) -> None:
    out = tmp_path / "race"
    first = shopper("run", str(REPLAY), "--simulate", "--out", str(out))
    assert first.returncode == 0, first.stderr
    assert "280/280 probes sent" in first.stderr
    assert "sent 280/280" in first.stderr  # the progress line
    digest = hashlib.sha256((out / "run.sqlite").read_bytes()).hexdigest()

    again = shopper("run", str(REPLAY), "--simulate", "--out", str(out))
    assert again.returncode == 0
    assert "already finished" in again.stderr and "nothing to do" in again.stderr
    assert hashlib.sha256((out / "run.sqlite").read_bytes()).hexdigest() == digest

    status = shopper("status", str(out), check=True).stdout
    assert "state:      finished" in status and "sent:       280" in status

    csv_text = shopper("export", str(out), check=True).stdout
    header = csv_text.splitlines()[0].split(",")
    for column in ("probe_id", "persona", "brand", "industry", "channel", "category", "mention",
                   "scheduled_at", "sent_at", "status", "first_reply_at", "first_reply_kind",
                   "latency_s", "responded"):
        assert column in header
    assert len(csv_text.splitlines()) == 281

    target = tmp_path / "export.json"
    shopper("export", str(out), "--format", "json", "-o", str(target), check=True)
    rows = json.loads(target.read_text(encoding="utf-8"))
    assert len(rows) == 280 and rows[0]["status"] == "closed"


@pytest.mark.slow
def test_same_seed_same_export_and_seed_override_changes_it(tmp_path: Path) -> None:
    exports = []
    for name, extra in (("a", []), ("b", []), ("c", ["--seed", "5"])):
        shopper("run", str(REPLAY), "--simulate", "-q", "--out", str(tmp_path / name), *extra,
                check=True)
        exports.append(shopper("export", str(tmp_path / name), check=True).stdout)
    assert exports[0] == exports[1]
    assert exports[0] != exports[2]


@pytest.mark.slow
def test_a_folder_holding_another_scenario_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "run"
    shopper("run", str(REPLAY), "--simulate", "-q", "--out", str(out), check=True)
    small = tmp_path / "small.yaml"
    small.write_text(SMALL, encoding="utf-8")
    for args in (["run", str(small), "--simulate"], ["run", str(REPLAY), "--simulate",
                                                     "--seed", "3"]):
        result = shopper(*args, "--out", str(out))
        assert result.returncode == 2
        assert "differs from this one" in result.stderr and "Traceback" not in result.stderr


def test_default_folder_is_results_slash_name(tmp_path: Path) -> None:
    small = tmp_path / "small.yaml"
    small.write_text(SMALL, encoding="utf-8")
    shopper("run", str(small), "--simulate", "-q", cwd=tmp_path, check=True)
    assert (tmp_path / "results" / "small-race" / "run.sqlite").is_file()


@pytest.mark.slow
def test_race_prints_the_leaderboard_with_denominators(tmp_path: Path) -> None:
    result = shopper("race", str(REPLAY), "--out", str(tmp_path / "r"), "-q")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    board = [line for line in lines if "/20" in line]
    assert len(board) == 14  # every brand, each with k/20
    assert any("Starbucks" in line and "0/20" in line for line in board)  # names, not ids
    assert any(line.startswith("at ") and "/140" in line for line in lines)


def test_a_second_runner_on_the_same_folder_is_refused(tmp_path: Path) -> None:
    from harness.store.folder import RunFolder

    out = tmp_path / "busy"
    with RunFolder(out):
        result = shopper("run", str(REPLAY), "--simulate", "--out", str(out))
    assert result.returncode == 2
    assert "in use" in result.stderr and str(os.getpid()) in result.stderr
    assert not (out / "run.sqlite").exists()


def test_status_and_export_of_a_missing_folder_are_clear_errors(tmp_path: Path) -> None:
    for command in ("status", "export"):
        result = shopper(command, str(tmp_path / "nowhere"))
        assert result.returncode == 2
        assert "no run here" in result.stderr and "Traceback" not in result.stderr


def test_a_damaged_store_is_reported_not_half_read(tmp_path: Path) -> None:
    out = tmp_path / "r"
    shopper("run", str(REPLAY), "--simulate", "-q", "--out", str(out), check=True)
    store = out / "run.sqlite"
    data = bytearray(store.read_bytes())
    data[100:4000] = b"\x00" * 3900
    store.write_bytes(bytes(data))
    result = shopper("status", str(out))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and str(store) in result.stderr


def test_plan_table_ends_with_the_balance_tables() -> None:
    result = shopper("plan", str(REPLAY), check=True)
    text = result.stdout
    assert "Probes per brand and category" in text
    assert "Probes per brand and persona" in text
    assert "Probes per brand and mention" in text
    assert text.rstrip().endswith("280 probes")


def test_schema_is_json_schema_covering_every_section() -> None:
    schema = json.loads(shopper("schema", check=True).stdout)
    assert schema["type"] == "object"
    for section in ("personas", "brands", "categories", "channels", "schedule", "design"):
        assert section in schema["properties"]
    assert "SimulateProfile" in schema["$defs"]


@pytest.mark.slow
def test_terminal_escapes_in_a_title_are_shown_inertly(small_text: str, tmp_path: Path) -> None:
    path = tmp_path / "escape.yaml"
    titled = small_text.replace("name: small-race", 'name: small-race\ntitle: "\\e[31mRed"')
    path.write_text(titled, encoding="utf-8")
    result = shopper("race", str(path), "-q", "--out", str(tmp_path / "run"))
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\\x1b[31mRed" in result.stdout
