"""What the worker does: tell the people of large tasks and deliver the outbox,
and tick (escalation checks, then delivery of whatever is due, such as retries
after a back-off).

Each job runs in an app context of its own with a fresh session, and commits
its own work.
"""

from __future__ import annotations

import functools
import logging
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


def deliver() -> dict:
    """Tell the people of tasks too large to tell in their dispatch (their messages
    join the outbox), then send every outbox message that is due, most urgent first."""
    from village_grid.extensions import db
    from village_grid.notify import service as notify
    from village_grid.tasks.telling import tell_pending

    if tell_pending(db.session):
        db.session.commit()
    counts = notify.deliver_pending(db.session)
    if any(counts.values()):
        log.info("delivered: %s", counts)
    return counts


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
    # The migrant-worker station: full ID numbers kept past ID_RETENTION_DAYS are erased.
    erase_expired_ids(db.session)
    db.session.commit()
    # Imports whose wake-up was lost are started (a worker claims each once).
    from village_grid.hierarchy.registry.queued import waiting
    from village_grid.jobs.queue import start_import

    for job_id in waiting(db.session):
        start_import(job_id)
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
