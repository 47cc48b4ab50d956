"""The report in a real headless browser: it loads with no failed or outside requests, fits a
phone's width, and nothing a brand wrote runs.

Needs Debian's chromium (``.ci/run`` installs it) and the playwright package (test extras);
without the browser the test is skipped on a developer's machine but fails under CI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import SMALL

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
HOSTILE = {"fast": "<script>alert(1)</script>", "slow": "<img src=x onerror=alert(2)>",
           "bank": "{{ 7*7 }} <a href=javascript:alert(3)>x</a>"}

if CHROMIUM is None:
    if os.environ.get("CI"):
        pytest.fail("chromium is missing: .ci/run should have installed it",
                    pytrace=False)
    pytest.skip("no chromium on this machine (apt-get install chromium)",
                allow_module_level=True)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A report of the small scenario whose brands answer with hostile text."""
    from harness.scenario.model import Scenario
    from harness.session.scenarios import load_scenario_text

    from .simrun import run_in_process

    data = load_scenario_text(SMALL, "s.yaml").model_dump(mode="json")
    for brand in data["brands"]:
        if brand["id"] in HOSTILE:
            brand["simulate"]["texts"] = [HOSTILE[brand["id"]]]
    folder = tmp_path_factory.mktemp("browser")
    run_in_process(Scenario.model_validate(data), folder / "run")
    subprocess.run([sys.executable, "-m", "harness", "report", str(folder / "run"), "--out",
                    str(folder / "report")], check=True, capture_output=True)
    return folder / "report" / "report.html"


@pytest.mark.parametrize("width", [390, 1280])
@pytest.mark.slow
def test_report_loads_fits_and_runs_nothing(report: Path, width: int) -> None:
    from playwright.sync_api import Dialog, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            failed: list[str] = []
            requests: list[str] = []
            dialogs: list[str] = []
            page.on("requestfailed", lambda request: failed.append(request.url))
            page.on("request", lambda request: requests.append(request.url))
            def dismissed(dialog: Dialog) -> None:
                dialogs.append(dialog.message)
                dialog.dismiss()

            page.on("dialog", dismissed)
            page.goto(report.as_uri())
            page.wait_for_load_state("load")
            assert failed == []
            assert all(url.startswith(("file:", "data:")) for url in requests), requests
            assert dialogs == []  # no script from a reply ran
            body = page.inner_text("body")
            assert "<script>alert(1)</script>" in body and "{{ 7*7 }}" in body
            images = page.eval_on_selector_all(
                "img", "els => els.map(e => [e.alt.length, e.naturalWidth])")
            assert images and all(alt > 20 and natural > 0 for alt, natural in images)
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, f"the page is {overflow}px wider than a {width}px screen"
        finally:
            browser.close()
