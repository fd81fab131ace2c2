"""Asking for a file, making it, reading it, and deleting it when its time is up.

:func:`ask` plans the file in the request. One of more than ``FILES_JOB_HOUSEHOLDS``
rows, with a worker to make it (``JOBS_QUEUE`` not off), becomes a ``file_jobs`` row
(the caller commits; the ids queued in the transaction are in
``session.info[QUEUED]``, which the worker's queue reads after the commit to wake a
worker, and the tick starts any still queued). A smaller one is made in the request
into a temporary file (:class:`Inline`). Either way the file is written a row at a
time by its kind's maker (``kinds.py``).

The worker's :func:`run` writes into ``FILES_DIR`` (``instance/files`` by default),
committing how far it got in a transaction of its own so the page shows
"正在生成… (n %)"; the file is kept ``FILES_KEEP_DAYS`` days (:func:`expire`, called
by the worker's tick, deletes it and keeps the row). Reading a file, or its page, needs
the kind's scope action on every unit path it holds (:func:`file_for`); every download,
made in the request or by the worker, is written to the audit log (:func:`downloaded`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import IO

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from village_grid.audit.service import record
from village_grid.auth import scope
from village_grid.database.job_rows import claim, set_apart
from village_grid.errors import InvalidInput, NotFound
from village_grid.files import kinds
from village_grid.files.labels import RUNNING
from village_grid.models import FileJob, User
from village_grid.models.base import utcnow
from village_grid.spreadsheets import MIMETYPES

log = logging.getLogger(__name__)

# session.info key: ids of file jobs queued in this transaction (read after commit).
QUEUED = "village_grid.file_jobs_queued"
# The page's progress is committed at most this often (seconds).
PROGRESS_EVERY = 1.0


@dataclass
class Inline:
    """A small file made in the request: its bytes in a temporary file (rewound)."""

    body: IO[bytes]
    filename: str
    mimetype: str
    rows: int


def files_dir(config=None) -> str:
    config = config if config is not None else current_app.config
    return config.get("FILES_DIR") or os.path.join(current_app.instance_path, "files")


def mimetype(kind: kinds.FileKind, fmt: str) -> str:
    return kind.mimetypes.get(fmt) or MIMETYPES.get(fmt) or "application/octet-stream"


def by_worker(config, total: int) -> bool:
    """Is a file of ``total`` rows for the worker: more than ``FILES_JOB_HOUSEHOLDS``, and
    a worker to make it (``JOBS_QUEUE`` is not off)?"""
    return config["JOBS_QUEUE"] != "off" and total > config["FILES_JOB_HOUSEHOLDS"]


def ask(session: Session, actor: User, kind_name: str, fmt: str, params: dict) -> FileJob | Inline:
    """The file of kind ``kind_name`` as ``fmt`` for ``actor``: queued for the worker
    (a :class:`FileJob`; the caller commits) or made now (an :class:`Inline`, its
    download already on the audit log). Raises the kind's errors (out of scope …)."""
    kind = kinds.get(kind_name)
    if fmt not in kind.formats:
        raise InvalidInput(
            _("Unknown file format."), fields={"fmt": "one of " + ", ".join(kind.formats)}
        )
    plan = kind.plan(session, actor, params, fmt)
    if by_worker(current_app.config, plan.total):
        job = FileJob(
            actor_id=actor.id,
            kind=kind.name,
            fmt=fmt,
            params=params,
            paths=plan.paths,
            state="queued",
            done=0,
            total=plan.total,
            filename=plan.filename[:200],
        )
        session.add(job)
        session.flush()
        session.info.setdefault(QUEUED, []).append(job.id)
        return job
    # Closed by the response that sends it (send_file).
    body = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    rows = kind.make(session, actor, params, fmt, body, lambda _done: None)
    body.seek(0)
    downloaded(session, actor, kind.name, fmt, plan.paths, rows=rows)
    return Inline(body, plan.filename, mimetype(kind, fmt), rows)


def downloaded(
    session: Session,
    actor: User | None,
    kind_name: str,
    fmt: str,
    paths: list[str] | None,
    *,
    rows: int,
    file_id: int | None = None,
) -> None:
    """A download on the audit log, under the unit the file holds (the first of its
    paths; none: the whole tree)."""
    record(
        session,
        actor,
        "file.download",
        object_type="file",
        object_id=file_id,
        unit_path=paths[0] if paths else None,
        after={"kind": kind_name, "format": fmt, "rows": rows, "units": paths},
    )


