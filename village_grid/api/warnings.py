"""Official warnings over the API: a CAP 1.2 document posted (by someone who may send
tasks, or a warnings-only token an administrator made for a feed forwarder), and the
warnings in your scope."""

from __future__ import annotations

from flask import jsonify, request
from flask_babel import gettext as _
from flask_login import current_user

from village_grid.api.routes import bp
from village_grid.api.validation import document
from village_grid.auth import scope
from village_grid.auth.guards import accepts_token, login_required
from village_grid.errors import Forbidden, InvalidInput
from village_grid.extensions import db
from village_grid.models import OfficialWarning
from village_grid.models.base import iso_z
from village_grid.warnings import cap, intake, queries, schemas


def warning_json(warning: OfficialWarning, drafts) -> dict:
    return {
        "id": warning.id,
        "identifier": warning.identifier,
        "msg_type": warning.msg_type,
        "status": warning.status,
        "event": warning.event,
        "severity": warning.severity,
        "urgency": warning.urgency,
        "headline": warning.headline,
        "sender_name": warning.sender_name,
        "onset": iso_z(warning.onset),
        "expires": iso_z(warning.expires),
        "received_at": iso_z(warning.received_at),
        "received_via": warning.received_via,
        "outcome": warning.outcome,
        "drafts": [
            {
                "task_id": d.task_id,
                "unit_id": d.unit_id,
                "households": d.households,
                "change": d.change,
                "state": queries.draft_state(d.task, warning),
            }
            for d in drafts
        ],
    }


def _cap_body() -> bytes:
    """The posted document, refused before reading when it is too large or not XML."""
    media = (request.mimetype or "").lower()
    if media not in schemas.CAP_MEDIA_TYPES:
        why = _("send the CAP document as application/cap+xml or application/xml")
        raise InvalidInput(why, fields={"cap": why})
    limit = cap.max_bytes()
    if request.content_length is not None and request.content_length > limit:
        why = _("the document is larger than %(n)s bytes", n=limit)
        raise InvalidInput(why, fields={"cap": why})
    return request.stream.read(limit + 1)


@bp.route("/warnings", methods=["POST"])
@login_required
@accepts_token("warnings")
@document(
    "Receive an official warning (CAP 1.2): draft sweeps for the villages in its area",
    body=schemas.CAP_BODY,
    content_type="application/cap+xml",
    responses={
        "201": ("The warning and the drafts it made", schemas.WARNING_OUT),
        "200": (
            "This identifier was received before: that warning, nothing new",
            schemas.WARNING_OUT,
        ),
        "403": "You may not send tasks anywhere",
        "422": "invalid_input, fields.cap: malformed, too large, DTD or entities, not CAP 1.2",
    },
    tags=["warnings"],
)
def warnings_create():
    limited = getattr(current_user, "token_only", None) == "warnings"
    if not (limited and scope.has_role(current_user, "admin")) and not scope.may_somewhere(
        current_user, "dispatch"
    ):
        raise Forbidden(_("Only someone who may send tasks can post a warning."))
    warning, new = intake.receive(db.session, current_user, _cap_body(), via="api")
    db.session.commit()  # the cadres' messages go out
    return jsonify(warning_json(warning, warning.drafts)), 201 if new else 200


@bp.route("/warnings", methods=["GET"])
@login_required
@document(
    "Official warnings that touched your area, newest first, with their drafts",
    responses={"200": ("The warnings", schemas.WARNING_LIST_OUT)},
    tags=["warnings"],
)
def warnings_list():
    rows = queries.warnings_in_scope(db.session, current_user)
    return jsonify(
        {"warnings": [warning_json(w, queries.drafts_in_scope(w, current_user)) for w in rows]}
    )


@bp.route("/warnings/<id:warning_id>", methods=["GET"])
@login_required
@document(
    "One official warning with its drafts",
    responses={"200": ("The warning", schemas.WARNING_OUT), "404": "No such warning in your scope"},
    tags=["warnings"],
)
def warnings_get(warning_id: int):
    warning = queries.get_warning(db.session, current_user, warning_id)
    return jsonify(warning_json(warning, queries.drafts_in_scope(warning, current_user)))
