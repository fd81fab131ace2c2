"""JSON Schemas of the public door-plate API (bodies are bounded here before any service runs)."""

from village_grid.edge import ID
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
        "text": {"type": "string", "minLength": 1, "maxLength": TEXT_MAX},
        "callback_phone": {"type": "string", "maxLength": 30},
    },
}
