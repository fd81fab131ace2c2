"""Reading a registry file: CSV (UTF-8 or GBK) or XLSX bytes into rows keyed by column.

Only the file is checked here (type, encoding, header, size of rows and cells);
what the cells say is checked by the import (:mod:`.importing`). A file that
cannot be read at all raises :class:`ImportRejected` at once. Every cell loses
the quote an export put before text a spreadsheet would run as a formula
(:func:`village_grid.spreadsheets.spreadsheet_value`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field

from flask_babel import gettext as _

from village_grid.hierarchy.registry.columns import REQUIRED_COLUMNS, column_for_header, heading
from village_grid.hierarchy.registry.rejections import ImportRejected, problem
from village_grid.spreadsheets import spreadsheet_value

MAX_CELL = 2000
MAX_ROWS = 200_000


@dataclass
class Row:
    """One line of the file below the header: its cells by column key, and the
    problems already found in it (a cell too long, a value without a header).
    ``short``: the line has fewer cells than the header, so its cells cannot be
    trusted to be in their columns; its one problem says so."""

    line: int
    values: dict[str, str]
    errors: list[dict] = field(default_factory=list)
    short: bool = False


def _unreadable_xlsx() -> ImportRejected:
    return ImportRejected.whole_file(
        "corrupt_xlsx",
        _("The Excel file is damaged or not an .xlsx workbook; open and save it again."),
    )


def _decode_csv(data: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030 (which covers GBK, what Chinese Excel writes)."""
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8")
        except UnicodeDecodeError:
            pass
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ImportRejected.whole_file(
            "bad_encoding",
            _("The file is in UTF-16 (Excel “Unicode text”). Save it as “CSV UTF-8” or as .xlsx."),
        )
    else:
        for encoding in ("utf-8", "gb18030"):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                continue
    raise ImportRejected.whole_file(
        "bad_encoding",
        _("The file is neither UTF-8 nor GBK text. Save it from Excel as “CSV UTF-8” or as .xlsx."),
    )


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else ""
    if isinstance(value, float) and value.is_integer():
        # A phone number or door number Excel stored as a number.
        return str(int(value))
    return str(value).strip()


def _lines(text: str) -> Iterator[str]:
    """The text's lines, each with its line break, one at a time (an ``io.StringIO`` of a
    county's file would hold another copy of it, four bytes a character)."""
    start, n = 0, len(text)
    while start < n:
        end = text.find("\n", start)
        if end < 0:
            yield text[start:]
            return
        yield text[start : end + 1]
        start = end + 1


def _csv_records(text: str) -> Iterator[tuple[int, list[str]]]:
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first and "," not in first else ","
    reader = csv.reader(_lines(text), delimiter=delimiter)
    for number, record in enumerate(reader, start=1):
        yield number, [c.strip() for c in record]


def _xlsx_records(data: bytes) -> tuple[Iterator[tuple[int, list[str]]], int]:
    """The sheet's rows one at a time (a county's roster is not held whole), and how
    many rows the sheet says it has."""
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
        estimate = sheet.max_row or 0
    except Exception:  # openpyxl raises many kinds for a broken file
        raise _unreadable_xlsx() from None

    def records() -> Iterator[tuple[int, list[str]]]:
        try:
            for number, record in enumerate(sheet.iter_rows(values_only=True), start=1):
                yield number, [_cell_text(c) for c in record]
        except ImportRejected:
            raise
        except Exception:
            raise _unreadable_xlsx() from None
        finally:
            workbook.close()

    return records(), estimate


def _records(filename: str, data: bytes) -> tuple[Iterator[tuple[int, list[str]]], bool, int]:
    """(line, cells) for every line of the file, header first, one at a time; whether a
    line shorter than the header has lost cells (a text line has: every separator is
    written; a workbook row has not: a sheet stores no empty cells at a row's end); and
    about how many lines there are (for a progress bar)."""
    name = (filename or "").lower().rsplit("/", 1)[-1]
    ext = name.rsplit(".", 1)[-1] if "." in name else ""
    if not data or not data.strip():
        raise ImportRejected.whole_file("empty_file", _("The file is empty."))
    if data.startswith(b"PK\x03\x04"):
        records, estimate = _xlsx_records(data)
        return records, False, estimate
    if data.startswith(b"\xd0\xcf\x11\xe0") or ext == "xls":
        raise ImportRejected.whole_file(
            "wrong_file_type",
            _("Old Excel files (.xls) cannot be read; save it as .xlsx or CSV."),
        )
    if ext in ("xlsx", "xlsm"):
        raise _unreadable_xlsx()
    if ext not in ("csv", "txt"):
        raise ImportRejected.whole_file(
            "wrong_file_type",
            _("Upload a .csv or .xlsx file (this one is “%(name)s”).", name=name[:60]),
        )
    text = _decode_csv(data)
    if "\x00" in text:
        raise ImportRejected.whole_file(
            "wrong_file_type", _("This is not a text file; upload a .csv or .xlsx file.")
        )
    return _checked_csv(text), True, text.count("\n") + 1


