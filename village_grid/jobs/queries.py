"""What operators read about the background work: is it alive, how deep is the queue."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import text
from sqlalchemy.orm import Session

from village_grid.extensions import limiter
from village_grid.jobs.ticks import last_tick
from village_grid.jobs.work import TICK
from village_grid.models.base import iso_z, utcnow

# A tick older than this means no worker is running.
ALIVE_WITHIN = timedelta(minutes=2)


def health(session: Session, *, now: datetime | None = None) -> dict:
    """``{"ok", "database", "worker", "last_tick", "limit_store"}``: the database answers,
    and a worker ticked within two minutes (or background work is switched off).

    ``limit_store`` is False while the door-plate limits' store (Redis) is down: each
    web process then counts in its own memory and every answer is still taken, so it
    does not make ``ok`` false (every web host shares that store: a load balancer
    taking them all out would turn every household away)."""
    now = now or utcnow()
    try:
        session.execute(text("SELECT 1"))
        tick = last_tick(session, TICK)
        database = True
    except Exception:  # the database is what is being checked
        session.rollback()
        return {
            "ok": False,
            "database": False,
            "worker": False,
            "last_tick": None,
            "limit_store": limit_store(),
        }
    jobs_off = current_app.config["JOBS_QUEUE"] == "off"
    worker = jobs_off or (tick is not None and now - tick < ALIVE_WITHIN)
    return {
        "ok": database and worker,
        "database": database,
        "worker": worker,
        "last_tick": iso_z(tick),
        "limit_store": limit_store(),
    }


def limit_store() -> bool:
    """The rate limits' store answers (always, for the in-memory default)."""
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return True
    return not limiter.store_down and limiter.storage.check()


def queue_depth() -> int | None:
    """Jobs waiting in the queue (None when background work is off)."""
    huey = current_app.extensions.get("huey")
    return None if huey is None else huey.pending_count()
