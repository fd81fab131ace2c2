"""Files over the API: an export of a task's households or of the registry answers
with the file when it is small, and with 202 and the URL of a file the worker makes
when it is large; that URL is polled until the file is ``done``, then its ``download``
URL gives the file (on the audit log). Same services as the pages (village_grid/files).
"""

from __future__ import annotations

from flask import jsonify, url_for
from flask_babel import gettext as _
from flask_login import current_user

from village_grid.api.routes import bp
from village_grid.api.validation import document
from village_grid.auth.guards import login_required
from village_grid.edge import ID, id_arg
from village_grid.errors import OutOfScope
from village_grid.extensions import db
from village_grid.files import service
from village_grid.files.routes import send
from village_grid.files.schemas import FILE_BODY, FILE_OUT, FILE_TYPES
from village_grid.hierarchy.registry import exporting
from village_grid.models import FileJob
from village_grid.tasks import export, queries

FILE_RESPONSES = {
    "200": ("The file (CSV or XLSX), made at once: it is small", FILE_BODY, FILE_TYPES),
    "202": ("Large: the worker makes it; poll the Location (the file's state)", FILE_OUT),
    "404": "No such task or unit in your scope, or an unknown format",
}


def file_json(job: FileJob) -> dict:
    return {
        "file_id": job.id,
        "kind": job.kind,
        "format": job.fmt,
        "state": job.state,
        "percent": service.percent(job),
        "rows_done": job.done,
        "rows_total": job.total,
        "filename": job.filename,
        "download": url_for("api.file_download", file_id=job.id) if job.state == "done" else None,
        "expires_at": job.expires_at.isoformat() + "Z" if job.expires_at else None,
        "page": url_for("files.show", file_id=job.id),
    }


def answer(result: FileJob | service.Inline):
    """The file itself, or 202 with the job to poll (the caller has committed)."""
    if isinstance(result, service.Inline):
        return send(result.body, result.filename, result.mimetype)
    response = jsonify(file_json(result))
    response.status_code = 202
    response.headers["Location"] = url_for("api.file_job", file_id=result.id)
    return response


def _fmt(fmt: str) -> str:
    if fmt not in export.FORMATS:
        raise OutOfScope(_("Not found."))
    return fmt


@bp.route("/tasks/<id:task_id>/export.<fmt>", methods=["GET"])
@login_required
@document(
    "A task's households in your scope, one row each, as CSV or XLSX (fmt)",
    responses=FILE_RESPONSES,
    tags=["files"],
)
def task_export(task_id: int, fmt: str):
    task = queries.get_task(db.session, current_user, task_id)
    params = {"task_id": task.id}
    result = service.ask(db.session, current_user, export.HOUSEHOLDS.name, _fmt(fmt), params)
    db.session.commit()
    return answer(result)


@bp.route("/registry/export.<fmt>", methods=["GET"])
@login_required
@document(
    "The household registry under unit_id (default: all you may see), in the import's "
    "format, as CSV or XLSX (fmt)",
    responses=FILE_RESPONSES,
    tags=["files"],
    query={"unit_id": ID},
)
def registry_export(fmt: str):
    params = {"unit_id": id_arg("unit_id")}
    result = service.ask(db.session, current_user, exporting.REGISTRY.name, _fmt(fmt), params)
    db.session.commit()
    return answer(result)


@bp.route("/files/<id:file_id>", methods=["GET"])
@login_required
@document(
    "A file being made or made: its state and percent, then its download URL",
    responses={"200": ("The file", FILE_OUT), "404": "No such file you may read"},
    tags=["files"],
)
def file_job(file_id: int):
    return jsonify(file_json(service.file_for(db.session, current_user, file_id)))


@bp.route("/files/<id:file_id>/download", methods=["GET"])
@login_required
@document(
    "A made file (on the audit log)",
    responses={
        "200": ("The file", FILE_BODY, FILE_TYPES),
        "404": "No such file you may read, not made yet, or expired",
    },
    tags=["files"],
)
def file_download(file_id: int):
    path, job, mimetype = service.download(db.session, current_user, file_id)
    db.session.commit()
    return send(path, job.filename, mimetype)
