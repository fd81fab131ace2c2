"""``village-grid notify send|status|retry-failed``: the notification outbox."""

from __future__ import annotations

import click
from flask.cli import with_appcontext


def register(group: click.Group) -> None:
    group.add_command(notify_group)


@click.group("notify")
def notify_group() -> None:
    """Deliver and inspect outgoing notifications."""


@notify_group.command("send")
@click.option("--limit", default=2000, show_default=True, help="At most this many messages.")
@with_appcontext
def send(limit: int) -> None:
    """Deliver every message that is due (safe to run from cron every minute)."""
    from village_grid.extensions import db
    from village_grid.notify import service

    counts = service.deliver_pending(db.session, limit=limit)
    db.session.commit()
    click.echo(
        f"sent: {counts['sent']}, retrying: {counts['retrying']}, failed: {counts['failed']}"
    )


@notify_group.command("status")
@with_appcontext
def status() -> None:
    """How many messages are pending, sent and failed, and the latest problems."""
    from village_grid.extensions import db
    from village_grid.notify import service

    s = service.summary(db.session)
    click.echo(f"pending: {s['pending']}, sent: {s['sent']}, failed: {s['failed']}")
    for p in s["problems"]:
        click.echo(
            f"  #{p['id']} {p['status']} attempts={p['attempts']} {p['event_key']}: {p['last_error']}"
        )


@notify_group.command("retry-failed")
@with_appcontext
def retry_failed() -> None:
    """Put failed messages back in the queue (after fixing NOTIFY_WEBHOOK_URL)."""
    from village_grid.extensions import db
    from village_grid.notify import service

    n = service.retry_failed(db.session)
    db.session.commit()
    click.echo(f"requeued: {n}")
