"""Forms of the task pages: the dispatch page (its presets, deadline buttons and
survey rows) and the note that resolves an escalation.

The dispatch form is parsed here into the plain arguments of
``dispatch.dispatch_task``; the service still checks every rule (scope,
filter, deadline) itself. Words and limits come from ``tasks/labels.py``.
"""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from village_grid import edge
from village_grid.hierarchy.labels import FLAG_LABELS as HIERARCHY_FLAG_LABELS
from village_grid.models import HOUSEHOLD_FLAGS
from village_grid.tasks.labels import (
    BODY_MAX,
    CHOICE_MAX,
    CUSTOM_DEADLINE_MINUTES_MIN,
    DEADLINE_MINUTES_MAX,
    KIND_LABELS,
    MINUTES_A_DAY,
    NOTE_MAX,
    QUESTION_TEXT_MAX,
    SUBKIND_LABELS,
    TITLE_MAX,
)

# What the big buttons on the dispatch page send: (kind, subkind) and the title
# the page proposes for it.
PRESETS: dict[str, tuple[str, str]] = {
    "flood": ("sweep", "flood"),
    "typhoon": ("sweep", "typhoon"),
    "fire": ("sweep", "fire"),
    "heat": ("sweep", "heat"),
    "sweep_other": ("sweep", "other"),
    "campaign": ("campaign", ""),
    "survey": ("survey", ""),
    "notice": ("notice", ""),
}

PRESET_LABELS = {
    name: SUBKIND_LABELS[subkind] if kind == "sweep" else KIND_LABELS[kind]
    for name, (kind, subkind) in PRESETS.items()
}

# Titles proposed for each preset; the cadre may change them.
PRESET_TITLES = {
    "flood": _l("Flood check: confirm every household is safe"),
    "typhoon": _l("Typhoon check: confirm every household is safe"),
    "fire": _l("Fire check: confirm every household is safe"),
    "heat": _l("Heat check: visit the vulnerable households"),
    "sweep_other": _l("Household check"),
    "campaign": _l("Waste sorting campaign"),
    "survey": _l("Household survey"),
    "notice": _l("Notice to all team leads"),
}

# One set of household-flag names for the registry and the tasks.
FLAG_LABELS = HIERARCHY_FLAG_LABELS

# Quick deadline buttons, in minutes: sweeps count in minutes and hours,
# campaigns and surveys in days.
SWEEP_DEADLINES = [
    ("30", _l("30 min")),
    ("60", _l("1 hour")),
    ("120", _l("2 hours")),
    ("1440", _l("1 day")),
]
LONG_DEADLINES = [
    ("1440", _l("1 day")),
    ("4320", _l("3 days")),
    ("10080", _l("7 days")),
    ("43200", _l("30 days")),
]
SURVEY_QUESTION_ROWS = 5


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _deadline_choices() -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for value, label in SWEEP_DEADLINES + LONG_DEADLINES:
        seen.setdefault(value, label)
    return [*seen.items(), ("custom", _l("Other"))]


