"""JSON Schemas (draft 2020-12) of the station's API bodies and answers.

Bodies are checked against these before a service runs
(``api.validation.json_body``); the services still apply every field rule (the ID
number's check digit and date, phone numbers, dates not in the future, the
ten-household cap). Answers (``*_OUT``) never carry a full ID number: only its
mask.
"""

from __future__ import annotations

from village_grid.edge import ID, NONBLANK
from village_grid.hierarchy.schemas import PHONE, nullable
from village_grid.station.labels import (
    ATTENDANCE_MAX,
    COUNTY_MAX,
    DEPARTURE_REASONS,
    EMPLOYER_MAX,
    ID_NUMBER_MAX,
    ID_TYPES,
    NAME_MAX,
    NOTE_MAX,
    OUTCOMES,
    PLACE_MAX,
    PLACEMENT_KINDS,
    POSITION_MAX,
    PROVINCE_NAMES,
    SEXES,
    SKILLS_MAX,
    SUBJECTS,
    TITLE_MAX,
)

# A real calendar day from 2000-01-01 to 2099-12-31 (leap days included), as the
# services take it: the pattern itself holds the calendar.
DATE = {
    "type": "string",
    "pattern": (
        r"^(?:20[0-9]{2}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
        r"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
        r"|02-(?:0[1-9]|1[0-9]|2[0-8]))"
        r"|20(?:[02468][048]|[13579][26])-02-29)$"
    ),
    "description": "YYYY-MM-DD",
}
# A phone that must be there: validation.normalise_phone's forms, not empty.
PHONE_REQUIRED = {**PHONE, "minLength": 1}


def text(max_len: int, *, required: bool = False) -> dict:
    schema: dict = {"type": "string", "maxLength": max_len}
    if required:
        schema.update(minLength=1, pattern=NONBLANK)
    return schema


_NEWCOMER_FIELDS = {
    "name": text(NAME_MAX, required=True),
    "sex": {"type": "string", "enum": ["", *SEXES]},
    "id_type": {"type": "string", "enum": list(ID_TYPES)},
    # Normalised by the service (full-width digits, lower-case x, spaces and dashes);
    # its length, digits, check digit and date of birth are checked there.
    "id_number": text(ID_NUMBER_MAX, required=True),
    "phone": PHONE_REQUIRED,
    "home_province": {"type": "string", "enum": ["", *PROVINCE_NAMES]},
    "home_county": text(COUNTY_MAX),
    "arrived_on": DATE,
    "skills": text(SKILLS_MAX),
    "wants_work": {"type": "boolean"},
    "employer": text(EMPLOYER_MAX),
    "emergency_name": text(NAME_MAX),
    "emergency_phone": PHONE,
}

# A newcomer as a client sends one. What no schema can say (the ID number's check digit
# and date of birth, an arrival not after today: docs/security.md) holds in it, so a
# client or a fuzzer has one request the service takes.
_NEWCOMER_EXAMPLE = {
    "name": "陈海生",
    "sex": "M",
    "id_type": "resident_id",
    "id_number": "350121198808084563",
    "phone": "13900139000",
    "home_province": "四川省",
    "arrived_on": "2024-07-25",
    "skills": "电工",
    "wants_work": True,
}

NEWCOMER_CREATE = {
    "type": "object",
    "required": ["name", "id_number", "phone"],
    "additionalProperties": False,
    "properties": {"village_id": ID, **_NEWCOMER_FIELDS},
    "examples": [_NEWCOMER_EXAMPLE],
}

NEWCOMER_UPDATE = {
    "type": "object",
    "additionalProperties": False,
    "properties": dict(_NEWCOMER_FIELDS),
    "examples": [{"phone": "13900139001", "arrived_on": "2024-07-26"}],
}

PLACEMENT = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        # Join this household; else a new one in this team; else in the best team of
        # this grid; else in the grid with most room.
        "household_id": ID,
        "team_id": ID,
        "grid_id": ID,
        "door_no": text(50),
        "address": text(200),
    },
}

DEPARTURE = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "departed_on": DATE,
        "reason": {"type": "string", "enum": list(DEPARTURE_REASONS)},
        "to": text(PLACE_MAX),
    },
}

RETURN = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"arrived_on": DATE},
}

REFERRAL_CREATE = {
    "type": "object",
    "required": ["employer"],
    "additionalProperties": False,
    "properties": {
        "employer": text(EMPLOYER_MAX, required=True),
        "position": text(POSITION_MAX),
        "referred_on": DATE,
        "outcome": {"type": "string", "enum": list(OUTCOMES)},
        "note": text(NOTE_MAX),
    },
}

