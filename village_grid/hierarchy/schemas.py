"""JSON Schemas (draft 2020-12) for the API bodies of the tree and the registry.

The API validates every body against one of these before calling a service
(``village_grid.api.validation.json_body``); the OpenAPI document shows them.
They bound every string and list so no body can make a service choke; the
services still apply the field rules (phone format, cap, scope) themselves.
"""

from __future__ import annotations

from village_grid.edge import COUNT_OUT, ID, NONBLANK, page_out
from village_grid.hierarchy.labels import UNIT_CODE_MAX
from village_grid.hierarchy.service import RELATIONS
from village_grid.models import HOUSEHOLD_FLAGS
from village_grid.models.units import UNIT_KINDS

# Ids are positive 32-bit integers on every engine: a larger number is a bad
# request, not a database error (village_grid.edge).
# What validation.normalise_phone takes, written out (it takes a little more: the
# API asks for these forms). Empty: no phone.
PHONE = {
    "type": "string",
    "maxLength": 30,
    "pattern": (
        r"^(?:"
        r"(?:(?:\+86|0086)[ -]?)?1[3-9][0-9](?:[ -]?[0-9]{4}){2}"  # mobile: 138 0013 8000
        r"|0[0-9]{2,3}-[0-9]{7,8}(?:-[0-9]{1,6})?"  # landline: 0591-87654321(-123)
        r"|0[0-9]{9,11}"  # landline without a dash
        r")?$"
    ),
}

# The administrative division code (hierarchy/divisions.py): empty, or 6, 9 or 12
# digits (county, township, village); the service checks it lies inside the parent's.
DIVISION_CODE = {"type": "string", "maxLength": 12, "pattern": "^([0-9]{6}|[0-9]{9}|[0-9]{12})?$"}

UNIT_CREATE = {
    "type": "object",
    "required": ["kind", "name", "parent_id"],
    "additionalProperties": False,
    "properties": {
        "kind": {"type": "string", "enum": list(UNIT_KINDS)},
        "name": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": NONBLANK},
        # null makes a new root (administrators only).
        "parent_id": {**ID, "type": ["integer", "null"]},
        # Empty: the next free number among its siblings.
        "code": {"type": "string", "maxLength": UNIT_CODE_MAX, "pattern": "^[A-Za-z0-9]*$"},
        "division_code": DIVISION_CODE,
    },
}

UNIT_UPDATE = {
    "type": "object",
    "minProperties": 1,
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": NONBLANK},
        "division_code": DIVISION_CODE,
    },
}

MEMBER = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 50, "pattern": NONBLANK},
        "relation": {"type": "string", "enum": ["", *RELATIONS]},
        "sex": {"type": "string", "enum": ["", "M", "F", "m", "f"]},
        "birth_year": {"type": ["integer", "null"], "minimum": 1900, "maximum": 2100},
        "phone": PHONE,
    },
}

_HOUSEHOLD_FIELDS = {
    "door_no": {"type": "string", "maxLength": 50},
    "address": {"type": "string", "maxLength": 200},
    "head_name": {"type": "string", "minLength": 1, "maxLength": 50, "pattern": NONBLANK},
    "phone": PHONE,
    "latitude": {"type": ["number", "null"], "minimum": -90, "maximum": 90},
    "longitude": {"type": ["number", "null"], "minimum": -180, "maximum": 180},
    "flags": {
        "type": "array",
        "items": {"type": "string", "enum": list(HOUSEHOLD_FLAGS)},
        "uniqueItems": True,
        "maxItems": len(HOUSEHOLD_FLAGS),
    },
    # A household of more than 50 people is a typo, not a family.
    "members": {"type": "array", "items": MEMBER, "maxItems": 50},
}

HOUSEHOLD_CREATE = {
    "type": "object",
    "required": ["team_id", "head_name"],
    "additionalProperties": False,
    "properties": {"team_id": ID, **_HOUSEHOLD_FIELDS},
}

# PATCH: any subset of the fields; "members" replaces the whole list. Moving to
# another team is its own endpoint (the cap and a new code come with it).
HOUSEHOLD_UPDATE = {
    "type": "object",
    "additionalProperties": False,
    "properties": dict(_HOUSEHOLD_FIELDS),
}

HOUSEHOLD_MOVE = {
    "type": "object",
    "required": ["team_id"],
    "additionalProperties": False,
    "properties": {"team_id": ID},
}

# The upload form of POST /api/v1/import (multipart/form-data; shown in OpenAPI only).
IMPORT_FORM = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "file": {
            "type": "string",
            "contentMediaType": "application/octet-stream",
            "description": "CSV (UTF-8 or GB18030) or XLSX, columns as in the export",
        }
    },
}


# --- answers: what the API sends back (OpenAPI responses; tests/test_api_fuzz.py
# checks every answer against them). Names end in _OUT.

TIME_OUT = {"type": "string", "format": "date-time"}


def nullable(schema: dict) -> dict:
    """``schema`` or null."""
    return {"anyOf": [schema, {"type": "null"}]}


