"""The audit page's filter: a GET form (nothing changes, so no CSRF token), every
value bounded so no input reaches the database as something it cannot hold."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from flask_babel import lazy_gettext as _l
from flask_babel import to_utc
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField
from wtforms.validators import NumberRange, Optional, ValidationError

from village_grid.auditlog.labels import MAX_PAGE
from village_grid.edge import to_id

# The days a filter may name.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)
SYSTEM = "system"


def _optional_id(value: object) -> int | None:
    """A unit id from the query string; "" is none. Anything else raises ValueError."""
    if value in (None, ""):
        return None
    number = to_id(str(value))
    if number is None:
        raise ValueError("not an id")
    return number


def _person(value: object) -> str:
    """ "" (everyone), "system" (no person) or a person's id as text."""
    text = str(value or "")
    if text in ("", SYSTEM):
        return text
    if not text.isdigit() or to_id(text) is None:
        raise ValueError("not a person")
    return text


def _in_range(form: FlaskForm, field: DateField) -> None:
    if field.data is not None and not FIRST_DAY <= field.data <= LAST_DAY:
        raise ValidationError(_l("Choose a date between 2000 and 2100."))


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False

    unit = SelectField(_l("Unit"), coerce=_optional_id, choices=[], validate_choice=False)
    person = SelectField(_l("Person"), coerce=_person, choices=[], validate_choice=False)
    date_from = DateField(_l("From"), validators=[Optional(), _in_range])
    date_to = DateField(_l("To"), validators=[Optional(), _in_range])
    page = IntegerField(validators=[Optional(), NumberRange(min=1, max=MAX_PAGE)])

    def validate_date_to(self, field: DateField) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_l("The end date is before the start date."))

    def value(self, name: str) -> object:
        """A field's value when it is valid, else None (a bad filter is not applied)."""
        field = self[name]
        return None if field.errors else field.data

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        """The chosen days, local time, as naive UTC: from the first day's midnight to
        the midnight after the last day (exclusive)."""
        start, end = self.value("date_from"), self.value("date_to")
        if self.date_to.errors:
            end = None
        return (
            to_utc(datetime.combine(start, time.min)) if start else None,
            to_utc(datetime.combine(end + timedelta(days=1), time.min)) if end else None,
        )
