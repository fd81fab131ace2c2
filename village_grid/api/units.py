"""The unit tree over JSON: list, read and add units (township, village, grid, team ...)."""

from __future__ import annotations

from flask import jsonify, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from village_grid.api.routes import bp
from village_grid.api.validation import PAGE_QUERY, document, json_body, page_args
from village_grid.auth import scope
from village_grid.auth.guards import login_required
from village_grid.edge import ID, id_arg
from village_grid.errors import InvalidInput
from village_grid.extensions import db
from village_grid.hierarchy import queries, service
from village_grid.hierarchy import units as unit_changes
from village_grid.hierarchy.schemas import (
    UNIT_CREATE,
    UNIT_DETAIL_OUT,
    UNIT_LIST_OUT,
    UNIT_UPDATE,
)
from village_grid.models import Unit
from village_grid.models.units import UNIT_KINDS


def unit_brief(unit: Unit, household_count: int | None = None) -> dict:
    """The short form of a unit (lists, children, breadcrumbs)."""
    out = {
        "id": unit.id,
        "kind": unit.kind,
        "name": unit.name,
        "code": unit.code,
        "division_code": unit.division_code,
    }
    if household_count is not None:
        out["household_count"] = household_count
    return out


def unit_json(unit: Unit, household_count: int) -> dict:
    return {
        **unit_brief(unit, household_count),
        "parent_id": unit.parent_id,
        "path": unit.path,
        "depth": unit.depth,
    }


@bp.route("/units")
@login_required
@document(
    "Units in your scope, optionally one kind or the children of one unit",
    responses={"200": ("One page of units", UNIT_LIST_OUT)},
    tags=["units"],
    query={"kind": {"type": "string", "enum": list(UNIT_KINDS)}, "parent_id": ID, **PAGE_QUERY},
)
def units():
    kind = request.args.get("kind", "").strip()
    if kind and kind not in UNIT_KINDS:
        raise InvalidInput(_("Unknown unit kind %(k)s.", k=kind[:30]), fields={"kind": "unknown"})
    parent_id = id_arg("parent_id")
    limit, offset = page_args()

    parent = None if parent_id is None else scope.require_unit(db.session, current_user, parent_id)
    rows, total = queries.units_in_scope(
        db.session, current_user, kind=kind, parent=parent, limit=limit, offset=offset
    )
    counts = queries.household_counts(db.session, rows)
    return jsonify(
        {
            "units": [unit_json(u, counts[u.id]) for u in rows],
            "total": total,
            "limit": limit,
            "offset": offset,
        }
    )


@bp.route("/units/<id:unit_id>")
@login_required
@document(
    "One unit with its household count, children and breadcrumb",
    responses={
        "200": ("The unit", UNIT_DETAIL_OUT),
        "404": "No such unit in your scope",
    },
    tags=["units"],
)
def unit(unit_id: int):
    unit = scope.require_unit(db.session, current_user, unit_id)
    return jsonify(unit_detail(unit))


def unit_detail(unit: Unit) -> dict:
    children = list(unit.children)
    counts = queries.household_counts(db.session, [unit, *children])
    return {
        **unit_json(unit, counts[unit.id]),
        "children": [unit_brief(c, counts[c.id]) for c in children],
        # From the root down to the parent.
        "breadcrumb": [unit_brief(u) for u in queries.breadcrumb(db.session, unit)],
    }


@bp.route("/units", methods=["POST"])
@login_required
@document(
    "Add a unit under a parent (a new root: administrators only)",
    body=UNIT_CREATE,
    responses={
        "201": ("The new unit", UNIT_DETAIL_OUT),
        "409": "Name or code already used here",
        "422": (
            "invalid_input: fields name what is wrong; also parent_id is_team (a team holds "
            "households, not units) and parent_id required (only an administrator adds a root)"
        ),
    },
    tags=["units"],
)
def unit_create():
    data = json_body(UNIT_CREATE)
    unit = service.create_unit(
        db.session,
        current_user,
        kind=data["kind"],
        name=data["name"],
        parent_id=data["parent_id"],
        code=data.get("code"),
        division_code=data.get("division_code"),
    )
    db.session.commit()
    res = jsonify(unit_detail(unit))
    res.status_code = 201
    res.headers["Location"] = url_for("api.unit", unit_id=unit.id)
    return res


@bp.route("/units/<id:unit_id>", methods=["PATCH"])
@login_required
@document(
    "Rename a unit or set its administrative division code ('' clears it)",
    body=UNIT_UPDATE,
    responses={
        "200": ("The unit", UNIT_DETAIL_OUT),
        "404": "No such unit in your scope",
        "409": "A sibling has that name",
        "422": (
            "invalid_input: fields name what is wrong; division_code bad_length, "
            "outside_parent (not inside the code of the unit above), children_outside"
        ),
    },
    tags=["units"],
)
def unit_update(unit_id: int):
    scope.require_unit(db.session, current_user, unit_id, "manage_units")  # 404 before 422
    data = json_body(UNIT_UPDATE)
    unit = unit_changes.update_unit(db.session, current_user, unit_id, **data)
    db.session.commit()
    return jsonify(unit_detail(unit))
