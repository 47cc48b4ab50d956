"""`shopper metrics`: Prometheus' text format, read back by prometheus_client's own parser, with
the numbers `shopper check` and `shopper export` give for the same run and moment."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from harness.report.metrics import FIRST_REPLY_BUCKETS, METRICS, exposition
from harness.session.metrics import run_state

from .conftest import ROOT, SMALL

HOSTILE_OBJECTIVE = 'say "hi" \\ back, café ✓ مرحبا'
HOSTILE_BRAND = 'Fast "Co" \\ Ltd\nsecond line'  # a brand's name may break a line
OBJECTIVES = f"""\
objectives:
  - name: fast-answers
    brands: [fast]
    indicator: {{kind: response_rate}}
    target: 10%
    window: 7d
  - name: '{HOSTILE_OBJECTIVE}'
    brands: [mute, fast]
    indicator: {{kind: replied_within, within: 1h}}
    target: 0.5
    early_warning: {{unanswered: 2, of_last: 3}}
"""
MIDWAY = "2024-03-08T12:00:00+00:00"
BEFORE = "2024-03-01T00:00:00+00:00"


def shopper(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True,
                          text=True, timeout=120, env=dict(os.environ))


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("metrics")
    scenario = base / "watch.yaml"
    text = SMALL.replace("name: Fast Co", f"name: {json.dumps(HOSTILE_BRAND)}") + OBJECTIVES
    scenario.write_text(text, encoding="utf-8")
    out = base / "watch-run"
    done = shopper("run", str(scenario), "--simulate", "--out", str(out), "-q")
    assert done.returncode == 0, done.stderr
    return out


Series = dict[tuple[tuple[str, str], ...], float]


def parse(text: str) -> dict[str, Series]:
    """Every sample, by sample name, keyed by its labels (sorted)."""
    samples: dict[str, Series] = defaultdict(dict)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            assert isinstance(sample, Sample)
            samples[sample.name][tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def one(series: Series, **labels: str) -> float | None:
    """The value of the series whose labels include ``labels`` (None: absent)."""
    found = [v for k, v in series.items() if set(labels.items()) <= set(k)]
    assert len(found) <= 1, (labels, found)
    return found[0] if found else None


def metrics(folder: Path, *extra: str) -> str:
    result = shopper("metrics", str(folder), *extra)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("at", [None, MIDWAY])
def test_objective_metrics_are_what_check_judged(run_folder: Path, at: str | None) -> None:
    extra = ("--at", at) if at else ()
    check = json.loads(shopper("check", str(run_folder), "--format", "json", *extra).stdout)
    samples = parse(metrics(run_folder, *extra))
    assert samples["shopper_judged_at_timestamp_seconds"][(("run", "watch-run"),)] == \
        datetime.fromisoformat(check["at"]).timestamp()
    assert len(check["verdicts"]) == 3
    for verdict in check["verdicts"]:
        key = {"objective": verdict["objective"], "brand": verdict["brand"]}
        for name, field in (("good", "good"), ("decided", "decided"),
                            ("pending", "pending"), ("muted", "muted")):
            assert one(samples[f"shopper_objective_{name}_probes"], **key) == verdict[field]
        assert one(samples["shopper_objective_target_ratio"], **key) == verdict["target"]
        assert one(samples["shopper_objective_ratio"], **key) == verdict["share"]
        low, high = verdict["interval"] or (None, None)
        assert one(samples["shopper_objective_interval_lower_ratio"], **key) == low
        assert one(samples["shopper_objective_interval_upper_ratio"], **key) == high
        states = {s: one(samples["shopper_objective_status"], **key, status=s)
                  for s in ("pass", "fail", "insufficient")}
        assert states == {s: float(s == verdict["status"]) for s in states}
        assert one(samples["shopper_objective_early_warning"], **key) == float(
            verdict["warning"] is not None)
        start = one(samples["shopper_objective_window_start_timestamp_seconds"], **key)
        assert start == (datetime.fromisoformat(verdict["window_start"]).timestamp()
                         if verdict["window_start"] else None)
    # the two moments differ, or the comparison above would prove little
    assert any(v["pending"] for v in check["verdicts"]) == (at == MIDWAY)


def test_probe_metrics_are_what_the_export_says(run_folder: Path) -> None:
    rows = json.loads(shopper("export", str(run_folder), "--format", "json").stdout)
    samples = parse(metrics(run_folder))
    expected: dict[tuple[str, ...], list[dict[str, object]]] = defaultdict(list)
    for row in rows:
        expected[tuple(str(row[k]) for k in ("brand", "channel", "category", "mention"))] \
            .append(row)
    assert len(samples["shopper_probes_sent_total"]) == len(expected) == 16
    for (brand, channel, category, mention), members in expected.items():
        key = {"run": "watch-run", "brand": brand, "channel": channel, "category": category,
               "mention": mention}
        latencies = [float(str(r["latency_s"])) for r in members if r["responded"]]
        assert one(samples["shopper_probes_planned"], **key) == len(members)
        assert one(samples["shopper_probes_sent_total"], **key) == sum(
            1 for r in members if r["sent_at"])
        assert one(samples["shopper_probes_answered_total"], **key) == len(latencies)
        assert one(samples["shopper_first_reply_seconds_count"], **key) == len(latencies)
        assert one(samples["shopper_first_reply_seconds_sum"], **key) == sum(latencies)
        for bound in FIRST_REPLY_BUCKETS:
            assert one(samples["shopper_first_reply_seconds_bucket"], **key,
                       le=str(bound)) == sum(1 for s in latencies if s <= bound)
        assert one(samples["shopper_first_reply_seconds_bucket"], **key, le="+Inf") == \
            len(latencies)
    assert sum(samples["shopper_probes_answered_total"].values()) == sum(
        1 for r in rows if r["responded"]) > 0


def test_a_brand_sent_nothing_yet_has_zeros_and_nothing_decided_has_no_ratio(
        run_folder: Path) -> None:
    samples = parse(metrics(run_folder, "--at", BEFORE))
    # every planned combination is there, at zero: a dashboard tells "none" from "no data"
    assert len(samples["shopper_probes_sent_total"]) == 16
    assert set(samples["shopper_probes_sent_total"].values()) == {0.0}
    assert set(samples["shopper_first_reply_seconds_count"].values()) == {0.0}
    assert sum(samples["shopper_probes_planned"].values()) == 40
    assert "shopper_run_last_record_timestamp_seconds" not in samples
    # nothing decided: no ratio and no interval (never NaN), and insufficient
    assert "shopper_objective_ratio" not in samples
    assert "shopper_objective_interval_lower_ratio" not in samples
    assert set(samples["shopper_objective_decided_probes"].values()) == {0.0}
    insufficient = {k: v for k, v in samples["shopper_objective_status"].items()
                    if ("status", "insufficient") in k}
    assert len(insufficient) == 3 and set(insufficient.values()) == {1.0}


def test_one_brand_with_nothing_sent_beside_others(run_folder: Path) -> None:
    rows = json.loads(shopper("export", str(run_folder), "--format", "json").stdout)
    first = min((r for r in rows if r["sent_at"]), key=lambda r: str(r["sent_at"]))
    samples = parse(metrics(run_folder, "--at", str(first["sent_at"])))
    sent: defaultdict[str, float] = defaultdict(float)
    for key, value in samples["shopper_probes_sent_total"].items():
        sent[dict(key)["brand"]] += value
    assert sent[str(first["brand"])] == 1 and sum(sent.values()) == 1
    silent = next(b for b in ("fast", "slow", "mute", "bank") if b != first["brand"])
    assert sent[silent] == 0 and one(samples["shopper_probes_answered_total"], brand=silent,
                                     category="question", mention="at") == 0


def test_hostile_names_are_escaped_and_read_back_whole(run_folder: Path) -> None:
    text = metrics(run_folder)
    assert 'objective="say \\"hi\\" \\\\ back, café ✓ مرحبا"' in text
    assert 'name="Fast \\"Co\\" \\\\ Ltd\\nsecond line"' in text
    samples = parse(text)
    assert one(samples["shopper_objective_target_ratio"], objective=HOSTILE_OBJECTIVE,
               brand="mute") == 0.5
    assert one(samples["shopper_brand_info"], brand="fast", name=HOSTILE_BRAND) == 1.0
    assert len(text.splitlines()) == len([line for line in text.split("\n") if line])


def test_a_simulated_run_says_so(run_folder: Path) -> None:
    text = metrics(run_folder)
    assert re.search(r"^# HELP shopper_run_info SIMULATED run \(seed 7\)", text, re.M)
    samples = parse(text)
    assert samples["shopper_run_info"] == {
        (("run", "watch-run"), ("scenario", "small-race"), ("seed", "7"),
         ("simulated", "true")): 1.0}
    assert samples["shopper_run_simulated"] == {(("run", "watch-run"),): 1.0}


def test_a_live_run_says_it_is_not(run_folder: Path) -> None:
    live = dataclasses.replace(run_state(run_folder), simulated=False)
    text = exposition(live)
    assert "SIMULATED" not in text
    samples = parse(text)
    assert one(samples["shopper_run_info"], simulated="false", seed="") == 1.0
    assert one(samples["shopper_run_simulated"]) == 0.0


def test_a_run_without_objectives_gets_its_probe_metrics(tmp_path: Path) -> None:
    scenario = tmp_path / "plain.yaml"
    scenario.write_text(SMALL, encoding="utf-8")
    assert shopper("run", str(scenario), "--simulate", "--out", str(tmp_path / "plain"),
                   "-q").returncode == 0
    samples = parse(metrics(tmp_path / "plain"))
    assert sum(samples["shopper_probes_sent_total"].values()) == 40
    assert not [name for name in samples if name.startswith("shopper_objective")]


def test_output_file_is_replaced_whole_and_bad_input_exits_2(run_folder: Path,
                                                             tmp_path: Path) -> None:
    target = tmp_path / "textfile" / "shopper.prom"
    result = shopper("metrics", str(run_folder), "-o", str(target))
    assert result.returncode == 0 and result.stdout == ""
    assert target.read_text(encoding="utf-8") == metrics(run_folder)
    assert sorted(p.name for p in target.parent.iterdir()) == ["shopper.prom"]
    for args, words in (((str(run_folder), "-o", str(tmp_path)), "is a folder"),
                        ((str(tmp_path / "nowhere"),), "no run here"),
                        ((str(run_folder), "--at", "soon"), "is not a moment")):
        bad = shopper("metrics", *args)
        assert bad.returncode == 2 and words in bad.stderr, bad.stderr
        assert "Traceback" not in bad.stderr


def test_every_metric_written_is_listed_and_documented(run_folder: Path) -> None:
    written: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(metrics(run_folder)):
        name = family.name + ("_total" if family.type == "counter" else "")
        for sample in family.samples:
            written.setdefault(name, set()).update(set(sample.labels) - {"le"})
    assert set(written) == set(METRICS)
    docs = (ROOT / "docs" / "monitoring.md").read_text(encoding="utf-8")
    section = docs.split("## Metrics for dashboards", 1)[1]
    for name, (kind, labels) in METRICS.items():
        assert written[name] == set(labels), name
        row = next((line for line in section.splitlines() if line.startswith(f"| `{name}`")),
                   None)
        assert row is not None, f"{name} is not documented"
        assert kind in row and all(f"`{label}`" in row for label in labels), row
