"""``WARNINGS_AUTOSEND``: a draft of a severe enough warning sends itself N minutes
after it was made, unless someone holds it (the draft page's button). Both on the
audit log. The worker's tick calls :func:`send_due`."""

from __future__ import annotations

import logging
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from village_grid.audit.service import record
from village_grid.auth import scope
from village_grid.errors import DomainError, Forbidden
from village_grid.models import Task, User, WarningDraft
from village_grid.models.base import utcnow
from village_grid.tasks import drafts
from village_grid.tasks.queries import get_task

log = logging.getLogger(__name__)


def send_due(session: Session, *, now: datetime | None = None) -> int:
    """Send every draft whose auto-send time has come and nobody held; how many were sent.
    A draft that cannot be sent (nobody matches any more) is left for a person."""
    now = now or utcnow()
    rows = session.scalars(
        select(WarningDraft)
        .join(Task, Task.id == WarningDraft.task_id)
        .where(
            WarningDraft.autosend_at.is_not(None),
            WarningDraft.autosend_at <= now,
            WarningDraft.held_at.is_(None),
            Task.draft.is_(True),
            Task.closed_at.is_(None),
        )
        .order_by(WarningDraft.autosend_at)
    ).all()
    sent = 0
    for row in rows:
        row.autosend_at = None  # tried once, whatever happens
        try:
            with session.begin_nested():
                drafts.send_draft(session, None, row.task_id, now=now, after={"autosend": True})
                record(
                    session,
                    None,
                    "warning.autosend",
                    object_type="task",
                    object_id=row.task_id,
                    unit_path=row.unit.path,
                    after={"warning": row.warning.identifier},
                )
            sent += 1
        except DomainError as err:
            log.warning("auto-send of draft %s failed: %s", row.task_id, err.message)
    session.flush()
    return sent


def hold(session: Session, actor: User, task_id: int, *, now: datetime | None = None) -> int:
    """Stop a draft from sending itself (a person will decide); how many holds were set."""
    now = now or utcnow()
    task = get_task(session, actor, task_id)
    if not scope.may(actor, "dispatch", task.unit):
        raise Forbidden(_("You may not send tasks to %(unit)s.", unit=task.unit.name))
    rows = session.scalars(
        select(WarningDraft).where(
            WarningDraft.task_id == task.id,
            WarningDraft.autosend_at.is_not(None),
            WarningDraft.held_at.is_(None),
        )
    ).all()
    for row in rows:
        row.held_at, row.held_by_id = now, actor.id
    if rows:
        record(
            session,
            actor,
            "warning.hold",
            object_type="task",
            object_id=task.id,
            unit_path=task.unit.path,
            after={"title": task.title},
        )
    session.flush()
    return len(rows)
