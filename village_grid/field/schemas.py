"""JSON Schemas of the field API (``POST /api/v1/field/sync``), body and answer.

The batch is checked here (an object with at most ``SYNC_MAX_OPS`` operations);
each operation is checked by the sync service (``field/sync.py``), so that a
malformed one is rejected on its own with its reason while the rest of the batch
applies. The operation's fields are described for clients, not enforced here.
"""

from __future__ import annotations

from village_grid.field import labels
from village_grid.tasks import labels as task_labels

# One queued tap, as the phone writes it (checked per operation by field/sync.py).
OP = {
    "type": "object",
    "description": (
        "One tap queued on the phone. op_id: made on the phone (a UUID), 1 to "
        f"{task_labels.CLIENT_OP_ID_MAX} characters; task_id, household_id: ids; status: "
        f"{', '.join(task_labels.REPORTED_STATUSES)}; kind (needs_help): "
        f"{', '.join(task_labels.HELP_KINDS)}; note: at most {task_labels.NOTE_MAX} characters; "
        "at: the phone's time in ISO 8601 with its offset. A malformed operation is "
        "rejected on its own with its reason."
    ),
    "properties": {
        "op_id": {"description": "made on the phone, unique (a UUID)"},
        "task_id": {"description": "the task"},
        "household_id": {"description": "the household"},
        "status": {"description": "safe, needs_help, not_home or unreachable"},
        "kind": {"description": "the kind of help, for needs_help"},
        "note": {"description": "an optional note"},
        "at": {"description": "when it was tapped, ISO 8601 with the offset"},
    },
    "examples": [
        {
            "op_id": "7f1c9a52-3b7e-4f0e-9d7c-2a1b5e8c4d31",
            "task_id": 1,
            "household_id": 1,
            "status": "needs_help",
            "kind": "medical",
            "note": "老人摔倒",
            "at": "2026-07-25T18:42:05+08:00",
        }
    ],
}

SYNC = {
    "type": "object",
    "required": ["ops"],
    "additionalProperties": False,
    "properties": {
        "ops": {"type": "array", "items": OP, "maxItems": labels.SYNC_MAX_OPS},
    },
}

SYNC_OUT = {
    "type": "object",
    "required": ["results", "applied", "duplicate", "rejected"],
    "properties": {
        "results": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["op_id", "result"],
                "properties": {
                    "op_id": {"type": ["string", "null"]},
                    "result": {"type": "string", "enum": list(labels.OP_RESULTS)},
                    "error": {
                        "type": "object",
                        "required": ["code", "message"],
                        "properties": {
                            "code": {"type": "string"},
                            "message": {"type": "string"},
                            "fields": {"type": "object"},
                        },
                    },
                    "clamped": {"type": "string", "enum": list(task_labels.CLAMPED)},
                    # Older than the household's latest status: kept as an event only.
                    "older": {"type": "boolean"},
                },
            },
        },
        "applied": {"type": "integer", "minimum": 0},
        "duplicate": {"type": "integer", "minimum": 0},
        "rejected": {"type": "integer", "minimum": 0},
        "synced_at": {"type": "string", "format": "date-time"},
    },
}
