"""The station's work beyond the counter: job referrals, trainings and attendance,
broadcasts to every team lead, and the dashboard.

On the blueprint of ``routes.py``; thin like it.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from village_grid import edge
from village_grid.auth.guards import login_required
from village_grid.database.transactions import committed
from village_grid.errors import DomainError, InvalidInput
from village_grid.extensions import db
from village_grid.station import broadcast as broadcasting
from village_grid.station import dashboard as figures
from village_grid.station import display, queries, referrals, trainings
from village_grid.station.blueprint import (
    bp,
    errors_of,
    newcomer_or_404,
    require_station,
    village,
)
from village_grid.station.fields import local_today
from village_grid.station.forms import broadcast_form, broadcast_kind, fields_of


def _flash_errors(err: DomainError) -> None:
    for message in errors_of(err).values():
        flash(message, "error")


# --- job referrals -----------------------------------------------------------------------


@bp.route("/newcomers/<id:newcomer_id>/referrals", methods=["POST"])
@login_required
def refer(newcomer_id: int):
    person = newcomer_or_404(newcomer_id)
    data = fields_of(request.form, ("employer", "position", "referred_on", "outcome", "note"))
    try:
        with committed():
            referrals.refer(db.session, current_user, person.id, data)
    except DomainError as err:
        _flash_errors(err)
    else:
        flash(_("Referral recorded."), "success")
    return redirect(url_for("station.newcomer", newcomer_id=person.id) + "#jobs")


@bp.route("/referrals/<id:referral_id>/outcome", methods=["POST"])
@login_required
def outcome(referral_id: int):
    require_station()
    referral = queries.get_referral(db.session, current_user, referral_id)
    try:
        with committed():
            referrals.set_outcome(
                db.session, current_user, referral.id, fields_of(request.form, ("outcome",))
            )
    except DomainError as err:
        _flash_errors(err)
    return redirect(url_for("station.newcomer", newcomer_id=referral.newcomer_id) + "#jobs")


# --- trainings ------------------------------------------------------------------------------


@bp.route("/trainings", methods=["GET", "POST"])
@login_required
def trainings_page():
    """The village's sessions (with attendance) and a form for a new one."""
    here = village()
    values = {"held_on": local_today().isoformat()}
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = fields_of(request.form, ("subject", "title", "held_on", "place"))
        try:
            with committed():
                training = trainings.create_training(
                    db.session, current_user, village_id=here.id, data=values
                )
        except DomainError as err:
            errors = errors_of(err)
        else:
            flash(_("Training added: now record who came."), "success")
            return redirect(url_for("station.training", training_id=training.id))
    return (
        render_template(
            "station/trainings.html",
            village=here,
            rows=queries.trainings(db.session, here),
            values=values,
            errors=errors,
        ),
        422 if errors else 200,
    )


@bp.route("/trainings/<id:training_id>", methods=["GET", "POST"])
@login_required
def training(training_id: int):
    """Who came: tick them in the list, or type names, phones or last four ID characters."""
    require_station()
    session_ = queries.get_training(db.session, current_user, training_id)
    unclear: list[str] = []
    if request.method == "POST":
        try:
            with committed():
                ids = edge.id_list("newcomer_ids", source=request.form)
                found, unclear = trainings.match_people(
                    db.session, session_, request.form.get("people", "")
                )
                added = trainings.record_attendance(
                    db.session, current_user, session_.id, ids + [n.id for n in found]
                )
        except DomainError as err:
            _flash_errors(err)
        else:
            flash(_("%(n)s attendances recorded.", n=added), "success")
            if not unclear:
                return redirect(url_for("station.training", training_id=session_.id))
    came = queries.attendees(db.session, session_.id)
    present, _total = queries.newcomers(db.session, session_.village, present=True, limit=500)
    came_ids = {n.id for n in came}
    return render_template(
        "station/training.html",
        village=session_.village,
        training=session_,
        came=came,
        others=[n for n in present if n.id not in came_ids],
        unclear=unclear,
    )


@bp.route("/newcomers/<id:newcomer_id>/trainings", methods=["POST"])
@login_required
def attended(newcomer_id: int):
    """From a newcomer's page: they were at this session."""
    person = newcomer_or_404(newcomer_id)
    try:
        with committed():
            training_id = edge.id_arg("training_id", source=request.form)
            if training_id is None:
                raise InvalidInput(_("Choose a training."), fields={"training_id": "required"})
            trainings.record_attendance(db.session, current_user, training_id, [person.id])
    except DomainError as err:
        _flash_errors(err)
    else:
        flash(_("Attendance recorded."), "success")
    return redirect(url_for("station.newcomer", newcomer_id=person.id) + "#trainings")


# --- broadcasts -------------------------------------------------------------------------------


@bp.route("/broadcasts", methods=["GET", "POST"])
@login_required
def broadcasts():
    """Broadcasts sent (with reads) and the form for a new one, in its kind's words
    (``?kind=``; a missing child first)."""
    here = village()
    values = broadcast_form(broadcast_kind(request.args.get("kind")))
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = fields_of(
            request.form, ("kind", "title", "description", "last_seen", "phone", "deadline_minutes")
        )
        try:
            with committed():
                sent = broadcasting.send(db.session, current_user, village_id=here.id, data=values)
        except DomainError as err:
            errors = errors_of(err)
        else:
            flash(
                _("Sent to %(n)s team leads.", n=sent.task.teams_total),
                "success",
            )
            return redirect(url_for("station.broadcast", broadcast_id=sent.id))
    return (
        render_template(
            "station/broadcasts.html",
            village=here,
            rows=display.broadcast_rows(db.session, queries.broadcasts(db.session, here)),
            kind=broadcast_kind(values.get("kind")),
            values=values,
            errors=errors,
        ),
        422 if errors else 200,
    )


@bp.route("/broadcasts/<id:broadcast_id>")
@login_required
def broadcast(broadcast_id: int):
    """Who has read it and when, who has not (with their phone), and how long it took."""
    require_station()
    item = queries.get_broadcast(db.session, current_user, broadcast_id)
    return render_template(
        "station/broadcast.html",
        village=item.task.unit,
        item=item,
        task=item.task,
        reads=broadcasting.reads(db.session, item),
    )


@bp.route("/broadcasts/<id:broadcast_id>/close", methods=["POST"])
@login_required
def close_broadcast(broadcast_id: int):
    """Found: end it (no more escalation of leads who have not read it)."""
    require_station()
    item = queries.get_broadcast(db.session, current_user, broadcast_id)
    broadcasting.close(db.session, current_user, item.id)
    db.session.commit()
    flash(_("Broadcast ended."), "success")
    return redirect(url_for("station.broadcast", broadcast_id=item.id))


# --- dashboard ------------------------------------------------------------------------------


@bp.route("/dashboard")
@login_required
def dashboard():
    here = village()
    today = local_today()
    return render_template(
        "station/dashboard.html",
        village=here,
        today=today,
        f=figures.figures(db.session, here, today),
        open_referrals=queries.open_referrals(db.session, here, limit=20),
    )
