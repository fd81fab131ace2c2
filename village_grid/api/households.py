"""The household registry over JSON: add, read, change and move households.

Every view checks scope on the household in the URL *before* it reads the
body, so an id outside the caller's part of the tree answers 404 whatever is
sent (tests/test_scope_matrix.py).
"""

from __future__ import annotations

from flask import jsonify, url_for
from flask_login import current_user

from village_grid.api.routes import bp
from village_grid.api.validation import document, json_body
from village_grid.auth import scope
from village_grid.auth.guards import login_required
from village_grid.extensions import db
from village_grid.hierarchy import service
from village_grid.hierarchy.schemas import (
    HOUSEHOLD_CREATE,
    HOUSEHOLD_MOVE,
    HOUSEHOLD_OUT,
    HOUSEHOLD_UPDATE,
)
from village_grid.models import Household, Member
from village_grid.models.base import iso_z
from village_grid.qr.service import report_url_for

# A team_id is checked against the tree: no schema can say "is a team".
NOT_A_TEAM = "invalid_input: fields name what is wrong; team_id not_a_team: that unit is not a team"


def member_json(member: Member) -> dict:
    return {
        "id": member.id,
        "name": member.name,
        "relation": member.relation,
        "sex": member.sex,
        "birth_year": member.birth_year,
        "phone": member.phone,
    }


def household_json(household: Household) -> dict:
    """The one serializer of a household for the API. Add new keys here
    (e.g. the door-plate ``report_url``) so every endpoint answers alike."""
    return {
        "id": household.id,
        "code": household.code,
        "team_id": household.team_id,
        "team_name": household.team.name,
        "door_no": household.door_no,
        "address": household.address,
        "head_name": household.head_name,
        "phone": household.phone,
        "latitude": household.latitude,
        "longitude": household.longitude,
        "flags": household.flags,
        "members": [member_json(m) for m in household.members],
        "created_at": iso_z(household.created_at),
        "updated_at": iso_z(household.updated_at),
        # The door plate's URL, only to someone who may print the plate (it is the key
        # to answering for the household); callers have checked the household is in scope.
        "report_url": report_url_for(current_user, household),
    }


@bp.route("/households", methods=["POST"])
@login_required
@document(
    "Register a household in a team (at most TEAM_MAX_HOUSEHOLDS, 10 by default, a team)",
    body=HOUSEHOLD_CREATE,
    responses={
        "201": ("The new household", HOUSEHOLD_OUT),
        "409": "team_full: the team has 10 households; fields.suggested_team_ids has teams with room",
        "422": NOT_A_TEAM,
    },
    tags=["households"],
)
def household_create():
    data = dict(json_body(HOUSEHOLD_CREATE))
    team_id = data.pop("team_id")
    members = data.pop("members", None)
    household = service.create_household(
        db.session, current_user, team_id=team_id, data=data, members=members
    )
    db.session.commit()
    res = jsonify(household_json(household))
    res.status_code = 201
    res.headers["Location"] = url_for("api.household", household_id=household.id)
    return res


@bp.route("/households/<id:household_id>")
@login_required
@document(
    "One household with its members",
    responses={
        "200": ("The household", HOUSEHOLD_OUT),
        "404": "No such household in your scope",
    },
    tags=["households"],
)
def household(household_id: int):
    household = scope.require_household(db.session, current_user, household_id)
    return jsonify(household_json(household))


@bp.route("/households/<id:household_id>", methods=["PATCH"])
@login_required
@document(
    "Change some fields of a household; members, when given, replace the list",
    body=HOUSEHOLD_UPDATE,
    responses={"200": ("The changed household", HOUSEHOLD_OUT)},
    tags=["households"],
)
def household_update(household_id: int):
    scope.require_household(db.session, current_user, household_id, "edit_household")
    data = json_body(HOUSEHOLD_UPDATE)
    household = service.update_household(db.session, current_user, household_id, data)
    db.session.commit()
    return jsonify(household_json(household))


@bp.route("/households/<id:household_id>/move", methods=["POST"])
@login_required
@document(
    "Move a household to another team (at most TEAM_MAX_HOUSEHOLDS a team); it gets a new code",
    body=HOUSEHOLD_MOVE,
    responses={
        "200": ("The moved household", HOUSEHOLD_OUT),
        "409": "team_full",
        "422": NOT_A_TEAM,
    },
    tags=["households"],
)
def household_move(household_id: int):
    scope.require_household(db.session, current_user, household_id, "edit_household")
    data = json_body(HOUSEHOLD_MOVE)
    household = service.move_household(db.session, current_user, household_id, data["team_id"])
    db.session.commit()
    return jsonify(household_json(household))