REFERRAL_UPDATE = {
    "type": "object",
    "required": ["outcome"],
    "additionalProperties": False,
    "properties": {
        "outcome": {"type": "string", "enum": list(OUTCOMES)},
        "note": text(NOTE_MAX),
    },
}

TRAINING_CREATE = {
    "type": "object",
    "required": ["subject", "title"],
    "additionalProperties": False,
    "properties": {
        "village_id": ID,
        "subject": {"type": "string", "enum": list(SUBJECTS)},
        "title": text(TITLE_MAX, required=True),
        "held_on": DATE,
        "place": text(PLACE_MAX),
    },
}

ATTENDANCE = {
    "type": "object",
    "required": ["newcomer_ids"],
    "additionalProperties": False,
    "properties": {
        "newcomer_ids": {
            "type": "array",
            "items": ID,
            "minItems": 1,
            "maxItems": ATTENDANCE_MAX,
            "uniqueItems": True,
        }
    },
}

# --- answers -------------------------------------------------------------------------------

DAY_OUT = {"type": "string", "format": "date"}
STRING = {"type": "string"}

HOUSEHOLD_BRIEF_OUT = {
    "type": "object",
    "required": ["id", "code", "team_id", "team_name", "door_no"],
    "properties": {
        "id": ID,
        "code": STRING,
        "team_id": ID,
        "team_name": STRING,
        "door_no": STRING,
    },
}

NEWCOMER_OUT = {
    "type": "object",
    "required": [
        "id", "village_id", "name", "sex", "id_type", "id_number_masked", "id_erased",
        "phone", "home_province", "home_county", "arrived_on", "skills", "wants_work",
        "employer", "emergency_name", "emergency_phone", "present", "departed_on",
        "departure_reason", "departure_to", "household",
    ],
    "properties": {
        "id": ID,
        "village_id": ID,
        "name": STRING,
        "sex": {"type": "string", "enum": ["", *SEXES]},
        "id_type": {"type": "string", "enum": list(ID_TYPES)},
        # Never the number itself: "350121********1234" (at most ten digits show).
        "id_number_masked": {"type": "string", "pattern": r"^[^0-9]*(?:[0-9][^0-9]*){0,10}$"},
        "id_erased": {"type": "boolean"},
        "phone": STRING,
        "home_province": STRING,
        "home_county": STRING,
        "arrived_on": DAY_OUT,
        "skills": STRING,
        "wants_work": {"type": "boolean"},
        "employer": STRING,
        "emergency_name": STRING,
        "emergency_phone": STRING,
        "present": {"type": "boolean"},
        "departed_on": nullable(DAY_OUT),
        "departure_reason": STRING,
        "departure_to": STRING,
        "household": nullable(HOUSEHOLD_BRIEF_OUT),
    },
}  # fmt: skip

PLACEMENT_OUT = {
    "type": "object",
    "required": ["newcomer_id", "kind", "household", "team", "grid"],
    "properties": {
        "newcomer_id": ID,
        "kind": {"type": "string", "enum": list(PLACEMENT_KINDS)},
        "household": HOUSEHOLD_BRIEF_OUT,
        "team": {
            "type": "object",
            "required": ["id", "name", "households"],
            "properties": {"id": ID, "name": STRING, "households": {"type": "integer"}},
        },
        "grid": nullable(
            {"type": "object", "required": ["id", "name"], "properties": {"id": ID, "name": STRING}}
        ),
    },
}

REFERRAL_OUT = {
    "type": "object",
    "required": ["id", "newcomer_id", "employer", "position", "referred_on", "outcome", "outcome_on", "note"],
    "properties": {
        "id": ID,
        "newcomer_id": ID,
        "employer": STRING,
        "position": STRING,
        "referred_on": DAY_OUT,
        "outcome": {"type": "string", "enum": list(OUTCOMES)},
        "outcome_on": nullable(DAY_OUT),
        "note": STRING,
    },
}  # fmt: skip

TRAINING_OUT = {
    "type": "object",
    "required": ["id", "village_id", "subject", "title", "held_on", "place", "attendees"],
    "properties": {
        "id": ID,
        "village_id": ID,
        "subject": {"type": "string", "enum": list(SUBJECTS)},
        "title": STRING,
        "held_on": DAY_OUT,
        "place": STRING,
        "attendees": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "name"],
                "properties": {"id": ID, "name": STRING},
            },
        },
        "added": {"type": "integer", "minimum": 0},
    },
}
