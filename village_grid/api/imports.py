"""Registry import over the API: the same all-or-nothing importer as the page and the CLI."""

from __future__ import annotations

from flask import current_app, jsonify, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from village_grid.api.routes import bp
from village_grid.api.validation import document
from village_grid.auth import scope
from village_grid.auth.guards import login_required
from village_grid.errors import Forbidden, InvalidInput
from village_grid.extensions import db
from village_grid.hierarchy.registry import import_registry, queued
from village_grid.hierarchy.schemas import IMPORT_FORM, IMPORT_JOB_OUT, IMPORT_RESULT_OUT


@bp.route("/import", methods=["POST"])
@login_required
@document(
    "Import households from a CSV or XLSX file: all rows or none",
    body=IMPORT_FORM,
    content_type="multipart/form-data",
    responses={
        "200": ("What was created", IMPORT_RESULT_OUT),
        "202": ("A file larger than a village: queued for the worker", IMPORT_JOB_OUT),
        "403": "You may not import",
        "422": "import_rejected: error.rows lists every bad row with its line number and reason",
    },
    tags=["import"],
)
def import_file():
    if not scope.may_somewhere(current_user, "import"):
        raise Forbidden(_("You may not import households."))
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise InvalidInput(
            _("Send the file as the multipart form field “file”."), fields={"file": "required"}
        )
    data = upload.read()
    if queued.by_worker(current_app.config, upload.filename, data):
        job = queued.queue_import(db.session, current_user, filename=upload.filename, data=data)
        db.session.commit()
        response = jsonify(job_json(job))
        response.status_code = 202
        response.headers["Location"] = url_for("api.import_job", job_id=job.id)
        return response
    result = import_registry(db.session, current_user, filename=upload.filename, data=data)
    db.session.commit()
    return jsonify(result.to_dict())


def job_json(job) -> dict:
    return {
        "job_id": job.id,
        "state": job.state,
        "rows_total": job.rows_total,
        "rows_checked": job.rows_checked,
        "result": job.result,
        "rows": job.problems if job.state == "rejected" else None,
        "page": url_for("hierarchy.import_job", job_id=job.id, _external=False),
    }


@bp.route("/imports/<id:job_id>")
@login_required
@document(
    "An import run by the worker: its state, how many rows were checked, then its result "
    "or every bad row",
    responses={"200": ("The job", IMPORT_JOB_OUT), "404": "No such import of yours"},
    tags=["import"],
)
def import_job(job_id: int):
    return jsonify(job_json(queued.job_for(db.session, current_user, job_id)))
