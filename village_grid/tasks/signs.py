"""Signs of life: when a person's phone last opened, tapped or synced a task.

Recorded by the status service for every report a person sends (a tap, a phone's
queued operation: ``tasks/statuses.py``) and by the "my team" page when it is
fetched (for the open tasks on it). The progress page and the deadline checks read
them to find silent leads (``tasks/silent.py``); a sign ends the case about that
lead being silent at once. Flushes, never commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from village_grid.database import insert_ignore
from village_grid.models import Escalation, FieldSign, TaskTeam, User
from village_grid.models.base import utcnow
from village_grid.tasks import cases
from village_grid.tasks.labels import HEARD_NOTE, SIGN_KINDS


def record_signs(
    session: Session,
    user: User | None,
    task_ids: Iterable[int],
    *,
    kind: str,
    now: datetime | None = None,
) -> None:
    """``user``'s phone showed life on these tasks at ``now`` (``kind``: open, tap, sync).

    The first sign is kept; the latest is moved forward only (a late request with
    an older clock never moves it back). An open case about ``user`` being silent on
    one of these tasks ends ("Heard from the team lead"). Not audited: a sign changes
    nothing a person entered, it is the server noticing a phone."""
    if kind not in SIGN_KINDS:
        raise ValueError(f"unknown sign {kind!r}")
    ids = sorted({t for t in task_ids if isinstance(t, int)})
    if user is None or not ids:
        return
    now = now or utcnow()
    synced = now if kind == "sync" else None
    insert_ignore(
        session,
        FieldSign,
        [
            {
                "task_id": t,
                "user_id": user.id,
                "first_at": now,
                "last_at": now,
                "last_kind": kind,
                "synced_at": synced,
            }
            for t in ids
        ],
    )
    values: dict = {"last_at": now, "last_kind": kind}
    if synced is not None:
        values["synced_at"] = synced
    session.execute(
        update(FieldSign)
        .where(FieldSign.user_id == user.id, FieldSign.task_id.in_(ids), FieldSign.last_at < now)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    heard_from(session, user.id, ids, now)


def heard_from(session: Session, user_id: int, task_ids: list[int], now: datetime) -> int:
    """End the open cases about ``user_id`` being silent on these tasks (every level,
    by nobody: the server noticed the phone). Returns how many ended."""
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        note = str(HEARD_NOTE)
    return cases.resolve(
        session,
        None,
        Escalation.reason == "silent",
        Escalation.task_id.in_(task_ids),
        Escalation.task_team_id.in_(
            select(TaskTeam.id).where(
                TaskTeam.task_id.in_(task_ids), TaskTeam.assignee_id == user_id
            )
        ),
        note=note,
        now=now,
    )