class DispatchForm(FlaskForm):
    preset = RadioField(
        _l("What"), choices=list(PRESET_LABELS.items()), default="flood", validate_choice=False
    )
    title = StringField(
        _l("Title"),
        validators=[
            DataRequired(message=_l("Please give the task a title.")),
            Length(
                max=TITLE_MAX, message=_l("The title is longer than %(n)s characters.", n=TITLE_MAX)
            ),
        ],
    )
    # The page draws its own list of units in scope; the service checks scope again.
    unit_id = StringField(_l("Who"))
    flags = MultiCheckboxField(
        _l("Only households that are"), choices=list(FLAG_LABELS.items()), validate_choice=False
    )
    grid_ids = MultiCheckboxField(_l("Only these grids"), validate_choice=False)
    deadline = RadioField(
        _l("Deadline"), choices=_deadline_choices(), default="60", validate_choice=False
    )
    deadline_hours = StringField(_l("Other deadline, in hours"), validators=[Optional()])
    body = TextAreaField(
        _l("Message to the team leads"),
        validators=[Optional(), Length(max=BODY_MAX, message=_l("The message is too long."))],
    )

    def validate_preset(self, field) -> None:
        if field.data not in PRESETS:
            raise ValidationError(_l("Choose what kind of task to send."))

    def validate_unit_id(self, field) -> None:
        field.data = edge.to_id(str(field.data or ""))
        if field.data is None:
            raise ValidationError(_l("Choose a unit."))

    def validate_flags(self, field) -> None:
        if any(f not in FLAG_LABELS for f in field.data or []):
            raise ValidationError(_l("Choose household groups from the list."))

    def validate_grid_ids(self, field) -> None:
        ids = [edge.to_id(g) for g in field.data or []]
        if None in ids:
            raise ValidationError(_l("Choose grids from the list."))
        field.data = ids

    def validate_deadline(self, field) -> None:
        if field.data not in dict(self.deadline.choices):
            raise ValidationError(_l("Choose a deadline."))

    def validate_deadline_hours(self, field) -> None:
        if self.deadline.data != "custom":
            return
        raw = (field.data or "").strip().replace("，", ".").replace(",", ".")
        try:
            hours = float(raw)
        except ValueError:
            raise ValidationError(_l("Write the deadline as a number of hours, e.g. 3.")) from None
        if not CUSTOM_DEADLINE_MINUTES_MIN <= hours * 60 <= DEADLINE_MINUTES_MAX:
            raise ValidationError(
                _(
                    "The deadline must be between %(min)s minutes and %(days)s days.",
                    min=CUSTOM_DEADLINE_MINUTES_MIN,
                    days=DEADLINE_MINUTES_MAX // MINUTES_A_DAY,
                )
            )

    def deadline_minutes(self) -> int:
        """The deadline in minutes from now (call after validation)."""
        if self.deadline.data == "custom":
            raw = (self.deadline_hours.data or "").strip().replace("，", ".").replace(",", ".")
            return round(float(raw) * 60)
        return int(self.deadline.data)

    def kind_and_subkind(self) -> tuple[str, str]:
        return PRESETS[self.preset.data]

    def task_filter(self) -> dict | None:
        flt: dict = {}
        if self.flags.data:
            flt["flags"] = [f for f in HOUSEHOLD_FLAGS if f in self.flags.data]
        if self.grid_ids.data:
            flt["unit_ids"] = sorted(set(self.grid_ids.data))
        return flt or None


def parse_questions(form_data) -> list[dict]:
    """Survey questions from the dispatch form rows ``q<n>_text``, ``q<n>_type``, ``q<n>_choices``.

    Empty rows are skipped. Shape: ``{"id", "type", "text", "choices"}``; the
    service checks the questions themselves.
    """
    questions = []
    for n in range(1, SURVEY_QUESTION_ROWS + 1):
        text = (form_data.get(f"q{n}_text") or "").strip()
        if not text:
            continue
        qtype = form_data.get(f"q{n}_type") or "text"
        question: dict = {"id": f"q{n}", "type": qtype, "text": text[:QUESTION_TEXT_MAX]}
        if qtype == "choice":
            raw = (form_data.get(f"q{n}_choices") or "").replace("，", ",").replace("、", ",")
            question["choices"] = [c.strip()[:CHOICE_MAX] for c in raw.split(",") if c.strip()]
        questions.append(question)
    return questions


def tap_fields(form, kind: str) -> dict:
    """What a page's one-tap form says of a household (the lead's page, the "my team"
    page without JavaScript): its status, the kind of help and a note for "needs help",
    a survey's answers (``a_<question id>`` fields). ``statuses.record_status`` checks them."""
    status = form.get("status", "")
    answers = None
    if kind == "survey":
        answers = {
            k[2:]: v.strip() for k, v in form.items() if k.startswith("a_") and v.strip()
        } or None
    return {
        "status": status,
        "help_kind": form.get("help_kind", "") if status == "needs_help" else "",
        "note": form.get("note", ""),
        "answers": answers,
    }


class ResolveForm(FlaskForm):
    note = TextAreaField(
        _l("What was done"),
        validators=[
            DataRequired(message=_l("Write what was done before resolving.")),
            Length(
                max=NOTE_MAX, message=_l("The note is longer than %(n)s characters.", n=NOTE_MAX)
            ),
        ],
    )
