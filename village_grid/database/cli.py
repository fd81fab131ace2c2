"""``village-grid backup FILE`` and ``village-grid restore FILE``."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext


def register(group: click.Group) -> None:
    group.add_command(backup_command)
    group.add_command(restore_command)


@click.command("backup")
@click.argument("target", type=click.Path(dir_okay=False, writable=True))
@with_appcontext
def backup_command(target: str) -> None:
    """Write a consistent copy of the whole database to TARGET, while the app runs."""
    from village_grid.database.backup import BackupError, backup

    try:
        path = backup(current_app.config["SQLALCHEMY_DATABASE_URI"], target)
    except BackupError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"backup written to {path} ({path.stat().st_size:,} bytes)")


@click.command("restore")
@click.argument("source", type=click.Path(exists=True, dir_okay=False))
@click.option("--yes", is_flag=True, help="Do not ask before replacing the database.")
@with_appcontext
def restore_command(source: str, yes: bool) -> None:
    """Replace the whole database with the backup SOURCE, then upgrade its schema.

    Stop the app and its workers first."""
    from flask_migrate import upgrade

    from village_grid.database.backup import BackupError, restore
    from village_grid.extensions import db

    if not yes:
        click.confirm("This replaces everything in the database. Go on?", abort=True)
    db.session.remove()
    db.engine.dispose()  # no pooled connection keeps reading the old data
    try:
        restore(current_app.config["SQLALCHEMY_DATABASE_URI"], source)
    except BackupError as err:
        raise click.ClickException(str(err)) from None
    upgrade()
    click.echo(f"restored from {source}")
