"""Report pages: a task's after-action report as a page and as an A4 PDF.

Thin: the task the reader may see (``tasks/queries.get_task``), the unit (``?unit=``,
checked in ``reports/queries.report_scope`` through ``auth/scope.py``), then the maker.
"""

from __future__ import annotations

from flask import Blueprint
from flask_login import current_user

from village_grid import edge
from village_grid.auth.guards import login_required
from village_grid.database.transactions import committed
from village_grid.extensions import db
from village_grid.files import service as files
from village_grid.files.routes import answer as file_answer
from village_grid.reports import making
from village_grid.reports.report_file import REPORT
from village_grid.tasks import queries

bp = Blueprint("reports", __name__, url_prefix="/tasks")


@bp.route("/<id:task_id>/report")
@login_required
def page(task_id: int):
    """The report of a task, for the reader's part of it (``?unit=`` narrows it)."""
    task = queries.get_task(db.session, current_user, task_id)
    return making.make_html(db.session, current_user, task, edge.id_arg("unit"))


@bp.route("/<id:task_id>/report.pdf")
@login_required
def pdf(task_id: int):
    """The same report as an A4 PDF, fonts embedded: made now, or by the worker for a
    large unit (the answer is then the file's page, "正在生成… (n %)" and its link)."""
    task = queries.get_task(db.session, current_user, task_id)
    with committed():
        result = files.ask(db.session, current_user, REPORT.name, "pdf", params(task.id))
    return file_answer(result)


def params(task_id: int) -> dict:
    """What a report's file is asked with: the task, and the unit of ``?unit=``."""
    unit_id = edge.id_arg("unit")
    return {"task_id": task_id} if unit_id is None else {"task_id": task_id, "unit_id": unit_id}
