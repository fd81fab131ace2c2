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
from typing import IO, TypeVar

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


class TableWriter:
    """A table written a row at a time into ``out`` (a binary file), never held whole:
    CSV (UTF-8 with a byte-order mark, so Excel on a Chinese Windows opens it right;
    CRLF lines) or XLSX in openpyxl's write-only mode (each sheet's rows go to a
    temporary file as they come; :meth:`close` zips them into ``out``).

    Cells are written as given: make them safe with :func:`spreadsheet_cell` first. A
    CSV has one table: a second :meth:`sheet` ends the file's rows (it is skipped)."""

    def __init__(self, fmt: str, out: IO[bytes]):
        if fmt not in MIMETYPES:
            raise ValueError(f"unknown table format {fmt!r}")
        self.fmt, self.out = fmt, out
        self.rows = 0
        self._sheets = 0
        self._csv = None
        self._text: io.TextIOWrapper | None = None
        self._book = self._ws = None
        if fmt == "xlsx":
            import openpyxl

            self._book = openpyxl.Workbook(write_only=True)

    def sheet(
        self,
        name: str,
        headers: list[str],
        *,
        title: str | None = None,
        widths: list[int] | None = None,
        freeze: str | None = None,
    ) -> None:
        """Start a sheet: an optional title line (XLSX only, bold), then ``headers``."""
        self._sheets += 1
        if self.fmt == "csv":
            if self._sheets == 1:
                self.out.write(b"\xef\xbb\xbf")
                self._text = io.TextIOWrapper(self.out, encoding="utf-8", newline="")
                self._csv = csv.writer(self._text, lineterminator="\r\n")
                self._csv.writerow(headers)
            return
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Font

        ws = self._ws = self._book.create_sheet(name[:31])
        for i, width in enumerate(widths or ()):
            ws.column_dimensions[chr(ord("A") + i)].width = width
        if freeze:
            ws.freeze_panes = freeze
        if title is not None:
            cell = WriteOnlyCell(ws, title)
            cell.font = Font(bold=True, size=13)
            ws.append([cell])
        bold = Font(bold=True)
        if title is not None or widths:  # a styled sheet: bold headers
            cells = []
            for h in headers:
                cell = WriteOnlyCell(ws, h)
                cell.font = bold
                cells.append(cell)
            ws.append(cells)
        else:
            ws.append(headers)

    def row(self, cells: list) -> None:
        if self.fmt == "csv":
            if self._sheets == 1:
                self._csv.writerow(cells)
                self.rows += 1
            return
        self._ws.append(cells)
        self.rows += 1

    def close(self) -> None:
        """Finish the file (``out`` stays open)."""
        if self._text is not None:
            self._text.flush()
            self._text.detach()
            self._text = None
        elif self._book is not None:
            self._book.save(self.out)
            self._book = None


def write_table(
    fmt: str, out: IO[bytes], sheet: str, headers: list[str], rows: Iterable[list]
) -> int:
    """A header line and ``rows`` (cells already made safe) written into ``out`` as they
    come (:class:`TableWriter`); how many rows."""
    writer = TableWriter(fmt, out)
    writer.sheet(sheet, headers)
    for line in rows:
        writer.row(line)
    writer.close()
    return writer.rows


def table_file(fmt: str, sheet: str, headers: list[str], rows: Iterable[list]) -> bytes:
    """:func:`write_table` into bytes (a small table)."""
    buf = io.BytesIO()
    write_table(fmt, buf, sheet, headers, rows)
    return buf.getvalue()
