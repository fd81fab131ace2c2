"""Door-plate pages: the public household page (/h/<token>), and for staff the
plates of a unit (print sheet, PDF, rotation) and the red mailbox.

CSRF. The public page's forms carry Flask-WTF's token like every other form:
rendering the page puts the token in the (new) session cookie, so the first
POST from a phone that just scanned the plate passes — no login, no earlier
visit needed. The JSON twin (/api/v1/public/...) is not cookie-authenticated
at all: the plate token in the URL is its only authority, so a forged
cross-site request gains nothing a plain request would not; it also accepts
only ``application/json`` bodies, which a cross-site HTML form cannot send
without a CORS preflight we never grant. See api/public.py.
"""

from __future__ import annotations

from functools import wraps

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms import ValidationError

from village_grid import edge, qrcodes
from village_grid.auth import scope
from village_grid.auth.guards import login_required, public
from village_grid.database.transactions import committed
from village_grid.errors import DomainError
from village_grid.extensions import csrf, db
from village_grid.hierarchy.queries import household_counts, team_households
from village_grid.models import Unit
from village_grid.qr import labels, mailbox, plates, service
from village_grid.qr import public as household_page
from village_grid.qr.limits import client_addr, plate_read, plate_write
from village_grid.qr.service import PlateNotFound
from village_grid.security import no_referrer
from village_grid.tasks.labels import HELP_ASKS, HOUSEHOLD_KIND_LABELS, NOTE_MAX

bp = Blueprint("qr", __name__)


@bp.errorhandler(PlateNotFound)
def plate_not_found(err: PlateNotFound):
    db.session.rollback()
    return render_template("qr/not_found.html", replaced=err.replaced), 404


# --- the public household page ---------------------------------------------------


@bp.route("/h/<token>")
@plate_read
@public
@no_referrer
def household(token: str):
    """What the door plate opens: the household code and its open tasks, nothing private."""
    hh = service.household_for_token(db.session, token)
    messages = household_page.public_messages(db.session, hh.id)
    response = Response(
        render_template(
            "qr/household.html",
            token=token,
            code=hh.code,
            tasks=household_page.open_tasks(db.session, hh),
            messages=messages,
            help_kinds=HELP_ASKS,
            household_kind_labels=HOUSEHOLD_KIND_LABELS,
            categories=labels.CATEGORIES,
            statuses=labels.STATUSES,
            note_max=NOTE_MAX,
            text_max=labels.TEXT_MAX,
        )
    )
    # The page names a household's open tasks: no shared cache, no referrer with the token.
    response.headers["Cache-Control"] = "no-store"
    return response


def _form_answers() -> dict:
    return {
        key[len("answer_") :]: value
        for key, value in request.form.items()
        if key.startswith("answer_") and len(key) <= 80
    }


def _form_token_checked(view):
    """CSRF for the door-plate page's forms: the form's token, checked here instead of
    by CSRFProtect. The page sends no Referer (its URL holds the plate's token), and
    over HTTPS CSRFProtect would refuse a form without one."""

    @wraps(view)
    def checked(*args, **kwargs):
        if current_app.config.get("WTF_CSRF_ENABLED", True):
            try:
                validate_csrf(request.form.get("csrf_token"))
            except ValidationError as err:
                raise CSRFError(err.args[0] if err.args else None) from None
        return view(*args, **kwargs)

    return csrf.exempt(checked)


@bp.route("/h/<token>/report", methods=["POST"])
@plate_write
@public
@no_referrer
@_form_token_checked
def report(token: str):
    """The page's form for a task: safe / need help, acknowledge, survey answers, read."""
    # Not a task id (garbage, out of range): no task is open under it, said by a flash.
    task_id = edge.to_id(request.form.get("task_id")) or 0
    try:
        with committed():
            done = household_page.answer(
                db.session,
                token,
                task_id=task_id,
                status=request.form.get("status", ""),
                kind=request.form.get("kind", ""),
                note=request.form.get("note", ""),
                answers=_form_answers() or None,
                client_addr=client_addr(),
            )
    except PlateNotFound:
        raise
    except DomainError as err:
        # No such task open any more: said at the top of the page.
        flash(err.message, "error")
        return redirect(url_for("qr.household", token=token))
    # Said in the task's own card, where the page opens (placed() in qr/household.html).
    place = f"@task-{task_id}"
    if done.event.status == "needs_help":
        flash(labels.help_sent(done.told), "success" + place)
    else:
        flash(_("Thank you, received."), "success" + place)
    return redirect(url_for("qr.household", token=token) + f"#task-{task_id}")


