"""What the worker does: deliver the outbox, and tick (escalation checks, then
delivery of whatever is due, such as retries after a back-off).

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


def deliver() -> dict:
    """Send every outbox message that is due, most urgent first."""
    from village_grid.extensions import db
    from village_grid.notify import service as notify

    counts = notify.deliver_pending(db.session)
    if any(counts.values()):
        log.info("delivered: %s", counts)
    return counts


def tick() -> int:
    """Once per tick across all workers: open and climb escalations, erase the ID numbers
    kept long enough, then deliver."""
    from village_grid.extensions import db
    from village_grid.jobs.ticks import claim_tick
    from village_grid.station.departures import erase_expired_ids
    from village_grid.tasks.escalation import run_escalations

    minutes = int(current_app.config["WORKER_TICK_MINUTES"])
    # A little under the period: the schedulers of several workers fire within a second.
    if not claim_tick(db.session, TICK, timedelta(minutes=minutes, seconds=-10)):
        return 0
    created = run_escalations(db.session)
    db.session.commit()
    # The migrant-worker station: full ID numbers kept past ID_RETENTION_DAYS are erased.
    erase_expired_ids(db.session)
    db.session.commit()
    deliver()
    return created
