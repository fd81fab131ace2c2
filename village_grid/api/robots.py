"""A unit's work-group robot over JSON: read (masked), set, remove, test."""

from __future__ import annotations

from flask import jsonify
from flask_login import current_user

from village_grid.api.routes import bp
from village_grid.api.validation import EMPTY_BODY, document, empty_body, json_body
from village_grid.auth import scope
from village_grid.auth.guards import login_required
from village_grid.extensions import db
from village_grid.hierarchy import robots
from village_grid.hierarchy.schemas import ROBOT_OUT, ROBOT_SET, ROBOT_TEST_OUT
from village_grid.models import Unit


def robot_json(unit: Unit) -> dict:
    view = robots.view(db.session, unit)
    return {
        "unit_id": unit.id,
        "own": view.own,
        "inherited_from": view.inherited_from.id if view.inherited_from else None,
        "inherited": view.inherited,
        "default": view.default,
    }


@bp.route("/units/<id:unit_id>/robot")
@login_required
@document(
    "The work-group robot that serves a unit: its own or inherited (URLs masked)",
    responses={
        "200": ("The robot", ROBOT_OUT),
        "403": "You may see the unit but not manage it",
        "404": "No such unit in your scope",
    },
    tags=["units"],
)
def unit_robot(unit_id: int):
    unit = scope.require_unit(db.session, current_user, unit_id, "manage_units")
    return jsonify(robot_json(unit))


@bp.route("/units/<id:unit_id>/robot", methods=["PUT"])
@login_required
@document(
    "Give a unit its own work-group robot (a WeCom group robot or any https webhook)",
    body=ROBOT_SET,
    responses={
        "200": ("The robot", ROBOT_OUT),
        "404": "No such unit in your scope",
        "422": "invalid_input: url wecom_key (a WeCom robot's URL without its key)",
    },
    tags=["units"],
)
def unit_robot_set(unit_id: int):
    unit = scope.require_unit(db.session, current_user, unit_id, "manage_units")
    data = json_body(ROBOT_SET)
    robots.set_robot(db.session, current_user, unit.id, data["url"])
    db.session.commit()
    return jsonify(robot_json(unit))


@bp.route("/units/<id:unit_id>/robot", methods=["DELETE"])
@login_required
@document(
    "Remove a unit's own robot: it uses the one above again",
    responses={"200": ("The robot", ROBOT_OUT), "404": "No such unit in your scope"},
    tags=["units"],
)
def unit_robot_remove(unit_id: int):
    unit = scope.require_unit(db.session, current_user, unit_id, "manage_units")
    robots.remove_robot(db.session, current_user, unit.id)
    db.session.commit()
    return jsonify(robot_json(unit))


@bp.route("/units/<id:unit_id>/robot/test", methods=["POST"])
@login_required
@document(
    "Post a test message to the robot that serves a unit",
    body=EMPTY_BODY,
    responses={
        "200": ("Where it went (masked)", ROBOT_TEST_OUT),
        "404": "No such unit in your scope",
        "409": "no_robot (the server's log serves it), robot_busy (its minute's posts are spent)",
        "502": "robot_refused: the robot's answer, masked",
    },
    tags=["units"],
)
def unit_robot_test(unit_id: int):
    unit = scope.require_unit(db.session, current_user, unit_id, "manage_units")
    empty_body()
    return jsonify({"sent_to": robots.send_test(db.session, current_user, unit.id)})
