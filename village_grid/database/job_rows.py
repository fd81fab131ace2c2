"""The rows of work the worker picks up (an import's ``import_jobs``, a file's
``file_jobs``): taken by one worker only, and their progress written where a page
polling them sees it at once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session


def claim(session: Session, model, job_id: int, state: str, now: datetime) -> bool:
    """Move a queued job to ``state`` (started at ``now``) and commit: True for the one
    worker whose update took it, False for any other."""
    taken = session.execute(
        update(model)
        .where(model.id == job_id, model.state == "queued")
        .values(state=state, started_at=now)
    ).rowcount
    session.commit()
    return bool(taken)


def set_apart(engine, model, job_id: int, **values) -> None:
    """Change a job's row in a transaction of its own (the page sees it at once)."""
    with Session(bind=engine) as s, s.begin():
        s.execute(update(model).where(model.id == job_id).values(**values))


def give_up(
    engine, model, job_id: int, running: tuple[str, ...], message: str, now: datetime
) -> bool:
    """Mark a job failed if it is still in one of the ``running`` states: the process
    making it ended without finishing it (killed, out of memory). True if it was."""
    with Session(bind=engine) as s, s.begin():
        return bool(
            s.execute(
                update(model)
                .where(model.id == job_id, model.state.in_(running))
                .values(state="failed", message=message, finished_at=now)
            ).rowcount
        )
