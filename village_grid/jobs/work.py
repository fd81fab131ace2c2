"""What the worker does: tell the people of large tasks and deliver the outbox,
and tick (escalation checks, then delivery of whatever is due, such as retries
after a back-off).

Each job runs in an app context of its own with a fresh session, and commits
its own work.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from flask import Flask, current_app

log = logging.getLogger(__name__)

TICK = "tick"


def in_app(app: Flask, job: Callable[[], object]) -> Callable[[], object]:
    """``job`` run inside an app context of ``app``, its session removed after."""

    @functools.wraps(job)
    def run():
        from village_grid.extensions import db

        with app.app_context():
            try:
                return job()
            finally:
                db.session.remove()

    return run


def in_app_with(app: Flask, job: Callable[..., object]) -> Callable[..., object]:
    """:func:`in_app` for a job that takes arguments."""

    @functools.wraps(job)
    def run(*args):
        from village_grid.extensions import db

        with app.app_context():
            try:
                return job(*args)
            finally:
                db.session.remove()

    return run


def run_import(job_id: int) -> str | None:
    """A registry file larger than a village (hierarchy/registry/queued.py)."""
    from village_grid.extensions import db
    from village_grid.hierarchy.registry.queued import run_queued

    return run_queued(db.session, job_id)


def run_file(file_id: int) -> str | None:
    """A file larger than FILES_JOB_HOUSEHOLDS (village_grid/files/service.py)."""
    from village_grid.extensions import db
    from village_grid.files import service

    return service.run(db.session, file_id)


# The jobs that read a whole registry or a task's households: ``village-grid job run``.
BIG_JOBS: dict[str, Callable[[int], str | None]] = {"import": run_import, "file": run_file}


def in_own_process(kind: str, job_id: int) -> str | None:
    """Run one of :data:`BIG_JOBS` in a process of its own (``village-grid job run KIND
    ID``, the worker's environment) and wait for it; its final state, or None when
    another worker had it.

    A worker holds the tree graph (a district's is about 300 MB) for telling and
    escalating; a million-household file or import needs memory of its own. Made in a
    child that never loads the graph, each is measured alone, gives its memory back
    when it ends, and cannot take the worker down with it. A child that ends without
    finishing (killed, out of memory) leaves its job failed, not "making" for days."""
    from village_grid.database.job_rows import give_up
    from village_grid.extensions import db
    from village_grid.files.labels import RUNNING as FILE_RUNNING
    from village_grid.hierarchy.registry.queued import RUNNING as IMPORT_RUNNING
    from village_grid.models import FileJob, ImportJob
    from village_grid.models.base import utcnow

    command = [sys.executable, "-m", "village_grid", "job", "run", kind, str(job_id)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode == 0:
        state = done.stdout.strip().splitlines()[-1:] or [""]
        return state[0] if state[0] in ("done", "failed", "rejected") else None
    log.error(
        "%s job %s: its process ended with %s\n%s",
        kind,
        job_id,
        done.returncode,
        done.stderr[-2000:],
    )
    model, running = (FileJob, FILE_RUNNING) if kind == "file" else (ImportJob, IMPORT_RUNNING)
    give_up(db.engine, model, job_id, running, "process ended", utcnow())
    return "failed"


# One thread of a process tells at a time; the others deliver meanwhile.
_telling = threading.Lock()


def tell() -> int:
    """Tell the people of tasks too large to tell in their dispatch, a batch of teams per
    transaction (tasks/telling.py): each commit wakes a delivery, which another thread
    (or worker) runs while this one routes the next batch. Nothing when another thread
    of this process is telling already. How many messages were queued."""
    from village_grid.extensions import db
    from village_grid.tasks.telling import tell_batches

    if not _telling.acquire(blocking=False):
        return 0
    try:
        queued, again = 0, True
        while again:  # a task dispatched while this thread told others: its wake-up skipped
            again = False
            for n in tell_batches(db.session):
                db.session.commit()
                queued, again = queued + n, True
        return queued
    finally:
        _telling.release()


# One delivery at a time in a process (its other thread runs the tick meanwhile): a
# worker killed mid-delivery has at most one post in flight, the one it may resend.
_delivering = threading.Lock()


def deliver() -> dict:
    """Tell the people of tasks too large to tell in their dispatch (their messages
    join the outbox), then send every outbox message that is due, most urgent first."""
    from village_grid.extensions import db
    from village_grid.notify import service as notify

    tell()
    with _delivering:
        counts = notify.deliver_pending(db.session)
        if counts.get("waiting"):
            _deliver_later(notify.next_due(db.session))
    if any(counts.values()):
        log.info("delivered: %s", counts)
    return counts


# When this process last asked the queue for a delivery to come (a time.time()).
_later = 0.0


def _deliver_later(due) -> None:
    """Messages wait for their robot's budget: ask for a delivery when the first is
    due (once per process for a moment; the tick sends them anyway)."""
    global _later
    from village_grid.models.base import utcnow

    jobs = current_app.extensions.get("jobs")
    if due is None or not jobs:
        return
    delay = max(1.0, (due - utcnow()).total_seconds())
    at = time.time() + delay
    if time.time() < _later <= at + 1:
        return  # one already comes by then
    _later = at
    try:
        jobs["deliver"].schedule(delay=delay)
    except Exception:  # the outbox keeps the messages; the next tick sends them
        log.exception("could not ask for a later delivery; the next tick delivers")


_started = threading.Lock()
_start_done = False


def start() -> int:
    """When a worker starts (once per process, whatever its threads): give back the
    outbox messages claimed by workers of this host that are no longer running — a
    worker killed mid-batch and started again — so that the delivery the start-up
    wakes (``queue.py``) sends them at once, rather than after their claims run out
    and the next tick. How many were given back."""
    global _start_done
    from village_grid.extensions import db
    from village_grid.notify import service as notify

    with _started:
        if _start_done:
            return 0
        _start_done = True
        me = notify.worker_name()
        dead = [h for h in notify.claim_holders(db.session) if gone(h, me)]
        released = notify.release_claims(db.session, dead)
        db.session.commit()
    if released:
        log.warning("took up %s messages claimed by stopped workers %s", released, dead)
    return released


def gone(holder: str, me: str) -> bool:
    """Whether the worker named ``holder`` ("host:pid") is known to have stopped: it ran
    on this host and its process is gone, or it bore this process's own name (a
    container started again gets the same pid) and this process holds nothing yet."""
    if holder == me:
        return True
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname()[: len(host)] or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, under another user
        return False
    return False


# Teams frozen per transaction (about ten rows each).
FREEZE_BATCH = 2000


def tick() -> int:
    """Once per tick across all workers: open and climb escalations, erase the ID numbers
    kept long enough, then deliver."""
    from village_grid.extensions import db
    from village_grid.jobs.ticks import claim_tick
    from village_grid.models.base import utcnow
    from village_grid.station.departures import erase_expired_ids
    from village_grid.tasks.escalation import run_escalations
    from village_grid.tasks.membership import freeze_due

    minutes = int(current_app.config["WORKER_TICK_MINUTES"])
    # A little under the period: the schedulers of several workers fire within a second.
    if not claim_tick(db.session, TICK, timedelta(minutes=minutes, seconds=-10)):
        return 0
    # Tasks past their deadline get a row for each household still pending, a batch of
    # teams per transaction: a district's sweep is a million rows, and reports on the
    # teams not in the batch go on meanwhile.
    now = utcnow()
    while freeze_due(db.session, now, limit=FREEZE_BATCH):
        db.session.commit()
    created = run_escalations(db.session, now)
    db.session.commit()
    # Tasks past their deadline: whoever sent each gets its report's link, once.
    from village_grid.reports.closing import tell_due

    tell_due(db.session, now)
    db.session.commit()
    # The migrant-worker station: full ID numbers kept past ID_RETENTION_DAYS are erased.
    erase_expired_ids(db.session)
    db.session.commit()
    # Imports whose wake-up was lost are started (a worker claims each once).
    from village_grid.hierarchy.registry.queued import waiting

    for job_id in waiting(db.session):
        start_import(job_id)
    # Files: those whose wake-up was lost are started; those kept long enough deleted.
    from village_grid.files import service as files

    for file_id in files.waiting(db.session):
        start_file(file_id)
    files.expire(db.session)
    db.session.commit()
    deliver()
    poll_warnings(now)
    return created


def poll_warnings(now) -> None:
    """Official warnings: drafts due to send themselves (WARNINGS_AUTOSEND), then the
    feed every WARNINGS_POLL_MINUTES (WARNINGS_FEED_URL), once across all workers."""
    from village_grid.extensions import db
    from village_grid.jobs.ticks import claim_tick
    from village_grid.warnings.autosend import send_due
    from village_grid.warnings.feed import poll_feed

    send_due(db.session, now=now)
    db.session.commit()
    config = current_app.config
    period = timedelta(minutes=int(config["WARNINGS_POLL_MINUTES"]), seconds=-10)
    if config["WARNINGS_FEED_URL"] and claim_tick(db.session, "warnings_feed", period):
        poll_feed(db.session, now=now)


def start_import(job_id: int) -> None:
    """Ask a worker to run a queued import (the tick also starts any still queued)."""
    _start_job("import", job_id)


def start_file(file_id: int) -> None:
    """Ask a worker to make a queued file (the tick also starts any still queued)."""
    _start_job("file", file_id)


def _start_job(name: str, job_id: int) -> None:
    jobs = current_app.extensions.get("jobs")
    if not jobs:
        return
    try:
        jobs[name](job_id)
    except Exception:  # the job stays queued; the next tick starts it
        log.exception("could not queue %s %s; the next tick starts it", name, job_id)
