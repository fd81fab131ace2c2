"""The commands of the ``village-grid`` command line (``__main__.py`` runs them with the
app loaded; the app factory attaches them).

``db`` comes from Flask-Migrate. Domains add their own commands in
``village_grid/<domain>/cli.py`` with a ``register(group)`` function.
"""

from __future__ import annotations

import importlib

import click
from flask import Flask
from flask.cli import with_appcontext

from village_grid.i18n import DOMAINS


def register_cli(app: Flask) -> None:
    """Attach domain commands to the app's CLI (``flask --app village_grid``) and ``village-grid``."""
    app.cli.add_command(user_group)
    from village_grid.database import cli as database_cli

    database_cli.register(app.cli)
    for domain in DOMAINS:
        try:
            module = importlib.import_module(f"village_grid.{domain}.cli")
        except ModuleNotFoundError as exc:
            if exc.name in (f"village_grid.{domain}.cli", f"village_grid.{domain}"):
                continue
            raise
        module.register(app.cli)


@click.group("user")
def user_group() -> None:
    """Manage logins."""


@user_group.command("create")
@click.argument("username")
@click.option("--password", required=True, help="At least 8 characters, not a common password.")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["admin", "cadre", "grid_member", "team_lead", "station_staff"]),
)
@click.option("--unit", "unit_id", type=int, help="The unit the role is on (not for admin).")
@click.option("--phone", default=None)
@click.option("--name", default="")
@with_appcontext
def user_create(username, password, role, unit_id, phone, name):
    """Create USERNAME with a role on a unit."""
    from village_grid.auth import service
    from village_grid.errors import DomainError
    from village_grid.extensions import db

    try:
        user = service.create_user(
            db.session, username=username, password=password, name=name, phone=phone
        )
        service.assign_role(db.session, None, user=user, role=role, unit_id=unit_id)
        db.session.commit()
    except DomainError as err:
        db.session.rollback()
        raise click.ClickException(err.message) from None
    click.echo(f"created {username} ({role}{f' on unit {unit_id}' if unit_id else ''})")
