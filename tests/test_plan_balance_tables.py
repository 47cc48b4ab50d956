"""The balance tables of `shopper plan` (text and JSON): persona x mention per brand and
categories across matchup partners beside the per-brand ones, and the plan's warnings in
`shopper plan` and `shopper validate`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from harness.plan.balance import balance_tables
from harness.plan.expand import build_plan

from .conftest import REPLAY, ROOT
from .test_plan_balance import variant

QA = ROOT / "scenarios" / "qa-acme-multichannel.yaml"
LIVE = ROOT / "scenarios" / "qa-acme-live.yaml"


def shopper(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True,
                          text=True, check=True)


def plan_json(path: Path) -> dict[str, Any]:
    return json.loads(shopper("plan", str(path), "--format", "json").stdout)  # type: ignore[no-any-return]


def test_json_has_persona_x_mention_and_partner_tables_for_qa_acme() -> None:
    data = plan_json(QA)
    balance = data["balance"]
    assert set(balance) == {"category", "persona", "mention", "persona_mention",
                            "partner_days", "partner_category"}
    assert balance["persona_mention"] == {
        brand: {persona: {"at": 4, "name": 4} for persona in ("jordan", "priya", "sam")}
        for brand in balance["persona"]}
    assert balance["partner_days"] == {"acme / summit": {"days": 12, "same_category": 0},
                                       "trailhead / fjellstad": {"days": 12, "same_category": 0}}
    categories = ["defect", "order_status", "praise", "returns", "sizing"]
    assert balance["partner_category"] == {pair: dict.fromkeys(categories, 0)
                                           for pair in balance["partner_days"]}
    assert data["warnings"] == []


def test_the_replays_tables_show_what_it_keeps_from_2013() -> None:
    data = plan_json(REPLAY)
    balance = data["balance"]
    # the 2013 deal ties persona to mention mode within a brand...
    assert balance["persona_mention"]["apple"] == {
        "alex": {"at": 0, "name": 5}, "blair": {"at": 5, "name": 0},
        "casey": {"at": 5, "name": 0}, "devon": {"at": 0, "name": 5}}
    # ...and two matchups ask the same category every day, 4 days of each category
    assert balance["partner_days"]["cocacola / pepsi"] == {"days": 20, "same_category": 20}
    assert set(balance["partner_category"]["cocacola / pepsi"].values()) == {4}
    assert balance["partner_days"]["apple / hp"] == {"days": 20, "same_category": 0}
    assert len(data["warnings"]) == 2


def test_text_shows_every_table_then_the_warnings_then_the_count() -> None:
    text = shopper("plan", str(LIVE)).stdout
    assert "Probes per brand, persona and mention\nbrand   persona  at  name\n" in text
    assert "\nacme    jordan    3     2\nacme    priya     2     3\n" in text
    assert "Matchup partners, in days" in text
    assert "\nacme / summit    10     0       0             0       0\n" in text
    assert text.endswith(
        "\nwarning: brands acme, summit: the messages of a mention mode cannot be shared "
        "equally by the 2 personas (5 'at', 2 or 3 each; 5 'name', 2 or 3 each)\n\n20 probes\n")
    assert text.index("Probes per brand and mention") < text.index("persona and mention") < \
        text.index("Matchup partners") < text.index("warning:")


def test_csv_stays_data_and_puts_warnings_on_standard_error() -> None:
    result = shopper("plan", str(LIVE), "--format", "csv")
    assert result.stdout.startswith("probe_id,") and "warning" not in result.stdout
    assert result.stderr.startswith("warning: brands acme, summit: ")


def test_validate_prints_the_warnings_after_ok_and_still_passes() -> None:
    result = shopper("validate", str(LIVE), str(QA))
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{LIVE}: ok (")
    assert lines[1].startswith(f"{QA}: ok (") and len(lines) == 2
    warnings = result.stderr.splitlines()  # warnings go to stderr, each naming its file
    assert warnings[0].startswith(f"{LIVE}: warning: brands acme, summit: the messages of a ")
    assert all(line.startswith((f"{LIVE}: warning: ", f"{QA}: warning: ")) for line in warnings)
    assert result.returncode == 0


def test_one_brand_has_no_partner_rows_and_one_category_shows_the_clash() -> None:
    alone = balance_tables(build_plan(variant(brands=1, matchups=[])), [])
    assert alone["partner_days"] == {} and alone["partner_category"] == {}
    assert alone["persona_mention"] == {"b0": {"p0": {"at": 2, "name": 3},
                                               "p1": {"at": 3, "name": 2}}} or \
        alone["persona_mention"] == {"b0": {"p0": {"at": 3, "name": 2},
                                            "p1": {"at": 2, "name": 3}}}
    scenario = variant(categories=1, brands=2, per_day=2)
    tables = balance_tables(build_plan(scenario), [["b0", "b1"]])
    assert tables["partner_days"] == {"b0 / b1": {"days": 10, "same_category": 10}}
    assert tables["partner_category"] == {"b0 / b1": {"c0": 10}}
    three = variant(categories=3, brands=3, matchups=[["b0", "b1", "b2"]])
    rows = balance_tables(build_plan(three), [["b0", "b1", "b2"]])["partner_days"]
    assert rows == {pair: {"days": 10, "same_category": 0}
                    for pair in ("b0 / b1", "b0 / b2", "b1 / b2")}
