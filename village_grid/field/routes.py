"""The "my team" pages, their service worker and web app manifest.

- ``/field``: a lead's home — their team's page; a grid member's or cadre's list of
  teams (team by team, what they record is recorded as theirs).
- ``/field/teams/<id>``: one team: open tasks with one-tap statuses, households,
  unread notices, red-mailbox letters. With JavaScript, taps are queued on the phone
  (``static/field.js``) and sent through ``POST /api/v1/field/sync``; without it the
  forms post here, to the same status service.
- ``/sw.js`` and ``/manifest.webmanifest``: public (a browser fetches them without
  cookies when it installs or updates the app); they hold nothing private.

Thin: parse, check scope (``auth/scope.py``), call a service or a query, render.
"""

from __future__ import annotations

import json

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from village_grid import edge
from village_grid.auth import scope
from village_grid.auth.guards import login_required, public
from village_grid.errors import DomainError
from village_grid.extensions import db
from village_grid.field import labels, pages, queries
from village_grid.models.base import utcnow
from village_grid.tasks import case_queue, signs, statuses
from village_grid.tasks.queries import get_task

bp = Blueprint("field", __name__)


@bp.route("/field")
@login_required
def home():
    """A lead's team page; anyone else (grid member, cadre) picks a team."""
    team = queries.own_team(db.session, current_user)
    if team is not None:
        return _team_page(team)
    teams, more = queries.teams_in_scope(db.session, current_user)
    return render_template("field/home.html", teams=teams, more=more, **pages.shell())


@bp.route("/field/teams/<id:team_id>")
@login_required
def team(team_id: int):
    team = scope.require_unit(db.session, current_user, team_id, "report_status")
    if not team.is_team:
        return redirect(url_for("field.home"))
    return _team_page(team)


def _team_page(team):
    now = utcnow()
    ctx = pages.team_context(db.session, current_user, team, now=now)
    ctx["done"] = _done()
    signs.record_signs(db.session, current_user, ctx["task_ids"], kind="open", now=now)
    db.session.commit()
    response = Response(render_template("field/team.html", **ctx, **pages.shell()))
    # The page is the phone's offline copy: the service worker keeps the latest one,
    # the browser's own cache never serves a stale one.
    response.headers["Cache-Control"] = "no-cache, private"
    return response


def _done() -> dict | None:
    """What a tap without JavaScript came back with (shown in the household's row)."""
    household_id = edge.id_arg("done")
    status = request.args.get("st", "")
    if household_id is None or status not in (*labels.TAP_STATUSES, "needs_help"):
        return None
    return {"household_id": household_id, "status": status, "task_id": edge.id_arg("task")}


@bp.route("/field/tasks/<id:task_id>/households/<id:household_id>/status", methods=["POST"])
@login_required
def set_status(task_id: int, household_id: int):
    """One tap without JavaScript: the same status service as the phone's queue."""
    task = get_task(db.session, current_user, task_id)
    household = scope.require_household(db.session, current_user, household_id, "report_status")
    status = request.form.get("status", "")
    back = url_for("field.team", team_id=household.team_id)
    try:
        statuses.record_status(
            db.session,
            current_user,
            task_id=task.id,
            household_id=household.id,
            status=status,
            help_kind=request.form.get("help_kind", "") if status == "needs_help" else "",
            note=request.form.get("note", ""),
            client_addr=request.remote_addr or "",
        )
        db.session.commit()
    except DomainError as err:
        db.session.rollback()
        return render_template(
            "errors/error.html", status=err.status, message=err.message, back=back
        ), err.status
    target = url_for(
        "field.team", team_id=household.team_id, done=household.id, st=status, task=task.id
    )
    return redirect(f"{target}#h{household.id}-t{task.id}")


@bp.route("/field/teams/<id:team_id>/help/<id:escalation_id>/close", methods=["POST"])
@login_required
def close_help(team_id: int, escalation_id: int):
    """The lead (or anyone acting for the team) closes a call for help from the team's
    page, saying what was done: the same service as the escalation queue."""
    team = scope.require_unit(db.session, current_user, team_id, "report_status")
    esc = case_queue.require_escalation(db.session, current_user, escalation_id)
    back = url_for("field.team", team_id=team.id) + "#help"
    if esc.team_id != team.id:
        return redirect(back)
    try:
        case_queue.resolve_escalation(
            db.session, current_user, esc.id, request.form.get("note", "")
        )
        db.session.commit()
    except DomainError as err:
        db.session.rollback()
        flash(err.message, f"error@help{esc.id}")
        return redirect(url_for("field.team", team_id=team.id) + f"#help{esc.id}")
    flash(_("Call for help closed."), "success@help")
    return redirect(back)


@bp.route("/field/tasks/<id:task_id>/read", methods=["POST"])
@login_required
def mark_read(task_id: int):
    """The read receipt of a notice shown on a team's page."""
    task = get_task(db.session, current_user, task_id)
    statuses.mark_notice_read(db.session, current_user, task.id)
    db.session.commit()
    team_id = edge.id_arg("team", source=request.form)
    if team_id is not None:
        return redirect(url_for("field.team", team_id=team_id) + "#notices")
    return redirect(url_for("field.home") + "#notices")


@bp.route("/sw.js")
@public
def service_worker():
    """The service worker, with the current (content-hashed) files it keeps offline."""
    body = pages.service_worker_source(current_app)
    response = Response(body, mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.route("/favicon.ico")
@public
def favicon():
    """For browsers and in-app browsers that ask for /favicon.ico whatever the page says."""
    response = send_from_directory(current_app.static_folder, "icon-192.png", max_age=86400)
    response.cache_control.public = True
    return response


@bp.route("/manifest.webmanifest")
@public
def manifest():
    """What makes the page installable on the home screen."""
    response = Response(
        json.dumps(pages.manifest(), ensure_ascii=False), mimetype="application/manifest+json"
    )
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response
