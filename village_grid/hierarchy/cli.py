"""Registry commands: demo data, import, export (filled in by the import/demo work)."""

import click
from flask.cli import with_appcontext


def register(group: click.Group) -> None:
    group.add_command(demo)


@click.command("demo")
@click.option("--households", default=1300, show_default=True)
@click.option("--seed", default=1, show_default=True)
@click.option("--if-empty", is_flag=True, help="Only when the database has no units yet.")
@with_appcontext
def demo(households: int, seed: int, if_empty: bool):
    """Load realistic demo data."""
    click.echo("demo data: not yet")
