"""The registry as a file, on the hierarchy blueprint: upload (all or nothing), the
page of an import the worker runs, and download. See docs/import-format.md.

A file of more than ``IMPORT_INLINE_ROWS`` rows (a village has about 1,300) is not
imported in the request: it is kept for the worker (``registry/queued.py``) and the
answer is the job's page, which shows how far the check got, then what was made or
every bad row. Smaller files are imported at once, as before.
"""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from village_grid import edge
from village_grid.auth import scope
from village_grid.auth.guards import login_required
from village_grid.database.transactions import committed
from village_grid.errors import Forbidden
from village_grid.extensions import db
from village_grid.files import service as files
from village_grid.files.routes import answer as file_answer
from village_grid.hierarchy import queries, registry
from village_grid.hierarchy.blueprint import bp
from village_grid.hierarchy.registry import exporting, queued
from village_grid.hierarchy.registry.columns import COLUMNS, REQUIRED_COLUMNS
from village_grid.models import Unit


def _export_units(limit: int = 400) -> list[Unit]:
    """Units the user may export, from their scope roots down to the grids, at most ``limit``."""
    units: list[Unit] = []
    for root in scope.scope_roots(db.session, current_user, "view"):
        units.extend(queries.subtree_units(db.session, root, max_depth=2))
        if len(units) >= limit:
            break
    return units[:limit]


@bp.route("/registry/import-export", methods=["GET", "POST"])
@login_required
def import_export():
    """Upload a registry file (all or nothing) and download the registry as CSV/XLSX."""
    can_import = scope.may_somewhere(current_user, "import")
    result = rejected = None
    status = 200
    if request.method == "POST":
        if not can_import:
            raise Forbidden(_("You may not import households."))
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            flash(_("Choose a file to upload."), "error")
            status = 422
        else:
            data = upload.read()
            try:
                with committed():
                    if queued.by_worker(current_app.config, upload.filename, data):
                        job = queued.queue_import(
                            db.session, current_user, filename=upload.filename, data=data
                        )
                        return redirect(url_for("hierarchy.import_job", job_id=job.id))
                    result = registry.import_registry(
                        db.session, current_user, filename=upload.filename, data=data
                    )
            except registry.ImportRejected as err:
                rejected = err
                status = 422
    return (
        render_template(
            "hierarchy/import_export.html",
            can_import=can_import,
            result=result,
            rejected=rejected,
            units=_export_units(),
            columns=COLUMNS,
            required=REQUIRED_COLUMNS,
        ),
        status,
    )


@bp.route("/registry/imports/<id:job_id>")
@login_required
def import_job(job_id: int):
    """An import the worker runs: how far its check got, then what it made or every bad
    row. The page refreshes itself while the job runs."""
    job = queued.job_for(db.session, current_user, job_id)
    return render_template(
        "hierarchy/import_job.html", job=job, running=job.state in queued.RUNNING, columns=COLUMNS
    )


@bp.route("/registry/export")
@login_required
def export_registry():
    """Download the registry under ``unit_id`` (default: all the user may see); a large
    one is made by the worker, and the answer is then the file's page."""
    fmt = request.args.get("fmt", "csv")
    if fmt not in exporting.FORMATS:
        abort(404)
    unit_id = edge.id_arg("unit_id")
    if unit_id is not None:
        scope.require_unit(db.session, current_user, unit_id)
    result = files.ask(db.session, current_user, exporting.REGISTRY.name, fmt, {"unit_id": unit_id})
    db.session.commit()
    return file_answer(result)
