"""JSON Schemas of the warnings API: the CAP body (as the OpenAPI document shows it;
the document itself is checked by ``cap.py``) and the answers."""

from __future__ import annotations

from village_grid.edge import COUNT_OUT, ID
from village_grid.tasks.schemas import MAYBE_TIME_OUT, TIME_OUT
from village_grid.warnings import labels

# The body of POST /api/v1/warnings: a CAP 1.2 XML document (application/cap+xml).
CAP_BODY = {
    "type": "string",
    "description": "A CAP 1.2 document (urn:oasis:names:tc:emergency:cap:1.2), at most "
    "WARNINGS_MAX_BYTES; no DTD, no entities.",
}
CAP_MEDIA_TYPES = ("application/cap+xml", "application/xml", "text/xml")

DRAFT_OUT = {
    "type": "object",
    "required": ["task_id", "unit_id", "households", "change", "state"],
    "properties": {
        "task_id": ID,
        "unit_id": ID,
        "households": COUNT_OUT,
        # drafted, amended, withdrawn, sent_before: what this warning did to the task
        "change": {"type": "string"},
        "state": {"type": "string", "enum": list(labels.DRAFT_STATE_LABELS)},
    },
}

WARNING_OUT = {
    "type": "object",
    "required": [
        "id", "identifier", "msg_type", "status", "event", "severity", "urgency", "headline",
        "sender_name", "onset", "expires", "received_at", "received_via", "outcome", "drafts",
    ],
    "properties": {
        "id": ID,
        "identifier": {"type": "string"},
        "msg_type": {"type": "string"},
        "status": {"type": "string"},
        "event": {"type": "string"},
        "severity": {"type": "string", "enum": list(labels.SEVERITIES)},
        "urgency": {"type": "string"},
        "headline": {"type": "string"},
        "sender_name": {"type": "string"},
        "onset": MAYBE_TIME_OUT,
        "expires": MAYBE_TIME_OUT,
        "received_at": TIME_OUT,
        "received_via": {"type": "string", "enum": list(labels.VIAS)},
        "outcome": {"type": "string"},
        "drafts": {"type": "array", "items": DRAFT_OUT},
    },
}  # fmt: skip

WARNING_LIST_OUT = {
    "type": "object",
    "required": ["warnings"],
    "properties": {"warnings": {"type": "array", "items": WARNING_OUT}},
}
