"""Signs of life: when a person's phone last opened, tapped or synced a task.

Recorded by the "my team" page when it is fetched (for the open tasks on it), by
its taps, and by the sync API (for the tasks of the operations it took). The
progress page and the deadline checks read them to find silent leads
(``field/silent.py``). Flushes, never commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from village_grid.database import insert_ignore
from village_grid.field.labels import SIGN_KINDS
from village_grid.models import FieldSign, User
from village_grid.models.base import utcnow


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
    an older clock never moves it back). Not audited: a sign changes nothing a
    person entered, it is the server noticing a phone."""
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
