"""A task's result as a file, one row per household: CSV or XLSX (which also has
the full per-unit table, every unit the task reached in tree order: the API and the
page answer one level at a time).

The rows come from ``progress.household_rows`` (the one query for "the
households of a task"); the caller passes the viewer's scope so a grid member
exports only their grid's part of a village-wide task.
"""

from __future__ import annotations

import csv
import io

from flask_babel import format_datetime
from flask_babel import lazy_gettext as _l

from village_grid.models import Task
from village_grid.spreadsheets import spreadsheet_cell
from village_grid.tasks.labels import HELP_LABELS, VIA_LABELS, status_label

# Columns of the export, in order: (key of the household row, header).
COLUMNS = [
    ("code", _l("Household code")),
    ("grid_name", _l("Grid")),
    ("team_name", _l("Team")),
    ("responsible_name", _l("Team lead")),
    ("responsible_phone", _l("Lead phone")),
    ("head_name", _l("Head of household")),
    ("door_no", _l("Door no.")),
    ("phone", _l("Household phone")),
    ("status", _l("Status")),
    ("help_kind", _l("Kind of help")),
    ("note", _l("Note")),
    ("updated_at", _l("Last update")),
    ("updated_via", _l("Via")),
]
COLUMN_WIDTHS = [14, 12, 12, 10, 14, 10, 10, 14, 10, 10, 30, 17, 10]


def _headers() -> list[str]:
    return [str(header) for _key, header in COLUMNS]


def display_row(row: dict, task: Task) -> list[str]:
    """One export row as text in the user's language."""
    values = {
        **row,
        "status": status_label(row["status"], task.kind),
        "help_kind": str(HELP_LABELS.get(row["help_kind"], row["help_kind"])),
        "updated_via": str(VIA_LABELS.get(row["updated_via"], row["updated_via"])),
        "updated_at": format_datetime(row["updated_at"], "yyyy-MM-dd HH:mm")
        if row["updated_at"]
        else "",
    }
    # No cell runs as a formula when the file is opened (village_grid/spreadsheets.py).
    return [spreadsheet_cell(str(values[key] or "")) for key, _h in COLUMNS]


def to_csv(rows: list[dict], task: Task) -> bytes:
    """UTF-8 with a byte-order mark, so Excel on a Chinese Windows opens it right."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(_headers())
    for row in rows:
        writer.writerow(display_row(row, task))
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


# Columns of the per-unit sheet: (key of a progress unit, header).
UNIT_COLUMNS = [
    ("name", _l("Unit")),
    ("total", _l("Households")),
    ("covered", _l("Reached")),
    ("safe", _l("Safe")),
    ("needs_help", _l("Needs help")),
    ("not_home", _l("Not at home")),
    ("unreachable", _l("Unreachable")),
    ("pending", _l("Not reached yet")),
]


def to_xlsx(rows: list[dict], task: Task, units: list[dict] | None = None) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = str(_l("Result"))[:31]
    ws.append([spreadsheet_cell(task.title)])
    ws["A1"].font = Font(bold=True, size=13)
    ws.append(_headers())
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append(display_row(row, task))
    for i, width in enumerate(COLUMN_WIDTHS):
        ws.column_dimensions[chr(ord("A") + i)].width = width
    ws.freeze_panes = "A3"
    if units:
        by_unit = wb.create_sheet(str(_l("By unit"))[:31])
        by_unit.append([str(header) for _key, header in UNIT_COLUMNS])
        for cell in by_unit[1]:
            cell.font = Font(bold=True)
        top = min(u["depth"] for u in units)
        for u in units:
            name = "　" * (u["depth"] - top) + u["name"]
            values = {**u, "name": name, "covered": u["total"] - u["pending"]}
            by_unit.append([spreadsheet_cell(values[key]) for key, _h in UNIT_COLUMNS])
        by_unit.column_dimensions["A"].width = 24
        by_unit.freeze_panes = "A2"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
