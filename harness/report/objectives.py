"""A check of objectives written for the tools that read it: JUnit XML (one test case per
objective and brand; ``insufficient`` is a failure, as the exit status says), a Markdown
summary, and GitHub Actions' workflow commands.

Brand and objective names come from the scenario: they are escaped for each format (XML by
ElementTree, Markdown table cells, workflow-command properties and data).
"""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from harness.analysis.objectives import Verdict

SIMULATED_NOTE = ("SIMULATED: brand behaviour models on a virtual clock, not replies from the "
                  "real brands")


def evidence(verdict: Verdict) -> str:
    """k/n, the share, the interval, the window and the decision, on one line."""
    share = f" = {verdict.share:.0%}" if verdict.share is not None else ""
    interval = (f" (95% CI {verdict.interval[0]:.0%}-{verdict.interval[1]:.0%})"
                if verdict.interval else "")
    window = (f"sent since {verdict.window_start:%Y-%m-%d %H:%M %Z}"
              if verdict.window_start else "the whole run")
    extra = [f"{verdict.pending} pending"] if verdict.pending else []
    if verdict.muted:
        extra.append(f"{verdict.muted} in maintenance left out")
    more = f"; {', '.join(extra)}" if extra else ""
    straddle = ("; the interval straddles the target"
                if verdict.straddles and verdict.status != "insufficient" else "")
    return (f"{verdict.good}/{verdict.decided}{share}{interval} {verdict.indicator}, "
            f"{window}{more}; {verdict.reason}{straddle}")


def details(verdict: Verdict, limit: int = 20) -> str:
    """The evidence, the rule, any early warning and the bad probes (the first ``limit``)."""
    lines = [evidence(verdict), f"rule: {verdict.rule}", f"judged at {verdict.at.isoformat()}"]
    if verdict.warning:
        lines.append(f"early warning: {verdict.warning}")
    if verdict.bad_probes:
        shown = ", ".join(verdict.bad_probes[:limit])
        more = f" and {len(verdict.bad_probes) - limit} more" if len(verdict.bad_probes) > limit \
            else ""
        lines.append(f"not good: {shown}{more}")
    return "\n".join(lines)


def junit_xml(run: str, verdicts: Sequence[Verdict], *, simulated: bool, seed: str) -> str:
    """JUnit XML as Jenkins' junit-10.xsd, GitLab and GitHub test reporters read it."""
    failures = sum(1 for v in verdicts if not v.passed)
    suites = ET.Element("testsuites", name="shopper check", tests=str(len(verdicts)),
                        failures=str(failures), errors="0", time="0")
    at = verdicts[0].at if verdicts else None
    suite = ET.SubElement(suites, "testsuite", name=run, tests=str(len(verdicts)),
                          failures=str(failures), errors="0", skipped="0", time="0",
                          hostname=socket.gethostname(),
                          timestamp=at.strftime("%Y-%m-%dT%H:%M:%S") if at else "")
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="simulated", value=str(simulated).lower())
    if simulated:
        ET.SubElement(properties, "property", name="seed", value=seed)
    if at is not None:
        ET.SubElement(properties, "property", name="judged_at", value=at.isoformat())
    for verdict in verdicts:
        case = ET.SubElement(suite, "testcase", classname=verdict.objective, name=verdict.brand,
                             time="0")
        if not verdict.passed:
            failure = ET.SubElement(case, "failure", type=verdict.status,
                                    message=f"{verdict.status}: {evidence(verdict)}")
            failure.text = details(verdict)
        else:
            ET.SubElement(case, "system-out").text = details(verdict)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, "unicode") + "\n"


def _cell(text: str) -> str:
    """Text safe in a Markdown table cell: no pipes, line breaks or HTML."""
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("|", "\\|").replace("\n", " "))


def markdown(title: str, verdicts: Sequence[Verdict], *, simulated: bool, seed: str) -> str:
    """A Markdown summary: the overall result, then one row per objective and brand."""
    failing = [v for v in verdicts if not v.passed]
    head = "all objectives pass" if not failing else (
        f"{len(failing)} of {len(verdicts)} objective checks do not pass")
    lines = [f"## {_cell(title)}: {head}", ""]
    if simulated:
        lines += [f"**{SIMULATED_NOTE} (seed {_cell(seed)}).**", ""]
    if verdicts:
        lines.append(f"Judged at {verdicts[0].at.isoformat()}.")
        lines.append("")
    lines += ["| objective | brand | result | good/decided | 95% CI | target | why |",
              "|---|---|---|---:|---:|---:|---|"]
    for v in verdicts:
        ci = f"{v.interval[0]:.0%}-{v.interval[1]:.0%}" if v.interval else "-"
        mark = {"pass": "✅ pass", "fail": "❌ fail", "insufficient": "⚠️ insufficient"}[v.status]
        why = v.reason + ("; interval straddles the target"
                          if v.straddles and v.status != "insufficient" else "")
        if v.warning:
            why += f"; early warning: {v.warning}"
        lines.append(f"| {_cell(v.objective)} | {_cell(v.brand)} | {mark} | "
                     f"{v.good}/{v.decided} | {ci} | {v.target:.0%} | {_cell(why)} |")
    return "\n".join(lines) + "\n"


def _command_property(text: str) -> str:
    return (text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
            .replace(":", "%3A").replace(",", "%2C"))


def _command_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def github_annotations(verdicts: Sequence[Verdict], file: str = "") -> list[str]:
    """One workflow command per verdict that does not pass (``::error`` for a failure,
    ``::warning`` for insufficient or an early warning), as GitHub Actions reads them."""
    lines = []
    where = f"file={_command_property(file)}," if file else ""
    for v in verdicts:
        level = "error" if v.status == "fail" else "warning"
        if v.passed and not v.warning:
            continue
        title = _command_property(f"{v.objective} ({v.brand}): {v.status}")
        message = evidence(v) if not v.passed else f"early warning: {v.warning}"
        lines.append(f"::{level} {where}title={title}::{_command_data(message)}")
    return lines
