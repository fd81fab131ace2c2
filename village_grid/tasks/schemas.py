"""JSON Schemas of the task API bodies (checked by ``api.validation.json_body``).

Kinds, statuses and limits come from ``tasks/labels.py``; the services check
them again, so a schema only keeps malformed bodies out early.
"""

from __future__ import annotations

from village_grid.edge import ID
from village_grid.models import HOUSEHOLD_FLAGS
from village_grid.tasks import labels

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
            "items": ID,
            "maxItems": 1000,
        },
    },
}

QUESTION = {
    "type": "object",
    "required": ["text"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "minLength": 1, "maxLength": labels.QUESTION_ID_MAX},
        "type": {"type": "string", "enum": list(labels.QUESTION_TYPES)},
        "text": {"type": "string", "minLength": 1, "maxLength": labels.QUESTION_TEXT_MAX},
        "choices": {
            "type": "array",
            "items": {"type": "string", "minLength": 1, "maxLength": labels.CHOICE_MAX},
            "minItems": 2,
            "maxItems": labels.CHOICES_MAX,
        },
    },
}

DISPATCH = {
    "type": "object",
    "required": ["kind", "title", "unit_id"],
    "additionalProperties": False,
    "properties": {
        "kind": {"type": "string", "enum": list(labels.TASK_KINDS)},
        "subkind": {"type": "string", "maxLength": labels.SUBKIND_MAX},
        "title": {"type": "string", "minLength": 1, "maxLength": labels.TITLE_MAX},
        "body": {"type": "string", "maxLength": labels.BODY_MAX},
        "unit_id": ID,
        "deadline_minutes": {
            "type": ["integer", "null"],
            "minimum": labels.DEADLINE_MINUTES_MIN,
            "maximum": labels.DEADLINE_MINUTES_MAX,
        },
        "filter": FILTER,
        "questions": {"type": "array", "items": QUESTION, "maxItems": labels.QUESTIONS_MAX},
    },
}

PREVIEW = {
    "type": "object",
    "required": ["unit_id"],
    "additionalProperties": False,
    "properties": {"unit_id": ID, "filter": FILTER},
}

# How the status came is decided by the service from who sends it, not sent.
STATUS = {
    "type": "object",
    "required": ["status"],
    "additionalProperties": False,
    "properties": {
        "status": {"type": "string", "enum": list(labels.REPORTED_STATUSES)},
        "kind": {"type": "string", "enum": ["", *labels.HELP_KINDS]},
        "note": {"type": "string", "maxLength": labels.NOTE_MAX},
        "answers": {"type": "object", "maxProperties": labels.QUESTIONS_MAX},
        "client_op_id": {"type": "string", "minLength": 1, "maxLength": labels.CLIENT_OP_ID_MAX},
        "client_time": {"type": "string", "format": "date-time", "maxLength": 40},
    },
}

RESOLVE = {
    "type": "object",
    "required": ["note"],
    "additionalProperties": False,
    "properties": {"note": {"type": "string", "minLength": 1, "maxLength": labels.NOTE_MAX}},
}