def file_for(session: Session, actor: User, file_id: int) -> FileJob:
    """A file ``actor`` may read: their scope covers every unit it holds for its kind's
    action. NotFound otherwise (ids are not probed)."""
    job = session.get(FileJob, file_id) if isinstance(file_id, int) else None
    if job is None or job.kind not in kinds.KINDS:
        raise NotFound(_("No such file."))
    if not scope.may_all(actor, kinds.get(job.kind).action, job.paths):
        raise NotFound(_("No such file."))
    return job


def percent(job: FileJob) -> int:
    """How far the making got, 0–100 (99 until the file is closed)."""
    if job.state == "done":
        return 100
    if not job.total:
        return 0
    return min(99, job.done * 100 // job.total)


def download(session: Session, actor: User, file_id: int) -> tuple[str, FileJob, str]:
    """The path of a made file ``actor`` may read, its row and its mime type; the
    download written to the audit log (the caller commits). NotFound when it is not
    made yet, failed or expired."""
    job = file_for(session, actor, file_id)
    path = os.path.join(files_dir(), job.stored) if job.stored else ""
    if job.state != "done" or not path or not os.path.isfile(path):
        raise NotFound(_("This file is not ready, or no longer kept."))
    downloaded(session, actor, job.kind, job.fmt, job.paths, rows=job.done, file_id=job.id)
    return path, job, mimetype(kinds.get(job.kind), job.fmt)


def waiting(session: Session) -> list[int]:
    """Files still queued (the worker's tick starts them if their wake-up was lost)."""
    return list(
        session.scalars(select(FileJob.id).where(FileJob.state == "queued").order_by(FileJob.id))
    )


def _set(engine, job_id: int, **values) -> None:
    set_apart(engine, FileJob, job_id, **values)


def run(session: Session, job_id: int) -> str | None:
    """Make one queued file (the worker calls this); its final state, or None when
    another worker has it."""
    engine = session.get_bind()
    if not claim(session, FileJob, job_id, "making", utcnow()):
        return None
    job = session.get(FileJob, job_id)
    actor = session.get(User, job.actor_id) if job.actor_id is not None else None
    kind = kinds.KINDS.get(job.kind)
    if actor is None or not actor.active or kind is None:
        _set(engine, job_id, state="failed", message="actor or kind gone", finished_at=utcnow())
        return "failed"
    directory = files_dir()
    os.makedirs(directory, exist_ok=True)
    stored = f"{job.id}-{secrets.token_hex(8)}.{job.fmt}"
    path = os.path.join(directory, stored)
    last = [time.monotonic()]

    def progress(done: int) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY:
            last[0] = now
            _set(engine, job_id, done=done)

    params, fmt = dict(job.params or {}), job.fmt
    try:
        with open(path + ".part", "wb") as out:
            rows = kind.make(session, actor, params, fmt, out, progress)
        os.replace(path + ".part", path)
        session.rollback()
    except Exception:
        session.rollback()
        log.exception("file job %s failed", job_id)
        if os.path.exists(path + ".part"):
            os.remove(path + ".part")
        _set(engine, job_id, state="failed", message="error", finished_at=utcnow())
        return "failed"
    now = utcnow()
    keep = timedelta(days=int(current_app.config["FILES_KEEP_DAYS"]))
    _set(
        engine,
        job_id,
        state="done",
        done=rows,
        total=rows,
        stored=stored,
        size=os.path.getsize(path),
        finished_at=now,
        expires_at=now + keep,
    )
    return "done"


def expire(session: Session, now=None) -> int:
    """Delete the files kept past their time (the row stays, ``expired``) and give up
    jobs that never finished within the keeping time; how many files went. The
    worker's tick calls this; the caller commits."""
    now = now or utcnow()
    directory = files_dir()
    gone = 0
    for job in session.scalars(
        select(FileJob).where(FileJob.state == "done", FileJob.expires_at <= now)
    ):
        if job.stored:
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(directory, job.stored))
            gone += 1
        job.state, job.stored = "expired", ""
    stale = now - timedelta(days=int(current_app.config["FILES_KEEP_DAYS"]))
    session.execute(
        update(FileJob)
        .where(FileJob.state.in_(RUNNING), FileJob.created_at <= stale)
        .values(state="failed", message="not made in time", finished_at=now)
    )
    return gone