def _checked_csv(text: str) -> Iterator[tuple[int, list[str]]]:
    try:
        yield from _csv_records(text)
    except csv.Error as exc:
        raise ImportRejected.whole_file(
            "bad_csv", _("The CSV file is malformed: %(e)s.", e=str(exc)[:100])
        ) from None


def _header_columns(header_line: int, header: list[str]) -> list[str | None]:
    """The column key of each header cell (None: a blank header cell). Raises
    :class:`ImportRejected` for unknown, repeated or missing columns."""
    errors: list[dict] = []
    columns: list[str | None] = []
    seen: dict[str, str] = {}
    for title in header:
        if not title:
            columns.append(None)
            continue
        key = column_for_header(title)
        if key is None:
            errors.append(
                problem(
                    header_line,
                    "unknown_header",
                    _("Unknown column “%(h)s”.", h=title[:40]),
                    title[:40],
                )
            )
        elif key in seen:
            errors.append(
                problem(
                    header_line,
                    "duplicate_header",
                    _("Column “%(h)s” appears twice.", h=title[:40]),
                    key,
                )
            )
        else:
            seen[key] = title
        columns.append(key)
    for key in REQUIRED_COLUMNS:
        if key not in seen:
            errors.append(
                problem(
                    header_line,
                    "missing_column",
                    _("The column “%(h)s” is missing.", h=heading(key)),
                    key,
                )
            )
    if errors:
        raise ImportRejected(errors)
    return columns


def _short_row(line: int, cells: list[str], width: int) -> Row:
    """A line with fewer cells than the header: a lost separator shifts every cell
    after it into the wrong column, so nothing in it is read."""
    reason = _(
        "This line has %(n)s cells but the header has %(m)s: a cell or a separator "
        "is missing. Fill in the missing cells (empty ones too) and import again.",
        n=len(cells),
        m=width,
    )
    return Row(line=line, values={}, errors=[problem(line, "short_row", reason, "")], short=True)


def _row(line: int, cells: list[str], columns: list[str | None]) -> Row:
    row = Row(line=line, values={})
    values = row.values
    width = len(columns)
    for i, cell in enumerate(cells):
        value = spreadsheet_value(cell) if cell[:1] == "'" else cell
        key = columns[i] if i < width else None
        if key is None:
            if value:
                row.errors.append(
                    problem(
                        line,
                        "extra_cell",
                        _("Value “%(v)s” is in a column without a header.", v=value[:30]),
                        "",
                    )
                )
            continue
        if len(value) > MAX_CELL:
            row.errors.append(
                problem(
                    line,
                    "too_long",
                    _(
                        "Column “%(h)s” is longer than %(n)s characters.",
                        h=heading(key),
                        n=MAX_CELL,
                    ),
                    key,
                )
            )
            continue
        values[key] = value
    return row


class RowReader:
    """The rows of a registry file below its header, one at a time, blank lines
    skipped. Opening it reads the header: a file that cannot be read, or whose header
    is wrong, raises :class:`ImportRejected` at once; iterating raises it for a file
    with no rows or too many. ``estimate``: about how many rows (a progress bar's end)."""

    def __init__(self, filename: str, data: bytes):
        records, self.whole_lines, estimate = _records(filename, data)
        self._records = (r for r in records if any(r[1]))
        first = next(self._records, None)
        if first is None:
            raise ImportRejected.whole_file("empty_file", _("The file is empty."))
        header_line, header = first
        self.columns = _header_columns(header_line, header)
        self.estimate = max(0, estimate - header_line)
        # The header's width: up to its last named column (blank cells after it do not count).
        self.width = max(
            (i + 1 for i, key in enumerate(self.columns) if key is not None), default=0
        )
        self.count = 0

    def __iter__(self) -> Iterator[Row]:
        for line, cells in self._records:
            self.count += 1
            if self.count > MAX_ROWS:
                raise ImportRejected.whole_file(
                    "too_many_rows", _("At most %(n)s rows per file; split the file.", n=MAX_ROWS)
                )
            if self.whole_lines and len(cells) < self.width:
                yield _short_row(line, cells, self.width)
            else:
                yield _row(line, cells, self.columns)
        if not self.count:
            raise ImportRejected.whole_file(
                "no_rows", _("The file has a header but no households.")
            )


def read_rows(filename: str, data: bytes) -> list[Row]:
    """Every row of a registry file at once (:class:`RowReader`, for small files)."""
    return list(RowReader(filename, data))
