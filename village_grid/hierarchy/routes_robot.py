"""A unit's work-group robot page: set it, remove it, send a test message."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from village_grid.auth import scope
from village_grid.auth.guards import login_required
from village_grid.database.transactions import committed
from village_grid.errors import DomainError
from village_grid.extensions import db
from village_grid.hierarchy import robots
from village_grid.hierarchy.blueprint import bp
from village_grid.hierarchy.forms import ConfirmForm, RobotForm
from village_grid.hierarchy.queries import breadcrumb


def _page(unit, form: RobotForm, status: int = 200):
    return (
        render_template(
            "hierarchy/unit_robot.html",
            unit=unit,
            form=form,
            confirm=ConfirmForm(),
            robot=robots.view(db.session, unit),
            breadcrumb=[
                *((u, scope.may(current_user, "view", u)) for u in breadcrumb(db.session, unit)),
                (unit, True),
            ],
        ),
        status,
    )


@bp.route("/units/<id:unit_id>/robot", methods=["GET", "POST"])
@login_required
def robot(unit_id: int):
    """The unit's work-group robot: where its people's messages go."""
    unit = scope.require_unit(db.session, current_user, unit_id, "manage_units")
    form = RobotForm()
    if request.method == "GET":
        return _page(unit, form)
    if form.validate_on_submit():
        try:
            with committed():
                robots.set_robot(db.session, current_user, unit.id, form.url.data)
            flash(_("Work-group robot saved."), "success")
            return redirect(url_for("hierarchy.robot", unit_id=unit.id))
        except DomainError as err:
            form.url.errors = [str(err)]
    return _page(unit, form, 422)


@bp.route("/units/<id:unit_id>/robot/remove", methods=["POST"])
@login_required
def remove_robot(unit_id: int):
    """Back to the robot above (or the server's channel)."""
    unit = scope.require_unit(db.session, current_user, unit_id, "manage_units")
    if not ConfirmForm().validate_on_submit():
        return _page(unit, RobotForm(formdata=None), 422)
    if robots.remove_robot(db.session, current_user, unit.id):
        db.session.commit()
        flash(_("Work-group robot removed."), "success")
    return redirect(url_for("hierarchy.robot", unit_id=unit.id))


@bp.route("/units/<id:unit_id>/robot/test", methods=["POST"])
@login_required
def test_robot(unit_id: int):
    """Post a test message to the robot that serves the unit."""
    unit = scope.require_unit(db.session, current_user, unit_id, "manage_units")
    if not ConfirmForm().validate_on_submit():
        return _page(unit, RobotForm(formdata=None), 422)
    try:
        masked = robots.send_test(db.session, current_user, unit.id)
    except DomainError as err:
        flash(str(err), "error")
        return _page(unit, RobotForm(formdata=None), err.status)
    flash(_("Test message sent to %(url)s: look in the work group.", url=masked), "success")
    return redirect(url_for("hierarchy.robot", unit_id=unit.id))
