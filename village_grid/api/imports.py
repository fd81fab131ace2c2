"""Registry import over the API: the same all-or-nothing importer as the page and the CLI."""

from __future__ import annotations

from flask import jsonify, request
from flask_babel import gettext as _
from flask_login import current_user

from village_grid.api.routes import bp
from village_grid.api.validation import document
from village_grid.auth import scope
from village_grid.auth.guards import login_required
from village_grid.errors import Forbidden, InvalidInput
from village_grid.extensions import db
from village_grid.hierarchy.registry import import_registry
from village_grid.hierarchy.schemas import IMPORT_FORM, IMPORT_RESULT_OUT


@bp.route("/import", methods=["POST"])
@login_required
@document(
    "Import households from a CSV or XLSX file: all rows or none",
    body=IMPORT_FORM,
    content_type="multipart/form-data",
    responses={
        "200": ("What was created", IMPORT_RESULT_OUT),
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
    result = import_registry(db.session, current_user, filename=upload.filename, data=upload.read())
    db.session.commit()
    return jsonify(result.to_dict())
