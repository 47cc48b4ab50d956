"""Writing records as CSV and JSON: for exports, plans and reports."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from typing import Any, TextIO


def write_csv(records: Sequence[dict[str, Any]], fields: Sequence[str], out: TextIO) -> None:
    """Records as CSV with a header row (booleans as true/false, missing as empty)."""
    writer = csv.DictWriter(out, fieldnames=list(fields), lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({k: _csv_value(record.get(k)) for k in fields})


def _csv_value(value: object) -> object:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else value


def write_json(data: object, out: TextIO) -> None:
    """Pretty, stable JSON (keys in the order given, UTF-8 kept as is)."""
    json.dump(data, out, indent=2, ensure_ascii=False)
    out.write("\n")
