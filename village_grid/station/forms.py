"""What the station's pages post, as plain dicts for the services (which check every
field themselves), and the choices the forms offer.

The pages' forms are plain HTML forms with the CSRF token (``CSRFProtect`` checks
every POST); the services are the one place a field is validated, so a form here
only gathers what was typed and hands it on.
"""

from __future__ import annotations

from werkzeug.datastructures import MultiDict

from village_grid.station.labels import (
    BROADCAST_DEADLINES,
    BROADCAST_DEFAULT_DEADLINE,
    BROADCAST_KINDS,
    BROADCAST_LABELS,
    BROADCAST_WORDS,
    DEPARTURE_LABELS,
    DEPARTURE_REASONS,
    ID_TYPE_LABELS,
    ID_TYPES,
    OUTCOME_LABELS,
    OUTCOMES,
    PROVINCE_NAMES,
    SEX_LABELS,
    SEXES,
    SKILL_SUGGESTIONS,
    SUBJECT_LABELS,
    SUBJECTS,
)

NEWCOMER_FIELDS = (
    "name",
    "sex",
    "id_type",
    "id_number",
    "phone",
    "home_province",
    "home_county",
    "arrived_on",
    "skills",
    "employer",
    "emergency_name",
    "emergency_phone",
)


def newcomer_data(form: MultiDict, *, editing: bool = False) -> dict:
    """A newcomer's fields from the registration (or correction) form. When
    correcting, an empty ID number field means "keep the one stored"."""
    data = {f: form.get(f, "") for f in NEWCOMER_FIELDS}
    data["wants_work"] = form.get("wants_work", "")
    if editing and not data["id_number"].strip():
        del data["id_number"]
        del data["id_type"]
    return data


def fields_of(form: MultiDict, names: tuple[str, ...]) -> dict:
    return {name: form.get(name, "") for name in names}


def broadcast_kind(value: object) -> str:
    """A broadcast kind the form names, or the first (a missing person)."""
    return value if isinstance(value, str) and value in BROADCAST_KINDS else BROADCAST_KINDS[0]


def broadcast_form(kind: str) -> dict:
    """A new broadcast's first values: its kind's title, the usual deadline."""
    return {
        "kind": kind,
        "title": str(BROADCAST_WORDS[kind]["title"]),
        "deadline_minutes": str(BROADCAST_DEFAULT_DEADLINE),
    }


def choices() -> dict:
    """Everything the station's templates offer to choose from, with its words."""
    return {
        "id_types": [(k, ID_TYPE_LABELS[k]) for k in ID_TYPES],
        "sexes": [(k, SEX_LABELS[k]) for k in SEXES],
        "provinces": [(p, p) for p in PROVINCE_NAMES],
        "skills": SKILL_SUGGESTIONS,
        "reasons": [(k, DEPARTURE_LABELS[k]) for k in DEPARTURE_REASONS],
        "outcomes": [(k, OUTCOME_LABELS[k]) for k in OUTCOMES],
        "subjects": [(k, SUBJECT_LABELS[k]) for k in SUBJECTS],
        "broadcast_kinds": [(k, BROADCAST_LABELS[k]) for k in BROADCAST_KINDS],
        "broadcast_words": BROADCAST_WORDS,
        "deadlines": BROADCAST_DEADLINES,
    }
