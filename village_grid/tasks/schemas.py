"""JSON Schemas of the task API bodies (checked by ``api.validation.json_body``).

Kinds, statuses and limits come from ``tasks/labels.py``; the services check
them again, so a schema only keeps malformed bodies out early.
"""

from __future__ import annotations

from village_grid.edge import COUNT_OUT, ID, NONBLANK, page_out
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
        "text": {
            "type": "string",
            "minLength": 1,
            "maxLength": labels.QUESTION_TEXT_MAX,
            "pattern": NONBLANK,
        },
        "choices": {
            "type": "array",
            "items": {
                "type": "string",
                "minLength": 1,
                "maxLength": labels.CHOICE_MAX,
                "pattern": NONBLANK,
            },
            "minItems": 2,
            "maxItems": labels.CHOICES_MAX,
        },
    },
    # A choice question lists its choices.
    "if": {"required": ["type"], "properties": {"type": {"const": "choice"}}},
    "then": {"required": ["choices"]},
}

DISPATCH = {
    "type": "object",
    "required": ["kind", "title", "unit_id"],
    "additionalProperties": False,
    "properties": {
        "kind": {"type": "string", "enum": list(labels.TASK_KINDS)},
        "subkind": {"type": "string", "maxLength": labels.SUBKIND_MAX},
        "title": {
            "type": "string",
            "minLength": 1,
            "maxLength": labels.TITLE_MAX,
            "pattern": NONBLANK,
        },
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
    "allOf": [
        {  # a sweep says what it checks (empty: "other")
            "if": {"properties": {"kind": {"const": "sweep"}}},
            "then": {"properties": {"subkind": {"enum": ["", *labels.SWEEP_KINDS]}}},
        },
        {  # a survey asks at least one question
            "if": {"properties": {"kind": {"const": "survey"}}},
            "then": {"required": ["questions"], "properties": {"questions": {"minItems": 1}}},
        },
    ],
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
    "properties": {
        "note": {
            "type": "string",
            "minLength": 1,
            "maxLength": labels.NOTE_MAX,
            "pattern": NONBLANK,
        }
    },
}


# --- answers: what the API sends back (names end in _OUT) ---------------------

TIME_OUT = {"type": "string", "format": "date-time"}
MAYBE_TIME_OUT = {"anyOf": [TIME_OUT, {"type": "null"}]}
TEXT_OUT = {"type": "string"}

QUESTION_OUT = {
    "type": "object",
    "required": ["id", "type", "text"],
    "properties": {
        "id": TEXT_OUT,
        "type": {"type": "string", "enum": list(labels.QUESTION_TYPES)},
        "text": TEXT_OUT,
        "choices": {"type": "array", "items": TEXT_OUT},
    },
}

TASK_OUT = {
    "type": "object",
    "required": [
        "id", "status", "kind", "subkind", "title", "body", "unit_id", "filter", "questions",
        "deadline", "created_at", "created_by_id", "closed_at", "households", "teams",
    ],
    "properties": {
        "id": ID,
        # draft (from an official warning, not sent), withdrawn, open, closed
        "status": {"type": "string", "enum": list(labels.TASK_STATUSES)},
        "kind": {"type": "string", "enum": list(labels.TASK_KINDS)},
        "subkind": TEXT_OUT,
        "title": TEXT_OUT,
        "body": TEXT_OUT,
        "unit_id": ID,
        "filter": {"type": "object"},
        "questions": {"type": "array", "items": QUESTION_OUT},
        "deadline": MAYBE_TIME_OUT,
        "created_at": TIME_OUT,
        "created_by_id": {"anyOf": [ID, {"type": "null"}]},
        "closed_at": MAYBE_TIME_OUT,
        "households": COUNT_OUT,
        "teams": COUNT_OUT,
    },
}  # fmt: skip

TASK_LIST_OUT = {
    "type": "object",
    "required": ["tasks"],
    "properties": {"tasks": {"type": "array", "items": TASK_OUT}},
}

DISPATCHED_OUT = {
    "type": "object",
    "required": ["id", "households", "teams"],
    "properties": {"id": ID, "households": COUNT_OUT, "teams": COUNT_OUT},
}

PREVIEW_OUT = {
    "type": "object",
    "required": ["households", "teams"],
    "properties": {"households": COUNT_OUT, "teams": COUNT_OUT},
}

_COUNTS_OUT = {key: COUNT_OUT for key in labels.COUNT_KEYS}

_UNIT_BRIEF_OUT = {
    "type": "object",
    "required": ["id", "kind", "name"],
    "properties": {"id": ID, "kind": TEXT_OUT, "name": TEXT_OUT},
}
_LEVEL_UNIT_OUT = {
    "type": "object",
    "required": ["id", "kind", "name", "parent_id", "depth"],
    "properties": {
        "id": ID,
        "kind": TEXT_OUT,
        "name": TEXT_OUT,
        "parent_id": {"anyOf": [ID, {"type": "null"}]},
        "depth": COUNT_OUT,
    },
}
# A household of a task as lists give it (tasks/progress.household_rows).
HOUSEHOLD_ROW_OUT = {
    "type": "object",
    "required": ["household_id", "code", "status", "help_kind", "note"],
    "properties": {
        "household_id": ID,
        "code": TEXT_OUT,
        "status": {"type": "string", "enum": list(labels.STATUSES)},
        "help_kind": TEXT_OUT,
        "note": TEXT_OUT,
        "updated_at": MAYBE_TIME_OUT,
    },
}
PROGRESS_OUT = {
    "type": "object",
    "required": [
        "id", "kind", "closed", "covered", "unit", "trail", "children", "needs_help_cases",
        *_COUNTS_OUT,
    ],
    "properties": {
        "id": ID,
        "kind": {"type": "string", "enum": list(labels.TASK_KINDS)},
        "closed": {"type": "boolean"},
        "covered": COUNT_OUT,
        **_COUNTS_OUT,
        "unit": _LEVEL_UNIT_OUT,
        "trail": {"type": "array", "items": _UNIT_BRIEF_OUT},
        "children": {
            "type": "array",
            "items": {
                "type": "object",
                "required": [*_LEVEL_UNIT_OUT["required"], "covered", *_COUNTS_OUT],
                "properties": {
                    **_LEVEL_UNIT_OUT["properties"],
                    "covered": COUNT_OUT,
                    **_COUNTS_OUT,
                    "told": {
                        "anyOf": [
                            {"type": "null"},
                            {
                                "type": "object",
                                "required": ["name", "phone", "role"],
                                "properties": {
                                    "name": TEXT_OUT,
                                    "phone": TEXT_OUT,
                                    "role": TEXT_OUT,
                                },
                            },
                        ]
                    },
                },
            },
        },
        "needs_help_cases": {"type": "array", "items": HOUSEHOLD_ROW_OUT},
    },
}  # fmt: skip
# One page of a task's households (GET /tasks/<id>/households).
TASK_HOUSEHOLDS_OUT = page_out("households", HOUSEHOLD_ROW_OUT)

STATUS_EVENT_OUT = {
    "type": "object",
    "required": [
        "event_id", "assignment_id", "task_id", "household_id", "status", "kind", "note", "via",
        "client_op_id", "created_at",
    ],
    "properties": {
        "event_id": ID,
        "assignment_id": {"anyOf": [ID, {"type": "null"}]},
        "task_id": ID,
        "household_id": ID,
        "status": {"type": "string", "enum": list(labels.REPORTED_STATUSES)},
        "kind": {"type": "string", "enum": ["", *labels.HELP_KINDS]},
        "note": TEXT_OUT,
        "via": {"type": "string", "enum": list(labels.VIA)},
        "client_op_id": {"type": ["string", "null"]},
        "created_at": TIME_OUT,
        "result": {"type": "string", "enum": list(labels.REPORT_RESULTS)},
        "clamped": {"anyOf": [{"type": "string", "enum": list(labels.CLAMPED)}, {"type": "null"}]},
        "told": {"type": "array", "items": {"type": "string"}},
    },
}  # fmt: skip

READ_OUT = {
    "type": "object",
    "required": ["task_id", "read_at"],
    "properties": {"task_id": ID, "read_at": TIME_OUT},
}

_PERSON_OUT = {
    "type": "object",
    "required": ["id", "name", "phone"],
    "properties": {"id": ID, "name": TEXT_OUT, "phone": {"type": ["string", "null"]}},
}

ESCALATION_OUT = {
    "type": "object",
    "required": [
        "id", "task", "reason", "level", "status", "help_kind", "note", "household", "team",
        "assignee", "opened_at", "acknowledged_at", "resolved_at", "resolution_note",
    ],
    "properties": {
        "id": ID,
        "task": {
            "type": "object",
            "required": ["id", "title", "kind"],
            "properties": {"id": ID, "title": TEXT_OUT, "kind": TEXT_OUT},
        },
        "reason": TEXT_OUT,
        "level": COUNT_OUT,
        "status": {"type": "string", "enum": list(labels.ESCALATION_STATES)},
        "help_kind": TEXT_OUT,
        "note": TEXT_OUT,
        # None for a case about a team (households not reached, a notice not read, a
        # silent lead).
        "household": {
            "anyOf": [
                {
                    "type": "object",
                    "required": ["id", "code", "head_name", "phone"],
                    "properties": {"id": ID, "code": TEXT_OUT, "head_name": TEXT_OUT},
                },
                {"type": "null"},
            ]
        },
        # A team's households not reached by the deadline (reason "overdue").
        "households": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "code", "head_name", "phone"],
                "properties": {"id": ID, "code": TEXT_OUT, "head_name": TEXT_OUT},
            },
        },
        # A call for help: the household's status now (a later answer does not close it).
        "status_now": {
            "anyOf": [
                {
                    "type": "object",
                    "required": ["status", "via", "at"],
                    "properties": {
                        "status": {"type": "string", "enum": list(labels.STATUSES)},
                        "via": TEXT_OUT,
                        "at": MAYBE_TIME_OUT,
                    },
                },
                {"type": "null"},
            ]
        },
        "team": {"type": ["object", "null"]},
        # A notice not read: the person told for the team, and when they read it.
        "told": {
            "anyOf": [
                {
                    "type": "object",
                    "required": ["id", "name", "phone", "role", "read_at"],
                    "properties": {
                        "id": ID,
                        "name": TEXT_OUT,
                        "phone": TEXT_OUT,
                        "role": TEXT_OUT,
                        "read_at": MAYBE_TIME_OUT,
                    },
                },
                {"type": "null"},
            ]
        },
        "unit": {"type": ["object", "null"]},
        "assignee": {"anyOf": [_PERSON_OUT, {"type": "null"}]},
        "opened_at": TIME_OUT,
        "acknowledged_at": MAYBE_TIME_OUT,
        "resolved_at": MAYBE_TIME_OUT,
        "resolution_note": TEXT_OUT,
    },
}  # fmt: skip

ESCALATION_LIST_OUT = page_out("escalations", ESCALATION_OUT)
