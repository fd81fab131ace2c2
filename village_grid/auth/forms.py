from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from village_grid.auth.labels import ROLE_LABELS
from village_grid.models import ROLES


class LoginForm(FlaskForm):
    login = StringField(_l("Phone number or username"), validators=[DataRequired(), Length(max=50)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    remember = BooleanField(_l("Stay logged in on this phone"))


class PersonForm(FlaskForm):
    """Create a person and give them a role on a unit, in one go."""

    name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=50)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=30)])
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=50)])
    # The rule (length, common passwords) is the service's: auth/passwords.py.
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    role = SelectField(_l("Role"), choices=[(r, ROLE_LABELS[r]) for r in ROLES])
    unit_id = SelectField(_l("Unit"), coerce=int, choices=[])


class RoleForm(FlaskForm):
    """Give an existing person another role."""

    user_id = SelectField(_l("Person"), coerce=int, choices=[])
    role = SelectField(_l("Role"), choices=[(r, ROLE_LABELS[r]) for r in ROLES])
    unit_id = SelectField(_l("Unit"), coerce=int, choices=[])


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
