"""The audit page (/audit): read only. There is no route that edits or deletes an
audit event, and the service has no function for it."""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import NotFound

from village_grid.auditlog import labels, queries
from village_grid.auditlog.forms import SYSTEM, AuditFilterForm
from village_grid.auth import scope
from village_grid.auth.guards import login_required
from village_grid.extensions import db
from village_grid.hierarchy.labels import kind_label
from village_grid.tasks.labels import VIA_LABELS, status_label

bp = Blueprint("audit", __name__)


@bp.route("/audit")
@login_required
def index():
    """Who changed what, newest first: the audit log and the status reports, in the
    viewer's scope, filtered by unit, person and days."""
    if not scope.may_somewhere(current_user, "audit"):
        raise NotFound()
    form = AuditFilterForm(formdata=request.args)
    form.validate()
    unit_id = form.value("unit")
    # A unit outside the viewer's scope is not found (404), as everywhere.
    unit = scope.require_unit(db.session, current_user, unit_id, "audit") if unit_id else None
    units = queries.units_for_filter(db.session, current_user)
    top = min((u.depth for u in units), default=0)
    form.unit.choices = [("", _("All my area"))] + [
        (u.id, "　" * (u.depth - top) + f"{u.name}（{kind_label(u.kind)}）") for u in units
    ]
    if unit is not None and unit.id not in {u.id for u in units}:
        form.unit.choices.append((unit.id, f"{unit.name}（{kind_label(unit.kind)}）"))
    people = queries.people_for_filter(db.session, current_user)
    form.person.choices = [
        ("", _("Everyone")),
        (SYSTEM, _("No person: the system or a door plate")),
    ]
    form.person.choices += [(str(p.id), p.display_name) for p in people]
    person = form.value("person") or ""
    if person not in {value for value, _label in form.person.choices}:
        form.person.choices.append((person, _("Person #%(id)s", id=person)))
    start, end = form.bounds()
    page = form.value("page") or 1
    flt = queries.AuditFilter(
        unit=unit,
        actor_id=int(person) if person.isdigit() else None,
        system=person == SYSTEM,
        start=start,
        end=end,
        page=page,
    )
    entries, more = queries.audit_page(db.session, current_user, flt)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "auditlog/index.html",
        form=form,
        entries=entries,
        page=page,
        newer_url=url_for("audit.index", **args, page=page - 1) if page > 1 else None,
        older_url=url_for("audit.index", **args, page=page + 1) if more else None,
        filter_url=lambda **over: url_for("audit.index", **{**args, **over}),
        labels=labels,
        status_label=status_label,
        via_labels=VIA_LABELS,
        STATUS=queries.STATUS,
        ABSENT=queries.ABSENT,
    )
