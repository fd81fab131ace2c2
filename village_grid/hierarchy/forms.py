"""Forms for the unit tree and household registry pages (Flask-WTF: CSRF on every one).

The forms only carry and pre-check input; the rules (phone numbers, the
ten-household cap, scope) live in ``hierarchy.service`` and come back as
domain errors that the routes show next to the form.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from village_grid.hierarchy.labels import (
    FLAG_LABELS,
    KIND_LABELS,
    RELATION_LABELS,
    SEX_LABELS,
    UNIT_CODE_MAX,
)
from village_grid.hierarchy.service import RELATIONS
from village_grid.models import HOUSEHOLD_FLAGS

# Member rows offered inline on the new-household form; blank rows are ignored.
INLINE_MEMBER_ROWS = 3


def relation_choices() -> list[tuple[str, str]]:
    return [("", "—")] + [(r, RELATION_LABELS[r]) for r in RELATIONS]


def sex_choices() -> list[tuple[str, str]]:
    return [("", "—"), ("M", SEX_LABELS["M"]), ("F", SEX_LABELS["F"])]


class MemberFields(Form):
    """One member's fields (no CSRF of its own: it lives inside a FlaskForm)."""

    name = StringField(_l("Full name"), validators=[Optional(), Length(max=50)])
    relation = SelectField(_l("Relation to head"), choices=relation_choices, validate_choice=False)
    sex = SelectField(_l("Sex"), choices=sex_choices, validate_choice=False)
    birth_year = StringField(_l("Birth year"), render_kw={"inputmode": "numeric"})
    phone = StringField(_l("Phone"), render_kw={"inputmode": "tel", "type": "tel"})

    def is_blank(self) -> bool:
        return not any((self[f].data or "").strip() for f in ("name", "birth_year", "phone"))

    def to_dict(self) -> dict:
        return {f: self[f].data for f in ("name", "relation", "sex", "birth_year", "phone")}


class MemberForm(FlaskForm, MemberFields):
    """Add one member on the household page."""


class HouseholdForm(FlaskForm):
    door_no = StringField(_l("Door number"), validators=[Length(max=50)])
    address = StringField(_l("Address"), validators=[Length(max=200)])
    head_name = StringField(_l("Head of household"))
    phone = StringField(_l("Phone"), render_kw={"inputmode": "tel", "type": "tel"})
    latitude = StringField(_l("Latitude"), render_kw={"inputmode": "decimal"})
    longitude = StringField(_l("Longitude"), render_kw={"inputmode": "decimal"})
    elderly_alone = BooleanField(FLAG_LABELS["elderly_alone"])
    disabled = BooleanField(FLAG_LABELS["disabled"])
    young_children = BooleanField(FLAG_LABELS["young_children"])
    pregnant = BooleanField(FLAG_LABELS["pregnant"])
    flood_prone = BooleanField(FLAG_LABELS["flood_prone"])
    rental = BooleanField(FLAG_LABELS["rental"])
    party_member = BooleanField(FLAG_LABELS["party_member"])
    veteran = BooleanField(FLAG_LABELS["veteran"])
    members = FieldList(FormField(MemberFields), min_entries=0)

    def flag_fields(self):
        return [self[f] for f in HOUSEHOLD_FLAGS]

    def to_data(self) -> dict:
        """The household fields as the service takes them."""
        data = {
            f: self[f].data
            for f in ("door_no", "address", "head_name", "phone", "latitude", "longitude")
        }
        data["flags"] = [f for f in HOUSEHOLD_FLAGS if self[f].data]
        return data

    def member_rows(self) -> list[dict]:
        return [row.form.to_dict() for row in self.members if not row.form.is_blank()]

    def fill_from(self, household) -> None:
        for f in ("door_no", "address", "head_name", "phone"):
            self[f].data = getattr(household, f)
        self.latitude.data = "" if household.latitude is None else str(household.latitude)
        self.longitude.data = "" if household.longitude is None else str(household.longitude)
        for f in HOUSEHOLD_FLAGS:
            self[f].data = getattr(household, f)


class UnitForm(FlaskForm):
    kind = SelectField(_l("Kind"), choices=[])
    name = StringField(_l("Name"), validators=[Length(max=100)])
    code = StringField(
        _l("Code (optional)"),
        validators=[Optional(), Length(max=UNIT_CODE_MAX)],
        description=_l("Used in household codes, e.g. HG for a village, 03 for a grid."),
    )
    division_code = StringField(
        _l("Division code (optional)"),
        validators=[Optional(), Length(max=12)],
        render_kw={"inputmode": "numeric"},
        description=_l(
            "The administrative division code official warnings name: 6 digits for a county, "
            "9 for a township, 12 for a village (e.g. 350121100201)."
        ),
    )

    def set_kinds(self, kinds: list[str]) -> None:
        self.kind.choices = [(k, KIND_LABELS.get(k, k)) for k in kinds]


class UnitEditForm(FlaskForm):
    name = StringField(_l("Name"), validators=[Length(max=100)])
    division_code = UnitForm.division_code


class MoveForm(FlaskForm):
    # Choices are grouped by grid: {grid name: [(team id, label), ...]}.
    team_id = SelectField(_l("Move to team"), coerce=int, choices=[])


class SplitForm(FlaskForm):
    new_name = StringField(_l("Name of the new team"), validators=[Length(max=100)])
    household_ids = SelectMultipleField(
        _l("Households that go to the new team"),
        coerce=int,
        choices=[],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )


class ConfirmForm(FlaskForm):
    """A button that changes something (remove a member): CSRF only."""


class RobotForm(FlaskForm):
    """A unit's work-group robot URL (checked fully by ``notify.channels.check_url``)."""

    url = StringField(
        _l("Robot webhook URL"),
        validators=[Length(max=500)],
        render_kw={
            "inputmode": "url",
            "autocomplete": "off",
            "placeholder": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…",
        },
        description=_l(
            "In the work group: group settings → group robot → add → copy its webhook address."
        ),
    )
