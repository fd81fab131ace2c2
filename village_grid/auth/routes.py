"""Log in and out, the language switch, and the people/roles page."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from werkzeug.exceptions import NotFound

from village_grid.auth import queries, scope, service
from village_grid.auth.forms import LoginForm, PersonForm, RoleForm
from village_grid.auth.guards import anonymous_only, login_required, public
from village_grid.auth.labels import ROLE_LABELS
from village_grid.errors import DomainError
from village_grid.extensions import db, limiter
from village_grid.hierarchy.labels import kind_label

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site: never send someone to another host after login."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("20/minute", methods=["POST"])
@anonymous_only
def login():
    if current_user.is_authenticated:
        return redirect(url_for("hierarchy.home"))
    form = LoginForm()
    if form.validate_on_submit():
        user = service.authenticate(db.session, form.login.data, form.password.data)
        if user is None:
            flash(_("Wrong phone number, username or password."), "error")
        else:
            login_user(user, remember=form.remember.data)
            session.permanent = True
            return redirect(_safe_next(request.args.get("next")) or url_for("hierarchy.home"))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    logout_user()
    flash(_("You have logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/lang/<code>")
@public
def set_language(code: str):
    """The language switch: remembered in the session, then back where we were."""
    from flask import current_app

    if code in current_app.config["LANGUAGES"]:
        session["lang"] = code
    return redirect(_safe_next(request.args.get("next")) or url_for("auth.login"))


@bp.route("/people", methods=["GET", "POST"])
@login_required
def people():
    """Assign people to roles: create a person with a role, or add a role to someone."""
    paths = scope.scope_paths(current_user, "assign_roles")
    if paths == []:
        raise NotFound()
    units = queries.assignable_units(db.session, current_user)
    top = min((u.depth for u in units), default=0)
    unit_choices = [
        (u.id, "　" * (u.depth - top) + f"{u.name}（{kind_label(u.kind)}）") for u in units
    ]
    person_form = PersonForm(prefix="new")
    role_form = RoleForm(prefix="add")
    person_form.unit_id.choices = [(0, "—")] + unit_choices
    role_form.unit_id.choices = [(0, "—")] + unit_choices
    people = queries.people_in_scope(db.session, current_user)
    role_form.user_id.choices = [(u.id, f"{u.display_name} ({u.username})") for u in people]
    if paths is not None:
        # Only an administrator can make an administrator: do not offer it.
        for form in (person_form, role_form):
            form.role.choices = [c for c in form.role.choices if c[0] != "admin"]
    if request.method == "GET":
        person_form.role.data = role_form.role.data = "team_lead"

    if request.method == "POST":
        try:
            if "new-submit" in request.form and person_form.validate_on_submit():
                user = service.create_user(
                    db.session,
                    username=person_form.username.data,
                    password=person_form.password.data,
                    name=person_form.name.data,
                    phone=person_form.phone.data,
                )
                service.assign_role(
                    db.session,
                    current_user,
                    user=user,
                    role=person_form.role.data,
                    unit_id=person_form.unit_id.data or None,
                )
                db.session.commit()
                flash(
                    _(
                        "%(name)s can now log in as %(role)s.",
                        name=user.display_name,
                        role=ROLE_LABELS[person_form.role.data],
                    ),
                    "success",
                )
                return redirect(url_for("auth.people"))
            if "add-submit" in request.form and role_form.validate_on_submit():
                user = next((p for p in people if p.id == role_form.user_id.data), None)
                if user is None:
                    raise DomainError(_("No such person."))
                service.assign_role(
                    db.session,
                    current_user,
                    user=user,
                    role=role_form.role.data,
                    unit_id=role_form.unit_id.data or None,
                )
                db.session.commit()
                flash(_("Role added."), "success")
                return redirect(url_for("auth.people"))
            submitted = (
                person_form
                if "new-submit" in request.form
                else role_form
                if "add-submit" in request.form
                else None
            )
            if submitted is not None and submitted.errors:
                flash(_("Please correct the marked fields."), "error")
            if "remove_role" in request.form:
                service.remove_role(db.session, current_user, int(request.form["remove_role"]))
                db.session.commit()
                flash(_("Role removed."), "success")
                return redirect(url_for("auth.people"))
        except DomainError as err:
            db.session.rollback()
            flash(err.message, "error")
        except ValueError:
            db.session.rollback()
            flash(_("The request could not be understood."), "error")

    rows = []
    for person in people:
        # An administrator's role (on no unit) is shown to administrators only.
        roles = [
            ra
            for ra in person.roles
            if paths is None or (ra.unit is not None and scope.within(ra.unit.path, paths))
        ]
        rows.append((person, roles))
    return render_template(
        "auth/people.html",
        person_form=person_form,
        role_form=role_form,
        rows=rows,
        role_labels=ROLE_LABELS,
    )
