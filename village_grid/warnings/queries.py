"""Reads of warnings for the pages and the API: the warnings in a person's scope,
newest first, each with the drafts it touched and their state; one warning; the
warning behind a draft."""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import exists, select
from sqlalchemy.orm import Session, selectinload

from village_grid.auth import scope
from village_grid.errors import OutOfScope
from village_grid.models import OfficialWarning, Task, Unit, User, WarningDraft
from village_grid.models.base import utcnow
from village_grid.warnings import labels


def draft_state(task: Task, warning: OfficialWarning, now: datetime | None = None) -> str:
    """drafted, sent, withdrawn, or ignored (never sent, and the warning has expired)."""
    now = now or utcnow()
    if task.status in ("open", "closed"):
        return "sent"
    if task.status == "withdrawn":
        return "withdrawn"
    if warning.expires is not None and warning.expires <= now:
        return "ignored"
    return "drafted"


def _in_scope(actor: User | None):
    """SQL: the warning touched a village in the actor's scope (everything: admins)."""
    paths = None if actor is None else scope.scope_paths(actor, "view")
    if paths is None:
        return None
    return exists(
        select(WarningDraft.id)
        .join(Unit, Unit.id == WarningDraft.unit_id)
        .where(WarningDraft.warning_id == OfficialWarning.id, scope.paths_clause(paths, Unit.path))
    )


def warnings_in_scope(
    session: Session, actor: User | None, *, limit: int = labels.PAGE_SIZE, offset: int = 0
) -> list[OfficialWarning]:
    """Newest first, with their drafts (and the drafts' tasks and villages) loaded."""
    q = (
        select(OfficialWarning)
        .options(
            selectinload(OfficialWarning.drafts).selectinload(WarningDraft.task),
            selectinload(OfficialWarning.drafts).selectinload(WarningDraft.unit),
        )
        .order_by(OfficialWarning.received_at.desc(), OfficialWarning.id.desc())
        .limit(limit)
        .offset(offset)
    )
    cond = _in_scope(actor)
    if cond is not None:
        q = q.where(cond)
    return list(session.scalars(q))


def drafts_in_scope(warning: OfficialWarning, actor: User | None) -> list[WarningDraft]:
    """The warning's drafts the actor may see."""
    paths = None if actor is None else scope.scope_paths(actor, "view")
    return [d for d in warning.drafts if scope.within(d.unit.path, paths)]


def get_warning(session: Session, actor: User | None, warning_id: int) -> OfficialWarning:
    """One warning in the actor's scope; OutOfScope otherwise."""
    q = select(OfficialWarning).where(OfficialWarning.id == warning_id)
    cond = _in_scope(actor)
    if cond is not None:
        q = q.where(cond)
    warning = session.scalar(q)
    if warning is None:
        raise OutOfScope(_("No such warning."))
    return warning


def warning_of_task(session: Session, task_id: int) -> tuple[OfficialWarning, WarningDraft] | None:
    """The newest warning that touched a task, with its row (None: not from a warning)."""
    row = session.scalar(
        select(WarningDraft)
        .where(WarningDraft.task_id == task_id)
        .order_by(WarningDraft.id.desc())
        .limit(1)
    )
    return (row.warning, row) if row is not None else None


def autosend_pending(session: Session, task_id: int) -> WarningDraft | None:
    """The row that will send this draft by itself, if any (not held)."""
    return session.scalar(
        select(WarningDraft).where(
            WarningDraft.task_id == task_id,
            WarningDraft.autosend_at.is_not(None),
            WarningDraft.held_at.is_(None),
        )
    )
