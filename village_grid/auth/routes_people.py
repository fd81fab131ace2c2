"""The people page at a county's size, and a person's page (on the auth blueprint).

- ``/people``: search and filters (unit, role, never signed in, no phone), a page of
  50 at a time; a unit is chosen by searching (``/people/units?q=``), never from a
  list of every unit. Cadres and administrators add people and roles here; a grid
  member sees their grid's people (to make their sign-in links).
- ``/people/<id>``: their roles, last sign-in, logins (end one or all: a lost phone),
  sign-in links (made, used, by whom), a new one-time link (shown once, with its QR
  code and short code); a password reset for those who keep passwords.
"""

from __future__ import annotations

from flask import (
    abort,
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import NotFound

from village_grid import edge
from village_grid.auth import queries, scope, service, signin
from village_grid.auth.blueprint import bp, form_id, safe_next
from village_grid.auth.forms import PersonForm, RoleForm, people_filter
from village_grid.auth.guards import login_required
from village_grid.auth.labels import PEOPLE_PAGE, ROLE_LABELS
from village_grid.database.transactions import committed
from village_grid.errors import DomainError
from village_grid.extensions import db
from village_grid.kinds import kind_label
from village_grid.models import ROLES
from village_grid.qrcodes import qr_svg


def _require_people_page() -> None:
    if not queries.sees_people(current_user):
        raise NotFound()


def _role_choices() -> list[tuple[str, str]]:
    """Roles this user may give (only an administrator makes an administrator)."""
    everywhere = scope.scope_paths(current_user, "assign_roles") is None
    return [(r, ROLE_LABELS[r]) for r in ROLES if r != "admin" or everywhere]


def _back(default: str):
    return redirect(safe_next(request.form.get("next")) or default)


@bp.route("/people", methods=["GET", "POST"])
@login_required
def people():
    """Find people; add a person with a role (cadres and administrators)."""
    _require_people_page()
    can_assign = scope.may_somewhere(current_user, "assign_roles")
    person_form = PersonForm(prefix="new")
    role_form = RoleForm(prefix="add")
    person_form.role.choices = role_form.role.choices = _role_choices()
    if request.method == "GET":
        person_form.role.data = "team_lead"
    status = 200
    if request.method == "POST":
        if not can_assign:
            raise NotFound()
        response, status = _post(person_form, role_form)
        if response is not None:
            return response
    f = people_filter(db.session, current_user)
    page = edge.int_arg("page", 1, low=1, high=100_000)
    rows, total = queries.people_page(db.session, current_user, f, offset=(page - 1) * PEOPLE_PAGE)
    pages = max(1, -(-total // PEOPLE_PAGE))
    paths = scope.scope_paths(current_user, "sign_in_links")
    shown = [
        (
            person,
            [
                ra
                for ra in person.roles
                if ra.unit is not None and scope.within(ra.unit.path, paths) or paths is None
            ],
        )
        for person in rows
    ]
    return (
        render_template(
            "auth/people.html",
            person_form=person_form,
            can_assign=can_assign,
            rows=shown,
            total=total,
            page=page,
            pages=pages,
            f=f,
            role_labels=ROLE_LABELS,
            args={k: v for k, v in request.args.items() if k != "page"},
        ),
        status,
    )


def _post(person_form: PersonForm, role_form: RoleForm):
    """The people page's forms (also posted from a person's page, with ``next``):
    (a redirect when done, the status of the page shown again)."""
    try:
        with committed():
            if "new-submit" in request.form:
                if not person_form.validate_on_submit():
                    flash(_("Please correct the marked fields."), "error")
                    return None, 422
                user = _create(person_form)
                service.assign_role(
                    db.session,
                    current_user,
                    user=user,
                    role=person_form.role.data,
                    unit_id=person_form.unit_id.data or None,
                )
                flash(
                    _(
                        "%(name)s can now log in as %(role)s.",
                        name=user.display_name,
                        role=ROLE_LABELS[person_form.role.data],
                    ),
                    "success",
                )
                return redirect(url_for("auth.person", user_id=user.id)), 302
            if "add-submit" in request.form:
                if not role_form.validate_on_submit():
                    flash(_("Please correct the marked fields."), "error")
                    return None, 422
                user = queries.person_in_scope(
                    db.session, current_user, role_form.user_id.data, action="assign_roles"
                )
                if user is None:
                    raise DomainError(_("No such person."))
                service.assign_role(
                    db.session,
                    current_user,
                    user=user,
                    role=role_form.role.data,
                    unit_id=role_form.unit_id.data or None,
                )
                flash(_("Role added."), "success")
                return _back(url_for("auth.people")), 302
            if "remove_role" in request.form:
                service.remove_role(db.session, current_user, form_id("remove_role"))
                flash(_("Role removed."), "success")
                return _back(url_for("auth.people")), 302
            if "reset_user" in request.form:
                person, generated = service.reset_password(
                    db.session,
                    current_user,
                    form_id("reset_user"),
                    request.form.get("reset-password", ""),
                )
                if generated is None:
                    flash(
                        _(
                            "%(name)s has a new password. They are logged out everywhere.",
                            name=person.display_name,
                        ),
                        "success",
                    )
                    return _back(url_for("auth.people")), 302
                # Shown on this answer only: not in a flash message (the session cookie),
                # not after a redirect, not in any cache.
                response = make_response(
                    render_template("auth/revealed.html", person=person, password=generated)
                )
                response.headers["Cache-Control"] = "no-store"
                return response, 200
    except DomainError as err:
        flash(err.message, "error")
        return None, err.status
    except ValueError:
        flash(_("The request could not be understood."), "error")
        return None, 422
    return None, 200


def _create(form: PersonForm):
    """A person with a password (username and password typed), or — a team lead or
    grid member given neither — one who signs in by one-time link."""
    if not form.password.data and not form.username.data and form.role.data in scope.LINK_ROLES:
        return service.create_person(
            db.session, name=form.name.data, phone=form.phone.data, actor=current_user
        )
    return service.create_user(
        db.session,
        username=form.username.data or "",
        password=form.password.data or "",
        name=form.name.data,
        phone=form.phone.data,
        actor=current_user,
    )


@bp.route("/people/units")
@login_required
def unit_search():
    """The unit picker's search: units in scope whose name or code holds ``q`` (JSON)."""
    _require_people_page()
    q = request.args.get("q", "")[:50]
    edge.check_text(q, "q")
    action = "assign_roles" if request.args.get("for") == "assign" else "sign_in_links"
    units = queries.units_matching(db.session, current_user, q, action=action)
    chains = queries.unit_labels(db.session, units)
    return jsonify(
        {
            "units": [
                {"id": u.id, "name": u.name, "kind": kind_label(u.kind), "label": chains[u.id]}
                for u in units
            ]
        }
    )


def _person_or_404(user_id: int):
    person = queries.person_in_scope(db.session, current_user, user_id)
    if person is None:
        abort(404)
    return person


@bp.route("/people/<id:user_id>")
@login_required
def person(user_id: int):
    """A person: roles, last sign-in, logins, sign-in links, and what one may do."""
    _require_people_page()
    person = _person_or_404(user_id)
    return _person_page(person)


def _person_page(person, issued=None, status: int = 200):
    paths = scope.scope_paths(current_user, "sign_in_links")
    role_form = RoleForm(prefix="add", formdata=None)
    role_form.role.choices = _role_choices()
    response = make_response(
        render_template(
            "auth/person.html",
            person=person,
            roles=[
                ra
                for ra in person.roles
                if paths is None or (ra.unit is not None and scope.within(ra.unit.path, paths))
            ],
            logins=queries.person_logins(db.session, person.id),
            links=queries.person_links(db.session, person.id),
            link_state=signin.link_state,
            by_link=scope.signs_in_by_link(person),
            may_link=scope.may_make_sign_in_link(current_user, person),
            may_end=scope.may_end_logins(current_user, person),
            may_manage=scope.may_manage_person(current_user, person),
            can_assign=scope.may_somewhere(current_user, "assign_roles"),
            role_form=role_form,
            role_labels=ROLE_LABELS,
            issued=issued,
            issued_url=(current_app.config["BASE_URL"] + issued.path) if issued else None,
            qr_svg=qr_svg,
        ),
        status,
    )
    if issued is not None:
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/people/<id:user_id>/sign-in-link", methods=["POST"])
@login_required
def make_link(user_id: int):
    """A new one-time sign-in link, shown once on this answer (its QR and short code)."""
    _require_people_page()
    person = _person_or_404(user_id)
    try:
        with committed():
            issued = signin.make_link(
                db.session,
                current_user,
                person.id,
                secret_key=current_app.config["SECRET_KEY"],
                days=current_app.config["SIGN_IN_LINK_DAYS"],
            )
    except DomainError as err:
        flash(err.message, "error")
        return _person_page(person, status=err.status)
    return _person_page(person, issued=issued)


@bp.route("/people/<id:user_id>/logins/end", methods=["POST"])
@login_required
def end_logins(user_id: int):
    """End one of the person's logins (``login_id``), or all of them."""
    _require_people_page()
    person = _person_or_404(user_id)
    login_id = edge.id_arg("login_id", source=request.form)
    ended = service.end_logins(db.session, current_user, person.id, login_id)
    db.session.commit()
    if ended:
        flash(
            _("Signed out: %(n)s. That phone asks to sign in again.", n=ended),
            "success",
        )
    else:
        flash(_("That login had already ended."), "info")
    return redirect(url_for("auth.person", user_id=person.id) + "#logins")
