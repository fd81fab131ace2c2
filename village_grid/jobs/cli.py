"""``village-grid worker``: run a worker — delivery, escalation ticks, retries."""

from __future__ import annotations

import logging

import click
from flask import current_app
from flask.cli import with_appcontext

from village_grid.tasks.graph import preload


def register(group: click.Group) -> None:
    group.add_command(worker)


@click.command("worker")
@click.option("--threads", default=2, show_default=True, help="Jobs run at the same time.")
@with_appcontext
def worker(threads: int) -> None:
    """Run jobs as they are queued, and the periodic tick. Any number of workers on
    any number of hosts may run against one PostgreSQL and one Redis (REDIS_URL)."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    huey = current_app.extensions.get("huey")
    if huey is None:
        raise click.ClickException("JOBS_QUEUE is off: there is no queue to work on.")
    # Ctrl-C and SIGTERM stop the consumer; its jobs are idempotent.
    # The tree graph loaded before the first job: telling a district's sweep needs it.
    preload(current_app)
    huey.create_consumer(
        workers=threads,
        worker_type="thread",
        periodic=True,
        max_delay=1.0,
        check_worker_health=True,
    ).run()
