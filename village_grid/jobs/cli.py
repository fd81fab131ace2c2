"""``village-grid worker``: run a worker — delivery, escalation ticks, retries; and
``village-grid job run KIND ID``: one big job, in the process the worker starts for it."""

from __future__ import annotations

import logging

import click
from flask import current_app
from flask.cli import with_appcontext

from village_grid.jobs.work import BIG_JOBS
from village_grid.tasks.graph import preload


def register(group: click.Group) -> None:
    group.add_command(worker)
    group.add_command(job_group)


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


@click.group("job")
def job_group() -> None:
    """One queued job, run now."""


@job_group.command("run")
@click.argument("kind", type=click.Choice(sorted(BIG_JOBS)))
@click.argument("job_id", type=click.IntRange(min=1))
@with_appcontext
def run_job(kind: str, job_id: int) -> None:
    """Run queued job JOB_ID (an import or a file) here; prints its final state, or
    "taken" when another worker has it. The worker runs each big job this way, in a
    process of its own."""
    from village_grid.extensions import db

    try:
        state = BIG_JOBS[kind](job_id)
    finally:
        db.session.remove()
    click.echo(state or "taken")
