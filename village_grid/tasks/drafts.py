"""Draft sweeps: made by the system from an official warning (``village_grid/warnings``),
they reach and tell nobody — no teams, no messages, no deadline checks — until a
person (or the warning's auto-send) sends them through :func:`dispatch.launch`, the
same path as every dispatch. A draft can be amended while unsent (a warning's
Update) and withdrawn (its Cancel, or the cadre deciding not to send it).

Functions flush and never commit: the caller owns the transaction.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from village_grid.audit.service import iso_time, record
from village_grid.auth import scope
from village_grid.errors import Conflict, Forbidden
from village_grid.models import Task, User
from village_grid.models.base import utcnow
from village_grid.tasks import dispatch, labels
from village_grid.tasks.graph import get_graph
from village_grid.tasks.queries import get_task


def draft_sweep(
    session: Session,
    *,
    unit_id: int,
    subkind: str,
    title: str,
    body: str,
    deadline: datetime | None,
    filter: dict | None,
    now: datetime | None = None,
) -> Task:
    """A draft sweep of ``unit_id`` (made by the system, no actor): checked like a
    dispatch, written with no teams. Raises InvalidInput."""
    now = now or utcnow()
    subkind, title, body = dispatch.checked_fields("sweep", subkind, title[:200], body, None)
    unit = scope.load_unit(session, None, unit_id)
    flt, _conds = dispatch.clean_filter(get_graph(session), unit.id, filter)
    task = Task(
        kind="sweep",
        subkind=subkind,
        title=title,
        body=body,
        unit_id=unit.id,
        filter=flt,
        deadline=deadline,
        created_at=now,
        draft=True,
    )
    session.add(task)
    session.flush()
    record(
        session,
        None,
        "task.draft",
        object_type="task",
        object_id=task.id,
        unit_path=unit.path,
        after={
            "subkind": subkind,
            "title": title,
            "unit": unit.name,
            "deadline": iso_time(deadline),
        },
    )
    return task


def amend_draft(
    session: Session,
    task: Task,
    *,
    subkind: str,
    title: str,
    body: str,
    deadline: datetime | None,
    filter: dict | None,
) -> bool:
    """Change an unsent draft (the system, from a warning's Update); False when the task
    is no longer a draft (sent or withdrawn: it stays as it is)."""
    if task.status != "draft":
        return False
    subkind, title, body = dispatch.checked_fields("sweep", subkind, title[:200], body, None)
    flt, _conds = dispatch.clean_filter(get_graph(session), task.unit_id, filter)
    before = {"subkind": task.subkind, "title": task.title, "deadline": iso_time(task.deadline)}
    task.subkind, task.title, task.body, task.deadline, task.filter = (
        subkind,
        title,
        body,
        deadline,
        flt,
    )
    session.flush()
    record(
        session,
        None,
        "task.amend",
        object_type="task",
        object_id=task.id,
        unit_path=task.unit.path,
        before=before,
        after={"subkind": subkind, "title": title, "deadline": iso_time(deadline)},
    )
    return True


def withdraw_draft(
    session: Session, actor: User | None, task: Task, *, now: datetime | None = None
) -> bool:
    """Withdraw an unsent draft (a warning's Cancel, or a person deciding not to send
    it); False when it is not a draft any more."""
    if task.status != "draft":
        return False
    if actor is not None and not scope.may(actor, "dispatch", task.unit):
        raise Forbidden(_("Only someone who may send tasks here may withdraw the draft."))
    task.closed_at = now or utcnow()
    session.flush()
    record(
        session,
        actor,
        "task.withdraw",
        object_type="task",
        object_id=task.id,
        unit_path=task.unit.path,
        after={"title": task.title},
    )
    return True


def sent_deadline(deadline: datetime | None, now: datetime) -> datetime | None:
    """The deadline a draft is sent with: its own, or at least
    :data:`labels.SENT_DRAFT_MIN_MINUTES` from now when that is sooner (or past)."""
    if deadline is None:
        return None
    return max(deadline, now + timedelta(minutes=labels.SENT_DRAFT_MIN_MINUTES))


def send_draft(
    session: Session,
    actor: User | None,
    task_id: int,
    *,
    now: datetime | None = None,
    after: dict | None = None,
) -> Task:
    """Send a draft as it stands: from here on it is a task like any dispatched one
    (its teams, their people told, deadline checks). ``actor`` None is the warning's
    auto-send. Raises OutOfScope, Forbidden (no right to dispatch here), Conflict
    (already sent or withdrawn), InvalidInput (nobody matches any more)."""
    now = now or utcnow()
    task = get_task(session, actor, task_id)
    if actor is not None and not scope.may(actor, "dispatch", task.unit):
        raise Forbidden(_("You may not send tasks to %(unit)s.", unit=task.unit.name))
    if task.status != "draft":
        raise Conflict(
            _("This draft was already sent.")
            if task.status in ("open", "closed")
            else _("This draft was withdrawn."),
            code="not_draft",
        )
    deadline = sent_deadline(task.deadline, now)
    task.draft = False
    task.deadline = deadline
    task.created_at = now
    task.created_by_id = actor.id if actor is not None else None
    minutes = math.ceil((deadline - now).total_seconds() / 60) if deadline else None
    return dispatch.launch(
        session,
        actor,
        task,
        target=task.unit,
        filter=task.filter,
        now=now,
        after={"from_draft": True, "deadline_minutes": minutes, **(after or {})},
    )
