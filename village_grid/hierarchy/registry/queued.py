"""A registry file larger than a village, imported by the worker.

The page or the API stores the file (``import_jobs``) and answers at once with the
job's page; the worker (``village_grid/jobs``, which calls :func:`run_queued`) checks
every row first without writing — committing how far it got, so the page shows
"已校验 40,000 / 100,000 行" — then, when no row is bad, imports it in one
transaction (:func:`~.importing.import_registry`, all or nothing). The job ends
``done`` with what was made, ``rejected`` with every bad row, or ``failed``.

This module does not import the worker: a commit that queued a job lists it in
``session.info[QUEUED]``, which the worker's queue reads after the commit to wake a
worker (and every tick runs jobs still queued, so none is lost).
"""

from __future__ import annotations

import hashlib
import logging

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from village_grid.auth import scope
from village_grid.database.job_rows import claim, set_apart
from village_grid.errors import NotFound
from village_grid.hierarchy.registry.files import RowReader
from village_grid.hierarchy.registry.importing import import_registry
from village_grid.hierarchy.registry.rejections import ImportRejected
from village_grid.models import ImportJob, User
from village_grid.models.base import utcnow

log = logging.getLogger(__name__)

# session.info key: ids of import jobs queued in this transaction (read after commit).
QUEUED = "village_grid.import_jobs_queued"
RUNNING = ("queued", "checking", "writing")


def by_worker(config, filename: str, data: bytes) -> bool:
    """Is this file for the worker: more rows than ``IMPORT_INLINE_ROWS`` (a village has
    about 1,300), and a worker to run it (``JOBS_QUEUE`` is not off)? A file that cannot
    be read is not: the request refuses it at once."""
    if config["JOBS_QUEUE"] == "off":
        return False
    try:
        return rows_about(filename, data) > config["IMPORT_INLINE_ROWS"]
    except ImportRejected:
        return False


def rows_about(filename: str, data: bytes) -> int:
    """About how many rows a file has (its header read; refused at once if unreadable)."""
    return RowReader(filename, data).estimate


def queue_import(session: Session, actor: User, *, filename: str, data: bytes) -> ImportJob:
    """Keep the file for the worker to import as ``actor``; the caller commits. Raises
    :class:`ImportRejected` at once for a file that cannot be read or may not be
    imported by ``actor``."""
    if not scope.may_somewhere(actor, "import"):
        raise ImportRejected.whole_file("out_of_scope", _("You may not import households."))
    total = rows_about(filename, data)
    job = ImportJob(
        actor_id=actor.id,
        filename=(filename or "")[-200:],
        sha256=hashlib.sha256(data).hexdigest(),
        data=data,
        state="queued",
        rows_total=total,
        rows_checked=0,
        message="",
    )
    session.add(job)
    session.flush()
    session.info.setdefault(QUEUED, []).append(job.id)
    return job


def job_for(session: Session, actor: User, job_id: int) -> ImportJob:
    """An import job its sender (or an administrator) may see; NotFound otherwise."""
    job = session.get(ImportJob, job_id) if isinstance(job_id, int) else None
    if job is None or (job.actor_id != actor.id and not scope.may_somewhere(actor, "operate")):
        raise NotFound(_("No such import."))
    return job


def waiting(session: Session) -> list[int]:
    """Jobs still queued (the worker's tick runs them if their wake-up was lost)."""
    return list(
        session.scalars(
            select(ImportJob.id).where(ImportJob.state == "queued").order_by(ImportJob.id)
        )
    )


def _set(engine, job_id: int, **values) -> None:
    set_apart(engine, ImportJob, job_id, **values)


def run_queued(session: Session, job_id: int) -> str | None:
    """Run one queued import job (the worker calls this); its final state, or None when
    another worker has it. Checks every row first (progress committed as it goes),
    then imports in one transaction."""
    engine = session.get_bind()
    if not claim(session, ImportJob, job_id, "checking", utcnow()):
        return None
    job = session.get(ImportJob, job_id)
    actor = session.get(User, job.actor_id) if job.actor_id is not None else None
    if actor is None or not actor.active:
        _set(engine, job_id, state="failed", message="actor gone", data=None, finished_at=utcnow())
        return "failed"
    data, filename = job.data or b"", job.filename

    def progress(done: int, total: int) -> None:
        _set(engine, job_id, rows_checked=done, rows_total=total)

    try:
        import_registry(
            session, actor, filename=filename, data=data, progress=progress, dry_run=True
        )
        session.rollback()
        _set(engine, job_id, state="writing")
        result = import_registry(session, actor, filename=filename, data=data)
        session.commit()
    except ImportRejected as err:
        session.rollback()
        _set(
            engine,
            job_id,
            state="rejected",
            problems=err.rows[:5000],
            message=err.message[:300],
            data=None,
            finished_at=utcnow(),
        )
        return "rejected"
    except Exception:
        session.rollback()
        log.exception("import job %s failed", job_id)
        _set(engine, job_id, state="failed", message="error", finished_at=utcnow())
        return "failed"
    _set(
        engine,
        job_id,
        state="done",
        result=result.to_dict(),
        rows_checked=result.rows,
        rows_total=result.rows,
        data=None,
        finished_at=utcnow(),
    )
    return "done"
