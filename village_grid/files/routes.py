"""A file's page ("正在生成… (n %)", then the download link) and its download.

Thin: :func:`~.service.file_for` checks who may read it (404 otherwise), the page
refreshes itself while the worker makes the file (a meta refresh, so it works without
JavaScript; with it, ``files.js`` polls the API instead), and the download is written to
the audit log before it is sent. :func:`answer` is how the other domains' pages answer
a request for a file: the file itself when it was made in the request, else a redirect
to the file's page.
"""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, send_file, url_for
from flask_login import current_user

from village_grid.auth.guards import login_required
from village_grid.extensions import db
from village_grid.files import kinds, service
from village_grid.files.labels import RUNNING, STATE_LABELS
from village_grid.models import FileJob

bp = Blueprint("files", __name__, url_prefix="/files")


def send(body, filename: str, mimetype: str):
    """A file sent for download: ``body`` a path or an open binary file. Never kept in a
    browser's or a proxy's cache (a list of households, or of ID numbers)."""
    response = send_file(body, mimetype=mimetype, as_attachment=True, download_name=filename)
    response.headers["Cache-Control"] = "no-store"
    return response


def answer(result: FileJob | service.Inline):
    """The answer of a page that asked for a file (the caller has committed)."""
    if isinstance(result, service.Inline):
        return send(result.body, result.filename, result.mimetype)
    return redirect(url_for("files.show", file_id=result.id))


@bp.route("/<id:file_id>")
@login_required
def show(file_id: int):
    job = service.file_for(db.session, current_user, file_id)
    return render_template(
        "files/show.html",
        job=job,
        kind=kinds.get(job.kind),
        running=job.state in RUNNING,
        percent=service.percent(job),
        state_label=STATE_LABELS[job.state],
    )


@bp.route("/<id:file_id>/download")
@login_required
def download(file_id: int):
    path, job, mimetype = service.download(db.session, current_user, file_id)
    db.session.commit()
    return send(path, job.filename, mimetype)
