"""The report's PDF as a file kind (``village_grid/files``): made in the request for a
unit of up to ``FILES_JOB_HOUSEHOLDS`` households, by the worker above that — the page
then shows "正在生成… (n %)" and its link, the API a 202 with the job to poll. Whoever
reads the made file needs ``view`` on every part of the task it covers."""

from __future__ import annotations

from typing import IO

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from village_grid.auth import scope
from village_grid.files import kinds
from village_grid.models import TaskTeam, Unit, User
from village_grid.reports.making import make_pdf
from village_grid.reports.queries import report_scope
from village_grid.tasks import queries


def plan(session: Session, actor: User, params: dict, fmt: str) -> kinds.Plan:
    """The reader's part of the task (404 outside it) and how many households it covers."""
    task = queries.get_task(session, actor, params.get("task_id"))
    unit, paths = report_scope(session, actor, task, params.get("unit_id"))
    total = session.scalar(
        select(func.coalesce(func.sum(TaskTeam.households), 0))
        .join(Unit, Unit.id == TaskTeam.team_id)
        .where(TaskTeam.task_id == task.id, scope.paths_clause(paths, Unit.path))
    )
    name = f"report-task-{task.id}" + (f"-unit-{unit.id}" if unit.id != task.unit_id else "")
    return kinds.Plan(paths=paths, total=int(total or 0), filename=f"{name}.{fmt}")


def make(session: Session, actor: User, params: dict, fmt: str, out: IO[bytes], progress) -> int:
    """The PDF written into ``out``; the households it covers (its plan's total)."""
    task = queries.get_task(session, actor, params.get("task_id"))
    covered = plan(session, actor, params, fmt).total
    out.write(make_pdf(session, actor, task, params.get("unit_id")))
    progress(covered)
    return covered


REPORT = kinds.register(
    kinds.FileKind(
        name="task_report",
        label=_l("A task's report"),
        action="view",
        formats=("pdf",),
        plan=plan,
        make=make,
        mimetypes={"pdf": "application/pdf"},
    )
)
