"""``/healthz`` for a load balancer or a monitor, and the administrator's page on
background work: is the worker alive, how deep is the queue, what failed."""

from __future__ import annotations

from flask import Blueprint, flash, jsonify, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from village_grid.auth import scope
from village_grid.auth.guards import login_required, public
from village_grid.errors import OutOfScope
from village_grid.extensions import db
from village_grid.jobs import queries
from village_grid.jobs.queue import wake_delivery
from village_grid.notify import service as notify

bp = Blueprint("jobs", __name__)


@bp.route("/healthz")
@public
def healthz():
    """200 when the database answers and a worker ticked within two minutes; 503 otherwise.
    Says nothing but that."""
    state = queries.health(db.session)
    response = jsonify(state)
    response.status_code = 200 if state["ok"] else 503
    response.headers["Cache-Control"] = "no-store"
    return response


def _require_admin() -> None:
    if not scope.may_somewhere(current_user, "operate"):
        raise OutOfScope(_("Not found."))


@bp.route("/admin/jobs")
@login_required
def status():
    """The worker's last tick, the queue, messages by state and the failed ones."""
    _require_admin()
    return render_template(
        "jobs/status.html",
        health=queries.health(db.session),
        depth=queries.queue_depth(),
        outbox=notify.summary(db.session),
    )


@bp.route("/admin/jobs/retry", methods=["POST"])
@login_required
def retry():
    """Send the failed messages again (after the webhook was fixed)."""
    _require_admin()
    count = notify.retry_failed(db.session)
    db.session.commit()
    wake_delivery()
    flash(_("%(n)s messages will be sent again.", n=count), "success")
    return redirect(url_for("jobs.status"))