@bp.route("/h/<token>/mailbox", methods=["POST"])
@plate_write
@public
@no_referrer
@_form_token_checked
def write_mailbox(token: str):
    """Drop a note in the red mailbox from the door-plate page."""
    hh = service.household_for_token(db.session, token)
    try:
        with committed():
            message = mailbox.create_message(
                db.session,
                hh,
                category=request.form.get("category", ""),
                text=request.form.get("text", ""),
                callback_phone=request.form.get("callback_phone", ""),
                client_addr=client_addr(),
            )
    except DomainError as err:
        flash(err.message, "error@mailbox")
        return redirect(url_for("qr.household", token=token) + "#mailbox")
    household_page.remember_sent(message.id)
    flash(
        _(
            "Your note is in the red mailbox. Tracking number %(no)s. Scan the plate again later to see the reply.",
            no=message.tracking_no,
        ),
        "success@mailbox",
    )
    return redirect(url_for("qr.household", token=token) + "#mailbox")


# --- plates for staff ------------------------------------------------------------


def _sheet_unit(unit_id: int) -> Unit:
    return scope.require_unit(db.session, current_user, unit_id, service.PRINT)


@bp.route("/units/<id:unit_id>/plates")
@login_required
def plates_page(unit_id: int):
    """Door plates of a unit: print sheet, PDF, and (for a team) rotation."""
    unit = _sheet_unit(unit_id)
    households = team_households(db.session, unit.id) if unit.is_team else []
    teams = [] if unit.is_team else plates.teams_with_counts(db.session, unit)
    total = household_counts(db.session, [unit], within=unit)[unit.id]
    return render_template(
        "qr/plates.html",
        unit=unit,
        households=households,
        teams=teams,
        total=total or 0,
        pages=-(-(total or 0) // plates.PLATES_PER_PAGE),
        can_rotate=scope.may(current_user, "manage_plates", unit),
        report_url=service.report_url,
    )


@bp.route("/units/<id:unit_id>/plates/sheet")
@login_required
def sheet(unit_id: int):
    """The print sheet: A4, six plates a page."""
    unit = _sheet_unit(unit_id)
    all_plates = plates.plates_for_unit(db.session, unit, current_app.config["BASE_URL"])
    return render_template(
        "qr/sheet.html",
        unit=unit,
        pages=plates.pages(all_plates),
        total=len(all_plates),
        qr_svg=qrcodes.qr_svg,
        instruction=plates.INSTRUCTION,
    )


@bp.route("/units/<id:unit_id>/plates/sheet.pdf")
@login_required
def sheet_pdf(unit_id: int):
    unit = _sheet_unit(unit_id)
    all_plates = plates.plates_for_unit(db.session, unit, current_app.config["BASE_URL"])
    pdf = plates.sheet_pdf(all_plates, title=_("Door plates: %(unit)s", unit=unit.name))
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="plates-{unit.id}.pdf"'
    return response


@bp.route("/households/<id:household_id>/plate/rotate", methods=["POST"])
@login_required
def rotate_household(household_id: int):
    hh = service.rotate_household(db.session, current_user, household_id)
    db.session.commit()
    flash(
        _(
            "Household %(code)s has a new plate. Print it: the old plate no longer works.",
            code=hh.code,
        ),
        "success",
    )
    return redirect(url_for("qr.plates_page", unit_id=hh.team_id))


@bp.route("/units/<id:unit_id>/plates/rotate", methods=["POST"])
@login_required
def rotate_team(unit_id: int):
    rotated = service.rotate_team(db.session, current_user, unit_id)
    db.session.commit()
    flash(
        _(
            "%(n)s households have new plates. Print them: the old plates no longer work.",
            n=len(rotated),
        ),
        "success",
    )
    return redirect(url_for("qr.plates_page", unit_id=unit_id))


# --- the red mailbox for staff ----------------------------------------------------


@bp.route("/mailbox", endpoint="mailbox")
@login_required
def mailbox_page():
    """Notes from households on the teams in the user's scope, open ones first."""
    status = request.args.get("status") or None
    rows = mailbox.list_in_scope(db.session, current_user, status=status)
    return render_template(
        "qr/mailbox.html",
        rows=rows,
        status=status,
        counts=mailbox.counts_in_scope(db.session, current_user),
        categories=labels.CATEGORIES,
        statuses=labels.STATUSES,
    )


@bp.route("/mailbox/<id:message_id>")
@login_required
def message(message_id: int):
    msg = mailbox.require_message(db.session, current_user, message_id)
    return render_template(
        "qr/message.html",
        msg=msg,
        household=msg.household,
        team=msg.team,
        categories=labels.CATEGORIES,
        statuses=labels.STATUSES,
        reply_max=labels.REPLY_MAX,
    )


@bp.route("/mailbox/<id:message_id>/reply", methods=["POST"])
@login_required
def reply(message_id: int):
    try:
        with committed():
            mailbox.reply(db.session, current_user, message_id, request.form.get("reply", ""))
    except DomainError as err:
        if err.status == 404:
            raise
        flash(err.message, "error")
        return redirect(url_for("qr.message", message_id=message_id))
    flash(_("Reply saved. The household sees it when it scans its plate."), "success")
    return redirect(url_for("qr.message", message_id=message_id))


@bp.route("/mailbox/<id:message_id>/close", methods=["POST"])
@login_required
def close(message_id: int):
    mailbox.close(db.session, current_user, message_id)
    db.session.commit()
    flash(_("Message closed."), "success")
    return redirect(url_for("qr.mailbox"))
