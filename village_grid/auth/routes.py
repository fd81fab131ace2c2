"""Log in and out, changing one's password, the language switch, and the
people/roles page (with an administrator's password reset)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from werkzeug.exceptions import NotFound

from village_grid.audit.service import request_addr
from village_grid.auth import queries, scope, service, sessions
from village_grid.auth.forms import LoginForm, PasswordChangeForm, PersonForm, RoleForm
from village_grid.auth.guards import anonymous_only, login_required, public
from village_grid.auth.labels import ROLE_LABELS
from village_grid.errors import DomainError
from village_grid.extensions import db, limiter
from village_grid.kinds import kind_label

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
        try:
            user = service.authenticate(db.session, form.login.data, form.password.data)
        except service.LoginLocked as err:
            flash(err.message, "error")
            return render_template("auth/login.html", form=form), err.status
        if user is None:
            flash(_("Wrong phone number, username or password."), "error")
        else:
            _start_login(user, remember=bool(form.remember.data))
            return redirect(_safe_next(request.args.get("next")) or url_for("hierarchy.home"))
    return render_template("auth/login.html", form=form)


def _start_login(user, *, remember: bool) -> None:
    """A new login for this device: its own row and token (the session and the
    remember cookie carry it), committed before the cookies go out."""
    sessions.start_login(
        db.session,
        user,
        remember=remember,
        client_addr=request_addr(),
        user_agent=request.user_agent.string,
    )
    db.session.commit()
    login_user(user, remember=remember)
    session.permanent = True


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    # Ends the login on the server: a copy of the cookie is refused from now on.
    sessions.end_login(db.session, current_user.login_token)
    db.session.commit()
    logout_user()
    flash(_("You have logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    """Change one's own password. Every other login of this person ends (other
    phones, remember cookies, API tokens); this device gets a new one."""
    form = PasswordChangeForm()
    status = 200
    if form.validate_on_submit():
        remember = bool(queries.login_remembered(db.session, current_user.login_token))
        try:
            service.change_own_password(
                db.session, current_user, form.current_password.data, form.new_password.data
            )
        except DomainError as err:  # a wrong current password, a weak new one, a lock
            db.session.rollback()
            flash(err.message, "error")
            status = err.status
        else:
            user = current_user._get_current_object()
            _start_login(user, remember=remember)
            flash(
                _("Your password is changed. Other phones and computers are logged out."),
                "success",
            )
            return redirect(url_for("hierarchy.home"))
    elif form.errors:
        flash(_("Please correct the marked fields."), "error")
    return render_template("auth/password.html", form=form), status


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
    revealed = None

    if request.method == "POST":
        try:
            if "new-submit" in request.form and person_form.validate_on_submit():
                user = service.create_user(
                    db.session,
                    username=person_form.username.data,
                    password=person_form.password.data,
                    name=person_form.name.data,
                    phone=person_form.phone.data,
                    actor=current_user,
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
                service.remove_role(db.session, current_user, _form_id("remove_role"))
                db.session.commit()
                flash(_("Role removed."), "success")
                return redirect(url_for("auth.people"))
            if "reset_user" in request.form:
                person, generated = service.reset_password(
                    db.session,
                    current_user,
                    _form_id("reset_user"),
                    request.form.get("reset-password", ""),
                )
                db.session.commit()
                if generated is None:
                    flash(
                        _(
                            "%(name)s has a new password. They are logged out everywhere.",
                            name=person.display_name,
                        ),
                        "success",
                    )
                    return redirect(url_for("auth.people"))
                # Shown on this answer only: not in a flash message (the session
                # cookie), not after a redirect, not in any cache.
                revealed = (person, generated)
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
        rows.append((person, roles, scope.may_manage_person(current_user, person)))
    response = make_response(
        render_template(
            "auth/people.html",
            person_form=person_form,
            role_form=role_form,
            rows=rows,
            role_labels=ROLE_LABELS,
            revealed=revealed,
        )
    )
    if revealed is not None:
        response.headers["Cache-Control"] = "no-store"
    return response


def _form_id(name: str) -> int:
    """An id posted in a form field; ValueError unless it is one the database can hold."""
    value = int(request.form[name])
    if not 1 <= value < 2**31:
        raise ValueError(name)
    return value
