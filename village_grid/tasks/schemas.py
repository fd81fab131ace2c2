"""JSON Schemas of the task API bodies (checked by ``api.validation.json_body``)."""

from __future__ import annotations

from village_grid.models import HOUSEHOLD_FLAGS
from village_grid.models.tasks import HELP_KINDS, SWEEP_KINDS, TASK_KINDS

FILTER = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "flags": {
            "type": "array",
            "items": {"type": "string", "enum": list(HOUSEHOLD_FLAGS)},
            "uniqueItems": True,
        },
        "unit_ids": {
            "type": "array",
            "items": {"type": "integer", "minimum": 1},
            "maxItems": 1000,
        },
    },
}

QUESTION = {
    "type": "object",
    "required": ["text"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "minLength": 1, "maxLength": 20},
        "type": {"type": "string", "enum": ["choice", "number", "text"]},
        "text": {"type": "string", "minLength": 1, "maxLength": 200},
        "choices": {
            "type": "array",
            "items": {"type": "string", "minLength": 1, "maxLength": 100},
            "minItems": 2,
            "maxItems": 20,
        },
    },
}

DISPATCH = {
    "type": "object",
    "required": ["kind", "title", "unit_id"],
    "additionalProperties": False,
    "properties": {
        "kind": {"type": "string", "enum": list(TASK_KINDS)},
        "subkind": {"type": "string", "maxLength": 20},
        "title": {"type": "string", "minLength": 1, "maxLength": 200},
        "body": {"type": "string", "maxLength": 5000},
        "unit_id": {"type": "integer", "minimum": 1},
        "deadline_minutes": {"type": ["integer", "null"], "minimum": 1, "maximum": 129600},
        "filter": FILTER,
        "questions": {"type": "array", "items": QUESTION, "maxItems": 20},
    },
}

PREVIEW = {
    "type": "object",
    "required": ["unit_id"],
    "additionalProperties": False,
    "properties": {"unit_id": {"type": "integer", "minimum": 1}, "filter": FILTER},
}

STATUS = {
    "type": "object",
    "required": ["status"],
    "additionalProperties": False,
    "properties": {
        "status": {"type": "string", "enum": ["safe", "needs_help", "not_home", "unreachable"]},
        "kind": {"type": "string", "enum": ["", *HELP_KINDS]},
        "note": {"type": "string", "maxLength": 500},
        "answers": {"type": "object", "maxProperties": 20},
        "client_op_id": {"type": "string", "minLength": 1, "maxLength": 64},
        "client_time": {"type": "string", "format": "date-time", "maxLength": 40},
        "via": {"type": "string", "enum": ["api", "team_lead", "cadre", "sync"]},
    },
}

RESOLVE = {
    "type": "object",
    "required": ["note"],
    "additionalProperties": False,
    "properties": {"note": {"type": "string", "minLength": 1, "maxLength": 500}},
}

SWEEP_SUBKINDS = list(SWEEP_KINDS)
