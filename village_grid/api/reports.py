"""A task's after-action report over the API: the A4 PDF (the page's twin)."""

from __future__ import annotations

from flask_login import current_user

from village_grid.api.files import answer
from village_grid.api.routes import bp
from village_grid.api.validation import document
from village_grid.auth.guards import login_required
from village_grid.database.transactions import committed
from village_grid.edge import ID
from village_grid.extensions import db
from village_grid.files import service as files
from village_grid.files.schemas import FILE_OUT
from village_grid.reports.report_file import REPORT
from village_grid.reports.routes import params
from village_grid.tasks import queries


@bp.route("/tasks/<id:task_id>/report.pdf")
@login_required
@document(
    "A task's after-action report as an A4 PDF (fonts embedded), for the reader's part of it",
    query={"unit": ID},
    responses={
        "200": ("The report", {"type": "string"}, "application/pdf"),
        "202": (
            "A large unit's: the worker makes it; poll the Location (the file's state)",
            FILE_OUT,
        ),
        "404": "No such task, or unit, in your scope",
    },
    tags=["tasks"],
)
def task_report_pdf(task_id: int):
    task = queries.get_task(db.session, current_user, task_id)
    with committed():
        result = files.ask(db.session, current_user, REPORT.name, "pdf", params(task.id))
    return answer(result)