UNIT_BRIEF_OUT = {
    "type": "object",
    "required": ["id", "kind", "name", "code", "division_code"],
    "properties": {
        "id": ID,
        "kind": {"type": "string", "enum": list(UNIT_KINDS)},
        "name": {"type": "string"},
        "code": {"type": "string"},
        "division_code": {"type": "string"},
        "household_count": COUNT_OUT,
    },
}

UNIT_OUT = {
    **UNIT_BRIEF_OUT,
    "required": [*UNIT_BRIEF_OUT["required"], "household_count", "parent_id", "path", "depth"],
    "properties": {
        **UNIT_BRIEF_OUT["properties"],
        "parent_id": nullable(ID),
        "path": {"type": "string", "pattern": r"^/(\d+/)+$"},
        "depth": COUNT_OUT,
    },
}

UNIT_DETAIL_OUT = {
    **UNIT_OUT,
    "required": [*UNIT_OUT["required"], "children", "breadcrumb"],
    "properties": {
        **UNIT_OUT["properties"],
        "children": {"type": "array", "items": UNIT_BRIEF_OUT},
        "breadcrumb": {"type": "array", "items": UNIT_BRIEF_OUT},
    },
}

UNIT_LIST_OUT = page_out("units", UNIT_OUT)

MEMBER_OUT = {
    "type": "object",
    "required": ["id", "name", "relation", "sex", "birth_year", "phone"],
    "properties": {
        "id": ID,
        "name": {"type": "string"},
        "relation": {"type": ["string", "null"]},
        "sex": {"type": ["string", "null"]},
        "birth_year": {"type": ["integer", "null"]},
        "phone": {"type": ["string", "null"]},
    },
}

HOUSEHOLD_OUT = {
    "type": "object",
    "required": [
        "id", "code", "team_id", "team_name", "door_no", "address", "head_name", "phone",
        "latitude", "longitude", "flags", "members", "created_at", "updated_at", "report_url",
    ],
    "properties": {
        "id": ID,
        "code": {"type": "string"},
        "team_id": ID,
        "team_name": {"type": "string"},
        "door_no": {"type": ["string", "null"]},
        "address": {"type": ["string", "null"]},
        "head_name": {"type": "string"},
        "phone": {"type": ["string", "null"]},
        "latitude": {"type": ["number", "null"]},
        "longitude": {"type": ["number", "null"]},
        "flags": {"type": "array", "items": {"type": "string", "enum": list(HOUSEHOLD_FLAGS)}},
        "members": {"type": "array", "items": MEMBER_OUT},
        "created_at": nullable(TIME_OUT),
        "updated_at": nullable(TIME_OUT),
        # The door plate's address: only to staff who may see the household.
        "report_url": {"type": ["string", "null"]},
    },
}  # fmt: skip

IMPORT_RESULT_OUT = {
    "type": "object",
    "required": [
        "units_created",
        "households_created",
        "members_created",
        "people_created",
        "roles_assigned",
        "households_unchanged",
        "rows",
    ],
    "properties": {
        "units_created": COUNT_OUT,
        "households_created": COUNT_OUT,
        "members_created": COUNT_OUT,
        "people_created": COUNT_OUT,
        "roles_assigned": COUNT_OUT,
        "households_unchanged": COUNT_OUT,
        "rows": COUNT_OUT,
    },
}

IMPORT_JOB_OUT = {
    "type": "object",
    "required": ["job_id", "state", "rows_total", "rows_checked", "result", "rows", "page"],
    "properties": {
        "job_id": ID,
        "state": {
            "type": "string",
            "enum": ["queued", "checking", "writing", "done", "rejected", "failed"],
        },
        "rows_total": COUNT_OUT,
        "rows_checked": COUNT_OUT,
        "result": {"anyOf": [IMPORT_RESULT_OUT, {"type": "null"}]},
        "rows": {"type": ["array", "null"], "items": {"type": "object"}},
        "page": {"type": "string"},
    },
}

# A unit's work-group robot (hierarchy/robots.py; notify.channels.check_url says the
# rest: a WeCom address carries its key). https, a host name, printable ASCII.
ROBOT_URL_PATTERN = r"^https://[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(/[!-~]*)?$"

ROBOT_SET = {
    "type": "object",
    "required": ["url"],
    "additionalProperties": False,
    "properties": {
        "url": {
            "type": "string",
            "minLength": 10,
            "maxLength": 500,
            "pattern": ROBOT_URL_PATTERN,
            "examples": ["https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=5aaa-example"],
        }
    },
}

ROBOT_OUT = {
    "type": "object",
    "required": ["unit_id", "own", "inherited_from", "inherited", "default"],
    "properties": {
        "unit_id": ID,
        "own": {"type": "string", "description": "its own robot's URL, masked; '' for none"},
        "inherited_from": {
            "type": ["integer", "null"],
            "description": "the unit whose robot serves it, when not its own",
        },
        "inherited": {"type": "string", "description": "that robot's URL, masked"},
        "default": {"type": "string", "description": "the server's channel, masked"},
    },
}

ROBOT_TEST_OUT = {
    "type": "object",
    "required": ["sent_to"],
    "properties": {"sent_to": {"type": "string", "description": "the robot's URL, masked"}},
}
