"""A task's result, one row per household: for the progress page's lists and
for the CSV/XLSX export.

Read-only. The caller passes the scope (``scope.scope_paths``) so a grid
member exports only their grid's part of a village-wide task.
"""

from __future__ import annotations

import csv
import io

from flask_babel import format_datetime
from flask_babel import gettext as _
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from village_grid.auth import scope
from village_grid.models import Assignment, Household, Task, TaskTeam, Unit, User
from village_grid.tasks.forms import DONE_LABEL, HELP_LABELS, STATUS_LABELS, VIA_LABELS

# Columns of the export, in order: (key, header).
COLUMNS = [
    ("code", "Household code"),
    ("grid", "Grid"),
    ("team", "Team"),
    ("lead", "Team lead"),
    ("lead_phone", "Lead phone"),
    ("head", "Head of household"),
    ("door_no", "Door no."),
    ("phone", "Household phone"),
    ("status", "Status"),
    ("help_kind", "Kind of help"),
    ("note", "Note"),
    ("updated_at", "Last update"),
    ("via", "Via"),
]


def _headers() -> list[str]:
    labels = {
        "Household code": _("Household code"),
        "Grid": _("Grid"),
        "Team": _("Team"),
        "Team lead": _("Team lead"),
        "Lead phone": _("Lead phone"),
        "Head of household": _("Head of household"),
        "Door no.": _("Door no."),
        "Household phone": _("Household phone"),
        "Status": _("Status"),
        "Kind of help": _("Kind of help"),
        "Note": _("Note"),
        "Last update": _("Last update"),
        "Via": _("Via"),
    }
    return [labels[h] for _key, h in COLUMNS]


def scope_condition(paths: list[str] | None, path_column):
    """SQL condition for "inside one of ``paths``" (``None``: everywhere)."""
    if paths is None:
        return None
    if not paths:
        return Unit.id.is_(None) if path_column is None else path_column.is_(None)
    return or_(*(scope.subtree_clause(path_column, p) for p in paths))


def household_rows(
    session: Session,
    task: Task,
    *,
    paths: list[str] | None = None,
    statuses: tuple[str, ...] | None = None,
    limit: int | None = None,
) -> list[dict]:
    """The task's households with status, team, lead and the lead's phone.

    ``paths`` restricts to subtrees (the viewer's scope); ``statuses`` to some
    statuses. Ordered by grid, team and household code.
    """
    team = aliased(Unit)
    grid = aliased(Unit)
    lead = aliased(User)
    q = (
        select(
            Assignment.household_id,
            Assignment.status,
            Assignment.help_kind,
            Assignment.note,
            Assignment.updated_at,
            Assignment.updated_via,
            Household.code,
            Household.door_no,
            Household.head_name,
            Household.phone,
            team.id,
            team.name,
            grid.name,
            lead.name,
            lead.username,
            lead.phone,
            TaskTeam.assignee_role,
        )
        .join(Household, Household.id == Assignment.household_id)
        .join(team, team.id == Assignment.team_id)
        .outerjoin(grid, grid.id == team.parent_id)
        .outerjoin(
            TaskTeam, and_(TaskTeam.task_id == Assignment.task_id, TaskTeam.team_id == team.id)
        )
        .outerjoin(lead, lead.id == TaskTeam.assignee_id)
        .where(Assignment.task_id == task.id)
        .order_by(team.path, Household.code)
    )
    cond = scope_condition(paths, team.path)
    if cond is not None:
        q = q.where(cond)
    if statuses:
        q = q.where(Assignment.status.in_(statuses))
    if limit is not None:
        q = q.limit(limit)
    rows = []
    for r in session.execute(q):
        rows.append(
            {
                "household_id": r[0],
                "status": r[1],
                "help_kind": r[2] or "",
                "note": r[3] or "",
                "updated_at": r[4],
                "via": r[5] or "",
                "code": r[6],
                "door_no": r[7] or "",
                "head": r[8],
                "phone": r[9] or "",
                "team_id": r[10],
                "team": r[11],
                "grid": r[12] or "",
                "lead": r[13] or r[14] or "",
                "lead_phone": r[15] or "",
                "lead_role": r[16] or "",
            }
        )
    return rows


def count_rows(
    session: Session,
    task: Task,
    *,
    paths: list[str] | None = None,
    statuses: tuple[str, ...] | None = None,
) -> int:
    team = aliased(Unit)
    q = (
        select(func.count())
        .select_from(Assignment)
        .join(team, team.id == Assignment.team_id)
        .where(Assignment.task_id == task.id)
    )
    cond = scope_condition(paths, team.path)
    if cond is not None:
        q = q.where(cond)
    if statuses:
        q = q.where(Assignment.status.in_(statuses))
    return session.scalar(q) or 0


def _label(mapping: dict, key: str) -> str:
    return str(mapping[key]) if key in mapping else key


def display_row(row: dict, task: Task) -> list[str]:
    """One export row as text in the user's language."""
    status = row["status"]
    if status == "safe" and task.kind in ("campaign", "survey"):
        status_text = str(DONE_LABEL)
    else:
        status_text = _label(STATUS_LABELS, status)
    values = {
        **row,
        "status": status_text,
        "help_kind": _label(HELP_LABELS, row["help_kind"]) if row["help_kind"] else "",
        "via": _label(VIA_LABELS, row["via"]) if row["via"] else "",
        "updated_at": format_datetime(row["updated_at"], "yyyy-MM-dd HH:mm")
        if row["updated_at"]
        else "",
    }
    return [_safe_cell(str(values[key] or "")) for key, _h in COLUMNS]


def _safe_cell(value: str) -> str:
    """Keep a spreadsheet from running a cell as a formula (CSV injection)."""
    if value and value[0] in "=+-@\t\r":
        return "'" + value
    return value


def to_csv(rows: list[dict], task: Task) -> bytes:
    """UTF-8 with a byte-order mark, so Excel on a Chinese Windows opens it right."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(_headers())
    for row in rows:
        writer.writerow(display_row(row, task))
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def to_xlsx(rows: list[dict], task: Task) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = _("Result")[:31]
    ws.append([task.title])
    ws["A1"].font = Font(bold=True, size=13)
    ws.append(_headers())
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append(display_row(row, task))
    widths = [14, 12, 12, 10, 14, 10, 10, 14, 10, 10, 30, 17, 10]
    for i, w in enumerate(widths):
        ws.column_dimensions[chr(ord("A") + i)].width = w
    ws.freeze_panes = "A3"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
