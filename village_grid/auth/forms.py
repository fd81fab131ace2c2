from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from village_grid.auth.labels import ROLE_LABELS, SEARCH_MAX
from village_grid.models import ROLES


class LoginForm(FlaskForm):
    login = StringField(_l("Phone number or username"), validators=[DataRequired(), Length(max=50)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    remember = BooleanField(_l("Stay logged in on this phone"))


class PersonForm(FlaskForm):
    """Create a person and give them a role on a unit, in one go."""

    name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=50)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=30)])
    # A team lead or grid member may have neither: they sign in by one-time link, and
    # their login name is made from their phone (auth/service.create_person).
    username = StringField(_l("Username"), validators=[Optional(), Length(max=50)])
    # The rule (length, common passwords) is the service's: auth/passwords.py.
    password = PasswordField(_l("Password"), validators=[Optional(), Length(max=200)])
    role = SelectField(_l("Role"), choices=[(r, ROLE_LABELS[r]) for r in ROLES])
    # Chosen with the unit search (static/auth.js); the service checks scope and kind.
    unit_id = IntegerField(_l("Unit"), validators=[Optional()])


class RoleForm(FlaskForm):
    """Give an existing person another role."""

    user_id = IntegerField(_l("Person"), validators=[DataRequired()])
    role = SelectField(_l("Role"), choices=[(r, ROLE_LABELS[r]) for r in ROLES])
    unit_id = IntegerField(_l("Unit"), validators=[Optional()])


class PasswordChangeForm(FlaskForm):
    """A person changes their own password: the current one, and the new one twice."""

    current_password = PasswordField(
        _l("Current password"), validators=[DataRequired(), Length(max=200)]
    )
    new_password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=200)])
    new_password_again = PasswordField(
        _l("New password again"),
        validators=[
            DataRequired(),
            EqualTo("new_password", message=_l("The two new passwords are not the same.")),
        ],
    )


class CodeForm(FlaskForm):
    """A sign-in code typed by hand (8 characters; spaces and dashes are ignored)."""

    code = StringField(_l("Sign-in code"), validators=[DataRequired(), Length(max=40)])


def people_filter(session, actor, *, action: str = "sign_in_links"):
    """The people list's filters from the query string (the page and the API read the
    same): ``q`` (name, phone or login, ≤ 50), ``unit_id`` (in scope, else 404),
    ``role``, ``never_signed_in=1``, ``no_phone=1``. Bad values are a 422 naming them."""
    from flask import request
    from flask_babel import gettext as _

    from village_grid import edge
    from village_grid.auth import queries, scope
    from village_grid.errors import InvalidInput

    q = request.args.get("q", "").strip()
    if len(q) > SEARCH_MAX:
        raise InvalidInput(
            _("Search for at most %(n)s characters.", n=SEARCH_MAX), fields={"q": "too_long"}
        )
    edge.check_text(q, "q")
    role = request.args.get("role", "").strip()
    if role and role not in ROLES:
        raise InvalidInput(_("Unknown role %(r)s.", r=role[:30]), fields={"role": "unknown"})
    flags = {}
    for name in ("never_signed_in", "no_phone"):
        flags[name] = edge.int_arg(name, 0, low=0, high=1) == 1
    unit_id = edge.id_arg("unit_id")
    unit = None if unit_id is None else scope.require_unit(session, actor, unit_id)
    return queries.PeopleFilter(q=q, unit=unit, role=role, **flags)
