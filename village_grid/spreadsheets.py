"""Cells a spreadsheet must not run: the one rule every export writes and the import undoes.

A cell whose text starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is run as a formula by Excel, WPS and LibreOffice when the file is
opened (CSV injection: ``=HYPERLINK("http://…";"click")`` in a head of
household's name). As OWASP describes, such a cell is written with a single
quote in front, which makes it text.

The rule is reversible, so an exported registry imports back unchanged: a cell
that already starts with a quote followed by one of those characters or by
another quote gets one more quote on export, and the importer takes exactly
one quote off a cell that starts with a quote followed by one of them. Any
other cell — ``'Tis`` or ``O'Brien`` — passes both ways untouched.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import TypeVar

# What an export is sent as. Werkzeug adds "; charset=utf-8" to a text type itself
# (naming it here too sent it twice).
MIMETYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

# What makes a spreadsheet read a cell as a formula (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"

V = TypeVar("V")


def spreadsheet_cell(value: V) -> V | str:
    """The value to write into an exported cell: text that would run as a formula
    gets a leading single quote. Numbers, dates and None are written as they are."""
    if not isinstance(value, str) or not value:
        return value
    if value.startswith(FORMULA_STARTS) or (
        value[0] == QUOTE and value[1:2] and value[1] in (*FORMULA_STARTS, QUOTE)
    ):
        return QUOTE + value
    return value


def spreadsheet_value(cell: str) -> str:
    """The inverse of :func:`spreadsheet_cell`, for a cell read from an imported file."""
    if cell[:1] == QUOTE and cell[1:2] and cell[1] in (*FORMULA_STARTS, QUOTE):
        return cell[1:]
    return cell


def table_file(fmt: str, sheet: str, headers: list[str], rows: Iterable[list]) -> bytes:
    """A header line and ``rows`` (cells already made safe) as a file: CSV (UTF-8 with a
    byte-order mark, so Excel on a Chinese Windows opens it right; CRLF lines) or XLSX
    (one sheet named ``sheet``)."""
    if fmt == "csv":
        out = io.StringIO(newline="")
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(headers)
        writer.writerows(rows)
        return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")
    import openpyxl

    workbook = openpyxl.Workbook(write_only=True)
    ws = workbook.create_sheet(sheet)
    ws.append(headers)
    for line in rows:
        ws.append(line)
    buf = io.BytesIO()
    workbook.save(buf)
    return buf.getvalue()
