"""Field checks the station's use cases share: dates, choices, free text that must
not hold an ID number, and collecting every bad field of a form at once.

Phone numbers and bounded text are ``village_grid.validation``'s; ID numbers
``station/idnumbers.py``'s. A form at the counter shows each bad field's own
message beside it, so the checks here gather them all before refusing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _

from village_grid.errors import InvalidInput
from village_grid.models.base import utcnow
from village_grid.station import idnumbers
from village_grid.validation import clean_text

# Dates the station takes: no record of this century needs another.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)


class FieldErrors(InvalidInput):
    """Several bad fields at once: ``fields`` holds each one's code (as every API
    error does), ``messages`` each one's words for the form."""

    def __init__(self, messages: dict[str, str], codes: dict[str, str]):
        super().__init__(" ".join(messages.values()), fields=codes)
        self.messages = messages


class Collector:
    """Runs each field's check, keeps what it returns, and remembers what it refused."""

    def __init__(self) -> None:
        self.out: dict[str, Any] = {}
        self.messages: dict[str, str] = {}
        self.codes: dict[str, str] = {}

    def take(self, field: str, check: Callable[[], Any]) -> Any:
        try:
            value = check()
        except InvalidInput as err:
            self.refuse(field, err.message, str(err.fields.get(field, "invalid")))
            return None
        self.out[field] = value
        return value

    def refuse(self, field: str, message: str, code: str) -> None:
        self.messages.setdefault(field, message)
        self.codes.setdefault(field, code)

    def done(self) -> dict[str, Any]:
        if self.codes:
            raise FieldErrors(self.messages, self.codes)
        return self.out


def local_today(now: datetime | None = None) -> date:
    """Today where the station is (``BABEL_DEFAULT_TIMEZONE``); ``now`` is naive UTC."""
    moment = (now or utcnow()).replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])).date()


def parse_date(
    value: object, *, field: str, label: str, required: bool = True, default: date | None = None
) -> date | None:
    """A date written YYYY-MM-DD (a date object passes), between 2000 and 2099."""
    if isinstance(value, date):
        day = value
    else:
        text = value.strip() if isinstance(value, str) else ""
        if not text:
            if default is not None or not required:
                return default
            raise InvalidInput(_("%(field)s is required.", field=label), fields={field: "required"})
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise InvalidInput(
                _("%(field)s: write a date as 2025-03-01.", field=label),
                fields={field: "bad_date"},
            ) from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidInput(
            _("%(field)s: write a date as 2025-03-01.", field=label), fields={field: "bad_date"}
        )
    return day


def not_after(day: date, today: date, *, field: str, label: str) -> date:
    """``day`` no later than tomorrow (a date in the future is a typing slip)."""
    if day > today + timedelta(days=1):
        raise InvalidInput(
            _("%(field)s is in the future.", field=label), fields={field: "in_future"}
        )
    return day


def choice(value: object, allowed: tuple[str, ...], *, field: str, label: str, default: str) -> str:
    """One of ``allowed``; empty is ``default`` (itself "" when the field may stay empty)."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        if default or "" in allowed:
            return default
        raise InvalidInput(_("%(field)s is required.", field=label), fields={field: "required"})
    if text not in allowed:
        raise InvalidInput(_("Unknown %(field)s.", field=label), fields={field: "unknown"})
    return text


def free_text(
    value: object, *, field: str, label: str, max_len: int, required: bool = False
) -> str:
    """Bounded text (``validation.clean_text``) that holds no ID number: a full number
    typed into a note would stand in clear on every page and export."""
    text = clean_text(
        value if isinstance(value, str) else None,
        field=field,
        max_len=max_len,
        required=required,
        label=label,
    )
    if idnumbers.find_in_text(text):
        raise InvalidInput(
            _("%(field)s holds an ID number: ID numbers go only in their own field.", field=label),
            fields={field: "contains_id_number"},
        )
    return text


def flag(value: object) -> bool:
    """A yes/no field: a JSON boolean, or a form's "y", "1", "on", "true"."""
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.strip().lower() in {"1", "y", "yes", "on", "true"}
