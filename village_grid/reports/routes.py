"""Report pages: a task's after-action report as a page and as an A4 PDF.

Thin: the task the reader may see (``tasks/queries.get_task``), the unit (``?unit=``,
checked in ``reports/queries.report_scope`` through ``auth/scope.py``), then the maker.
"""

from __future__ import annotations

from flask import Blueprint, Response
from flask_login import current_user

from village_grid import edge
from village_grid.auth.guards import login_required
from village_grid.extensions import db
from village_grid.reports import making
from village_grid.tasks import queries

bp = Blueprint("reports", __name__, url_prefix="/tasks")


def pdf_response(body: bytes, task_id: int, unit_id: int | None) -> Response:
    """A report's PDF, shown in the browser and saved under a name that says what it is."""
    name = f"report-task-{task_id}" + (f"-unit-{unit_id}" if unit_id else "") + ".pdf"
    response = Response(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{name}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/<id:task_id>/report")
@login_required
def page(task_id: int):
    """The report of a task, for the reader's part of it (``?unit=`` narrows it)."""
    task = queries.get_task(db.session, current_user, task_id)
    return making.make_html(db.session, current_user, task, edge.id_arg("unit"))


@bp.route("/<id:task_id>/report.pdf")
@login_required
def pdf(task_id: int):
    """The same report as an A4 PDF, fonts embedded."""
    task = queries.get_task(db.session, current_user, task_id)
    unit_id = edge.id_arg("unit")
    return pdf_response(making.make_pdf(db.session, current_user, task, unit_id), task.id, unit_id)
