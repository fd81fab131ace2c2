"""The phone's queue over JSON: one batch of taps made offline, applied once each."""

from __future__ import annotations

from flask import jsonify, request
from flask_login import current_user

from village_grid.api.routes import bp
from village_grid.api.validation import document, json_body
from village_grid.auth.guards import login_required
from village_grid.extensions import db
from village_grid.field import schemas, sync
from village_grid.field.labels import OP_RESULTS, SYNC_MAX_OPS
from village_grid.models.base import iso_z, utcnow


@bp.route("/field/sync", methods=["POST"])
@login_required
@document(
    f"Send a phone's queued taps (at most {SYNC_MAX_OPS}): each applied once, its result per "
    "operation",
    body=schemas.SYNC,
    responses={
        "200": ("One result per operation, in order", schemas.SYNC_OUT),
        "422": f"invalid_input: the batch is not an object with ops, or has more than {SYNC_MAX_OPS}",
    },
    tags=["field"],
)
def field_sync():
    data = json_body(schemas.SYNC)
    now = utcnow()
    results = sync.apply_ops(
        db.session, current_user, data["ops"], client_addr=request.remote_addr or "", now=now
    )
    db.session.commit()  # the worker is woken to deliver what this queued (calls for help)
    counts = {r: sum(1 for x in results if x["result"] == r) for r in OP_RESULTS}
    return jsonify({"results": results, **counts, "synced_at": iso_z(now)})
