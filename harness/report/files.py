"""Writing records as CSV and JSON: for exports, plans and reports."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from typing import Any, TextIO

_FORMULA = re.compile(r"'*[=+\-@\t\r]")
"""Text a spreadsheet could take for a formula (OWASP's list: = + - @ tab and carriage return
first), also behind apostrophes already there, so that the guard can be undone exactly."""


def write_csv(records: Sequence[dict[str, Any]], fields: Sequence[str], out: TextIO) -> None:
    """Records as CSV with a header row (booleans as true/false, missing as empty).

    Text is untrusted (message templates, industries and, through them, whatever a scenario's
    author wrote): a text cell that a spreadsheet would read as a formula (it starts with
    ``=``, ``+``, ``-``, ``@``, a tab or a carriage return, possibly after apostrophes) gets
    one more apostrophe in front, which spreadsheets show as text. Numbers are untouched.
    Removing one leading apostrophe from every cell that starts with apostrophes followed by
    one of those characters gives the text back exactly (or use JSON, which has no guard).
    """
    # Rows end with "\n"; the writer is told "\r\n" so that it quotes a cell holding either
    # character (told "\n", it would leave a lone carriage return bare, and readers would
    # see a new row there).
    line = io.StringIO()
    writer = csv.DictWriter(line, fieldnames=list(fields), lineterminator="\r\n")
    rows: list[dict[str, object]] = [dict(zip(fields, fields, strict=True))]
    rows += ({k: _csv_value(record.get(k)) for k in fields} for record in records)
    for row in rows:
        line.seek(0)
        line.truncate()
        writer.writerow(row)
        out.write(line.getvalue()[:-2] + "\n")


def _csv_value(value: object) -> object:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and _FORMULA.match(value):
        return "'" + value
    return "" if value is None else value


def json_text(data: object) -> str:
    """Pretty, stable, strict JSON (RFC 8259: keys in the order given, UTF-8 kept as is). A
    NaN or an infinity is a bug upstream (an undefined statistic is ``None`` with a reason),
    so it raises here rather than writing a file other tools refuse."""
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_json(data: object, out: TextIO) -> None:
    """:func:`json_text` of ``data``, written to ``out``."""
    out.write(json_text(data))
