"""``village-grid escalate``: deadline checks, safe to run from cron every minute."""

from __future__ import annotations

import click
from flask.cli import with_appcontext


def register(group: click.Group) -> None:
    group.add_command(escalate)


@click.command("escalate")
@click.option(
    "--send/--no-send",
    default=True,
    show_default=True,
    help="Also deliver the notification outbox afterwards.",
)
@with_appcontext
def escalate(send: bool) -> None:
    """Escalate households still pending past their deadline, and cases nobody
    acknowledged. Idempotent: running it twice changes nothing the second time.

    Cron: * * * * * village-grid escalate
    """
    from village_grid.extensions import db
    from village_grid.notify import service as notify
    from village_grid.tasks.escalation import run_escalations

    created = run_escalations(db.session)
    db.session.commit()
    line = f"escalations created: {created}"
    if send:
        counts = notify.deliver_pending(db.session)
        db.session.commit()
        line += (
            f"; messages sent: {counts['sent']}, retrying: {counts['retrying']},"
            f" failed: {counts['failed']}"
        )
    click.echo(line)
