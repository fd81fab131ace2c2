"""JSON answers about people: the people list and a sign-in link just made."""

from __future__ import annotations

from village_grid.edge import ID, page_out
from village_grid.models import ROLES

TIME_OUT = {"type": ["string", "null"], "format": "date-time"}

PERSON_OUT = {
    "type": "object",
    "required": ["id", "name", "username", "phone", "has_password", "last_sign_in_at", "roles"],
    "properties": {
        "id": ID,
        "name": {"type": "string"},
        "username": {"type": "string"},
        "phone": {"type": ["string", "null"]},
        "has_password": {"type": "boolean"},
        "available": {"type": "boolean"},
        "last_sign_in_at": TIME_OUT,
        "roles": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["role", "unit_id", "unit_name"],
                "properties": {
                    "role": {"type": "string", "enum": list(ROLES)},
                    "unit_id": {"anyOf": [ID, {"type": "null"}]},
                    "unit_name": {"type": ["string", "null"]},
                },
            },
        },
    },
}

PEOPLE_OUT = page_out("users", PERSON_OUT)

SIGN_IN_LINK_OUT = {
    "type": "object",
    "required": ["user_id", "url", "code", "expires_at"],
    "properties": {
        "user_id": ID,
        "url": {"type": "string"},
        "code": {"type": "string", "pattern": "^[23456789A-HJKMNP-Z]{4} [23456789A-HJKMNP-Z]{4}$"},
        "expires_at": {"type": "string", "format": "date-time"},
    },
}
