"""JSON Schemas of the public door-plate API (bodies are bounded here before any service runs)."""

from village_grid.edge import ID, NONBLANK
from village_grid.hierarchy.schemas import PHONE
from village_grid.qr.labels import CATEGORIES, TEXT_MAX
from village_grid.tasks.labels import ANSWER_TEXT_MAX, HELP_KINDS, HOUSEHOLD_ANSWERS, NOTE_MAX

PUBLIC_REPORT = {
    "type": "object",
    "required": ["task_id", "status"],
    "additionalProperties": False,
    "properties": {
        "task_id": ID,
        "status": {"type": "string", "enum": list(HOUSEHOLD_ANSWERS)},
        "kind": {"type": "string", "enum": ["", *HELP_KINDS]},
        "note": {"type": "string", "maxLength": NOTE_MAX},
        "answers": {
            "type": ["object", "null"],
            "maxProperties": 50,
            "propertyNames": {"maxLength": 40},
            "additionalProperties": {
                "type": ["string", "number", "null"],
                "maxLength": ANSWER_TEXT_MAX,
            },
        },
    },
}

PUBLIC_MAILBOX = {
    "type": "object",
    "required": ["category", "text"],
    "additionalProperties": False,
    "properties": {
        "category": {"type": "string", "enum": list(CATEGORIES)},
        "text": {"type": "string", "minLength": 1, "maxLength": TEXT_MAX, "pattern": NONBLANK},
        "callback_phone": PHONE,
    },
}


# --- answers: what a stranger at the door is sent (names end in _OUT). Closed:
# a key added to these answers must be added here, on purpose — nothing private.

_TIME_OUT = {"type": "string", "format": "date-time"}
_MAYBE_TIME_OUT = {"anyOf": [_TIME_OUT, {"type": "null"}]}

PUBLIC_TASK_OUT = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "id", "kind", "subkind", "title", "body", "deadline", "questions", "answered",
        "answered_at",
    ],
    "properties": {
        "id": ID,
        "kind": {"type": "string"},
        "subkind": {"type": "string"},
        "title": {"type": "string"},
        "body": {"type": "string"},
        "deadline": _MAYBE_TIME_OUT,
        "questions": {"type": "array", "items": {"type": "object"}},
        "answered": {"type": "boolean"},
        "answered_at": _MAYBE_TIME_OUT,
    },
}  # fmt: skip

PUBLIC_MESSAGE_OUT = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "tracking_no", "category", "category_label", "text", "status", "reply", "created_at",
        "replied_at",
    ],
    "properties": {
        "tracking_no": {"type": "string"},
        "category": {"type": "string", "enum": list(CATEGORIES)},
        "category_label": {"type": "string"},
        # Only on the phone that wrote the note.
        "text": {"type": ["string", "null"]},
        "status": {"type": "string"},
        "reply": {"type": ["string", "null"]},
        "created_at": _MAYBE_TIME_OUT,
        "replied_at": _MAYBE_TIME_OUT,
    },
}  # fmt: skip

PUBLIC_MESSAGES_OUT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["messages"],
    "properties": {"messages": {"type": "array", "items": PUBLIC_MESSAGE_OUT}},
}

PUBLIC_HOUSEHOLD_OUT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["household", "tasks", "messages"],
    "properties": {
        "household": {
            "type": "object",
            "additionalProperties": False,
            "required": ["code"],
            "properties": {"code": {"type": "string"}},
        },
        "tasks": {"type": "array", "items": PUBLIC_TASK_OUT},
        "messages": {"type": "array", "items": PUBLIC_MESSAGE_OUT},
    },
}

PUBLIC_REPORTED_OUT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["task_id", "status", "received_at"],
    "properties": {
        "task_id": ID,
        "status": {"type": "string"},
        "received_at": _TIME_OUT,
        # A call for help: the roles told at once (nearest first), and the words shown.
        "told": {"type": "array", "items": {"type": "string"}},
        "message": {"type": "string"},
    },
}
