"""JSON Schemas (draft 2020-12) for the API bodies of the tree and the registry.

The API validates every body against one of these before calling a service
(``village_grid.api.validation.json_body``); the OpenAPI document shows them.
They bound every string and list so no body can make a service choke; the
services still apply the field rules (phone format, cap, scope) themselves.
"""

from __future__ import annotations

from village_grid.edge import ID
from village_grid.hierarchy.service import RELATIONS
from village_grid.models import HOUSEHOLD_FLAGS
from village_grid.models.units import UNIT_KINDS

# Ids are positive 32-bit integers on every engine: a larger number is a bad
# request, not a database error (village_grid.edge).
PHONE = {"type": "string", "maxLength": 30}

UNIT_CREATE = {
    "type": "object",
    "required": ["kind", "name", "parent_id"],
    "additionalProperties": False,
    "properties": {
        "kind": {"type": "string", "enum": list(UNIT_KINDS)},
        "name": {"type": "string", "minLength": 1, "maxLength": 100},
        # null makes a new root (administrators only).
        "parent_id": {**ID, "type": ["integer", "null"]},
        "code": {"type": "string", "maxLength": 20},
    },
}

MEMBER = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 50},
        "relation": {"type": "string", "enum": ["", *RELATIONS]},
        "sex": {"type": "string", "enum": ["", "M", "F", "m", "f"]},
        "birth_year": {"type": ["integer", "null"], "minimum": 1900, "maximum": 2100},
        "phone": PHONE,
    },
}

_HOUSEHOLD_FIELDS = {
    "door_no": {"type": "string", "maxLength": 50},
    "address": {"type": "string", "maxLength": 200},
    "head_name": {"type": "string", "minLength": 1, "maxLength": 50},
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
