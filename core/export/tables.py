"""Tables to files: the one writer of every CSV and JSON table PhotoTagger hands out.

CSV follows RFC 4180 through the csv module (the ``excel`` dialect: commas,
quotes doubled, CRLF line ends), in UTF-8 with a byte-order mark so that
spreadsheet programs read accents right. A text cell a spreadsheet would take
for a formula (it starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return) gets a leading apostrophe, so a tag or a file name can never run as
one; numbers stay numbers. JSON is UTF-8 as written, not escaped. Every file is
replaced atomically (:mod:`core.atomic`): a failure half-way keeps the old one.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Literal

from core.atomic import replacing

TableFormat = Literal["csv", "json"]
TABLE_FORMATS: tuple[TableFormat, ...] = ("csv", "json")

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet reads as the start of a formula (OWASP's CSV injection list)."""


def safe_cell(value: str) -> str:
    """Neutralise a cell a spreadsheet would evaluate as a formula."""
    return "'" + value if value.startswith(FORMULA_START) else value


def csv_cell(value: object) -> object:
    """A value as a CSV cell: text made formula-safe, None empty, numbers as they are."""
    if value is None:
        return ""
    if isinstance(value, str):
        return safe_cell(value)
    return value


def write_csv_table(
    rows: Iterable[Mapping[str, object]], path: Path, *, columns: Sequence[str]
) -> int:
    """Write ``rows`` (one mapping per row, keyed by column) as CSV; returns how many.

    The header is ``columns``; a row's keys outside them are left out and a
    missing one is an empty cell. Rows are written as they come, so a generator
    that fails half-way leaves the old file in place. No columns, no header.
    """
    count = 0
    with replacing(Path(path), encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh, dialect="excel")
        if columns:
            writer.writerow([csv_cell(c) for c in columns])
        for row in rows:
            writer.writerow([csv_cell(row.get(c)) for c in columns])
            count += 1
    return count


def write_json_table(
    rows: Iterable[Mapping[str, object]], path: Path, *, columns: Sequence[str] | None = None
) -> int:
    """Write ``rows`` as a JSON list of objects; returns how many.

    With ``columns``, each object has those keys in that order (None where a row
    lacks one); without, rows are written as they are. Values may nest.
    """
    items = [dict(row) if columns is None else {c: row.get(c) for c in columns} for row in rows]
    text = json.dumps(items, ensure_ascii=False, indent=1)  # one write, not one per token
    with replacing(Path(path), encoding="utf-8") as fh:
        fh.write(text)
    return len(items)


def write_table(
    rows: Iterable[Mapping[str, object]],
    path: Path,
    *,
    columns: Sequence[str],
    fmt: TableFormat,
) -> int:
    """Write ``rows`` as CSV or JSON (see :func:`write_csv_table`, :func:`write_json_table`)."""
    if fmt == "csv":
        return write_csv_table(rows, path, columns=columns)
    if fmt == "json":
        return write_json_table(rows, path, columns=columns)
    raise ValueError(f"unknown table format {fmt!r}; use one of {', '.join(TABLE_FORMATS)}")
