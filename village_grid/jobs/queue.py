"""The huey queue, bound to the app: which storage, which jobs, waking the worker.

``JOBS_QUEUE``: ``sqlite`` (the default: ``instance/jobs.db``), ``redis`` (when
``REDIS_URL`` is set, the default becomes this), or ``off`` (tests; nothing is
queued and work happens only when called). The web app only enqueues; the
consumer (``village-grid worker``) runs the jobs and the periodic tick.
"""

from __future__ import annotations

import functools
import logging
import os

from flask import Flask, current_app, has_app_context
from huey import Huey, RedisHuey, SqliteHuey, crontab
from sqlalchemy import event
from sqlalchemy.orm import Session

from village_grid.notify.service import PENDING_MARK

log = logging.getLogger(__name__)


def make_huey(app: Flask) -> Huey | None:
    """The queue the app's config names, or None when jobs are off."""
    kind = app.config["JOBS_QUEUE"]
    if kind == "off":
        return None
    if kind == "redis":
        return RedisHuey(app.config["JOBS_QUEUE_NAME"], url=app.config["REDIS_URL"], blocking=True)
    return SqliteHuey(
        app.config["JOBS_QUEUE_NAME"],
        filename=os.path.join(app.instance_path, "jobs.db"),
        fsync=True,
    )


def init_app(app: Flask) -> None:
    """Bind the queue and its jobs to ``app``, and wake the worker after every commit
    whose session the outbox marked (``notify.service.mark_pending``): the domains
    queue work without knowing the worker."""
    huey = make_huey(app)
    app.extensions["huey"] = huey
    if huey is None:
        return
    from village_grid.jobs import work

    tick_minutes = max(1, int(app.config["WORKER_TICK_MINUTES"]))
    app.extensions["jobs"] = {
        "deliver": huey.task(name="deliver", retries=3, retry_delay=10)(
            work.in_app(app, work.deliver)
        ),
        "tick": huey.periodic_task(crontab(minute=f"*/{tick_minutes}"), name="tick")(
            work.in_app(app, work.tick)
        ),
        # A registry file larger than a village (hierarchy/registry/queued.py).
        # Each in a process of its own (work.in_own_process).
        "import": huey.task(name="import")(
            work.in_app_with(app, functools.partial(work.in_own_process, "import"))
        ),
        # A file larger than FILES_JOB_HOUSEHOLDS (village_grid/files).
        "file": huey.task(name="file")(
            work.in_app_with(app, functools.partial(work.in_own_process, "file"))
        ),
    }
    # Each consumer thread calls the start-up hooks; work.start acts once per process.
    huey.on_startup(name="take-up-claims")(work.in_app(app, _start))
    if not event.contains(Session, "after_commit", _wake_after_commit):
        event.listen(Session, "after_commit", _wake_after_commit)


def _start() -> None:
    """A worker starting: take up what stopped workers of this host held, and deliver."""
    from village_grid.jobs import work

    work.start()
    wake_delivery()


def _wake_after_commit(session: Session) -> None:
    if session.info.pop(PENDING_MARK, False) and has_app_context():
        wake_delivery()
    from village_grid.hierarchy.registry.queued import QUEUED  # the jobs a commit queued

    imports = session.info.pop(QUEUED, None)
    if imports and has_app_context():
        from village_grid.jobs import work

        for job_id in imports:
            work.start_import(job_id)
    from village_grid.files.service import QUEUED as FILES_QUEUED

    files = session.info.pop(FILES_QUEUED, None)
    if files and has_app_context():
        from village_grid.jobs import work

        for file_id in files:
            work.start_file(file_id)


def wake_delivery() -> None:
    """Ask a worker to deliver what is due now (it also delivers on every tick)."""
    jobs = current_app.extensions.get("jobs")
    if not jobs:
        return
    try:
        jobs["deliver"]()
    except Exception:  # the outbox keeps the message; the next tick sends it
        log.exception("could not wake the worker; the next tick delivers")
