"""A task's result as a file, one row per household: CSV or XLSX (which also has
the full per-unit table, every unit the task reached in tree order: the API and the
page answer one level at a time).

The rows come from :func:`rows` (``membership.members``, the one source of "the
households of a task", with their team, grid and the person told), read as they
come and written one at a time
(``spreadsheets.TableWriter``): a district's million households never sit in memory.
The viewer's scope narrows them, so a grid member exports only their grid's part of
a village-wide task. The export is a file kind (``village_grid/files``): more than
``FILES_JOB_HOUSEHOLDS`` households and the worker makes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import IO

from flask_babel import format_datetime
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from village_grid.auth import scope
from village_grid.files import kinds
from village_grid.models import Household, Task, TaskTeam, Unit, User
from village_grid.models.base import utcnow
from village_grid.spreadsheets import TableWriter, spreadsheet_cell
from village_grid.tasks import membership, queries
from village_grid.tasks import progress as progress_counts
from village_grid.tasks.labels import HELP_LABELS, STATUSES, VIA_LABELS, status_label

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
KEYS = [key for key, _header in COLUMNS]
STATUS, HELP, VIA, WHEN = (
    KEYS.index(k) for k in ("status", "help_kind", "updated_via", "updated_at")
)
FORMATS = ("csv", "xlsx")


def _headers() -> list[str]:
    return [str(header) for _key, header in COLUMNS]


class RowText:
    """Export rows as text in the user's language. The words of a status, a kind of
    help and a way are looked up once, and a time once per minute: a million rows
    would otherwise spend most of their time in the translation and date code."""

    def __init__(self, task: Task):
        self.status = {s: status_label(s, task.kind) for s in STATUSES}
        self.help = {k: str(v) for k, v in HELP_LABELS.items()}
        self.via = {k: str(v) for k, v in VIA_LABELS.items()}
        self._times: dict = {}

    def when(self, at) -> str:
        if not at:
            return ""
        minute = at.replace(second=0, microsecond=0)
        text = self._times.get(minute)
        if text is None:
            if len(self._times) > 50_000:
                self._times.clear()
            text = self._times[minute] = format_datetime(at, "yyyy-MM-dd HH:mm")
        return text

    def __call__(self, row: dict) -> list[str]:
        values = [row[key] for key in KEYS]
        values[STATUS] = self.status.get(values[STATUS], values[STATUS])
        values[HELP] = self.help.get(values[HELP], values[HELP])
        values[VIA] = self.via.get(values[VIA], values[VIA])
        values[WHEN] = self.when(values[WHEN])
        # No cell runs as a formula when the file is opened (village_grid/spreadsheets.py).
        return [spreadsheet_cell(str(v or "")) for v in values]


def display_row(row: dict, task: Task) -> list[str]:
    """One export row as text in the user's language."""
    return RowText(task)(row)


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


def write(
    out: IO[bytes],
    fmt: str,
    task: Task,
    rows: Iterable[dict],
    units: list[dict] | None = None,
    progress: kinds.Progress = lambda _done: None,
) -> int:
    """The export written into ``out`` as the rows come; how many households. CSV: UTF-8
    with a byte-order mark, so Excel on a Chinese Windows opens it right. XLSX: the
    task's title, the rows, then the per-unit sheet (``units``)."""
    writer = TableWriter(fmt, out)
    writer.sheet(
        str(_l("Result")),
        _headers(),
        title=spreadsheet_cell(task.title) if fmt == "xlsx" else None,
        widths=COLUMN_WIDTHS if fmt == "xlsx" else None,
        freeze="A3" if fmt == "xlsx" else None,
    )
    text = RowText(task)
    n = 0
    for row in rows:
        writer.row(text(row))
        n += 1
        if not n % 5000:
            progress(n)
    if fmt == "xlsx" and units:
        writer.sheet(
            str(_l("By unit")),
            [str(header) for _key, header in UNIT_COLUMNS],
            widths=[24],
            freeze="A2",
        )
        top = min(u["depth"] for u in units)
        for u in units:
            name = "　" * (u["depth"] - top) + u["name"]
            values = {**u, "name": name, "covered": u["total"] - u["pending"]}
            writer.row([spreadsheet_cell(values[key]) for key, _h in UNIT_COLUMNS])
    writer.close()
    return n


# --- the file kind ------------------------------------------------------------------


def _task_part(session: Session, actor: User, params: dict) -> tuple[Task, Unit | None, list[str]]:
    """The task ``actor`` may see, the unit it is narrowed to (``unit_id``: a grid's view
    exports that grid) and the part of it in their scope (404 otherwise)."""
    task = queries.get_task(session, actor, params.get("task_id"))
    focus = queries.focus_unit(session, actor, task, params.get("unit_id"))
    return task, focus, queries.focus_paths(actor, task, focus)


def plan(session: Session, actor: User, params: dict, fmt: str) -> kinds.Plan:
    task, _focus, paths = _task_part(session, actor, params)
    total = session.scalar(
        select(func.coalesce(func.sum(TaskTeam.households), 0))
        .join(Unit, Unit.id == TaskTeam.team_id)
        .where(TaskTeam.task_id == task.id, scope.paths_clause(paths, Unit.path))
    )
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    return kinds.Plan(paths=paths, total=int(total or 0), filename=f"task-{task.id}-{stamp}.{fmt}")


def rows(session: Session, task: Task, paths: list[str] | None) -> Iterator[dict]:
    """The task's households in ``paths`` in the units' natural order, as the export writes them, read
    as the database sends them (a server-side cursor on PostgreSQL). The households and
    statuses are ``membership.members`` (the one source of a task's households, as for
    ``progress.household_rows``); the person named for each team is the one the task
    told (``task_teams.assignee``, as the progress page shows), read in the same query:
    no tree graph is loaded, so a district's CSV stays small in the worker."""
    m = membership.members(task)
    team, grid = aliased(Unit), aliased(Unit)
    q = (
        select(
            Household.code,
            grid.name,
            team.name,
            User.name,
            User.phone,
            Household.head_name,
            Household.door_no,
            Household.phone,
            m.c.status,
            m.c.help_kind,
            m.c.note,
            m.c.updated_at,
            m.c.updated_via,
        )
        .join(Household, Household.id == m.c.household_id)
        .join(team, team.id == m.c.team_id)
        .outerjoin(grid, grid.id == team.parent_id)
        .outerjoin(TaskTeam, and_(TaskTeam.task_id == task.id, TaskTeam.team_id == m.c.team_id))
        .outerjoin(User, User.id == TaskTeam.assignee_id)
        .where(scope.paths_clause(paths, team.path))
        .order_by(team.sort_path, Household.seq)
        .execution_options(yield_per=2000)
    )
    session.flush()
    for values in session.connection().execute(q):
        yield dict(zip(KEYS, values, strict=True))


def make(session: Session, actor: User, params: dict, fmt: str, out: IO[bytes], progress) -> int:
    task, focus, paths = _task_part(session, actor, params)
    units = None
    if fmt == "xlsx":
        units = progress_counts.progress(session, task.id, actor=actor, unit=focus)["units"]
    return write(out, fmt, task, rows(session, task, paths), units, progress)


HOUSEHOLDS = kinds.register(
    kinds.FileKind(
        name="task_households",
        label=_l("A task's households"),
        action="view",
        formats=FORMATS,
        plan=plan,
        make=make,
    )
)
