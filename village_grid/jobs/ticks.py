"""Periodic ticks claimed once however many workers run them.

Every worker's scheduler fires each periodic job; the first to claim the tick in
the database does the work, the others find it taken and skip. The claim is one
UPDATE with the period in its WHERE clause, atomic on both engines.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from village_grid.database import insert_ignore
from village_grid.models import WorkerTick
from village_grid.models.base import utcnow
from village_grid.notify.service import worker_name


def claim_tick(
    session: Session, name: str, period: timedelta, *, now: datetime | None = None
) -> bool:
    """Claim the tick ``name`` if none was claimed within ``period``; commits.

    True for the one worker that should do this tick's work."""
    now = now or utcnow()
    insert_ignore(session, WorkerTick, [{"name": name, "last_at": None, "worker": ""}])
    claimed = session.execute(
        update(WorkerTick)
        .where(
            WorkerTick.name == name,
            or_(WorkerTick.last_at.is_(None), WorkerTick.last_at <= now - period),
        )
        .values(last_at=now, worker=worker_name())
        .execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    return bool(claimed)


def last_tick(session: Session, name: str) -> datetime | None:
    """When the tick ``name`` was last claimed (None: never)."""
    return session.scalar(select(WorkerTick.last_at).where(WorkerTick.name == name))
