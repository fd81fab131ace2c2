"""Writing to the audit log. Every service that changes the tree, the registry,
people and roles, tasks or escalations calls :func:`record` in the same
transaction as the change, so the change and its record commit or roll back
together. Nothing in the app updates or deletes an audit event.
"""

from __future__ import annotations

from datetime import datetime

from flask import has_request_context, request
from sqlalchemy.orm import Session

from village_grid.models import AuditEvent, User
from village_grid.models.base import iso_z, utcnow


def request_addr() -> str:
    """The client's address of the current request ("" outside one: CLI, worker)."""
    if not has_request_context():
        return ""
    return (request.remote_addr or "")[:64]


def record(
    session: Session,
    actor: User | None,
    action: str,
    *,
    object_type: str = "",
    object_id: int | None = None,
    unit_path: str | None = None,
    before: dict | None = None,
    after: dict | None = None,
    client_addr: str | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    """Add one audit event to ``session`` (the caller's transaction) and return it.

    ``actor`` None is the system (command line, worker) or a household at its
    door plate. ``unit_path`` is the path of the unit the change is under: the
    audit page shows a person the events in their scope. ``before`` and
    ``after`` hold the changed fields only, as JSON-ready values.
    """
    event = AuditEvent(
        at=at or utcnow(),
        actor_id=actor.id if actor is not None else None,
        actor_label=(actor.display_name if actor is not None else "")[:100],
        action=action,
        object_type=object_type,
        object_id=object_id,
        unit_path=unit_path,
        before=before,
        after=after,
        client_addr=(request_addr() if client_addr is None else client_addr)[:64],
    )
    session.add(event)
    return event


def iso_time(value: datetime | None) -> str | None:
    """A stored (naive UTC) time as the audit log keeps it in before/after: ISO 8601
    with a Z (the page shows it in local time)."""
    return iso_z(value.replace(microsecond=0)) if value else None


def changes(before: dict, after: dict) -> tuple[dict, dict]:
    """Only the fields that differ, as (before, after)."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}
