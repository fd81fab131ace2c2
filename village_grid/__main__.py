"""``village-grid`` (and ``python -m village_grid``): the command line, with the app loaded.

Its own module, so that the app factory (which attaches the commands of ``cli.py``)
and the command line that calls the factory do not import each other.
"""

from __future__ import annotations

import click
from flask.cli import FlaskGroup

from village_grid import create_app


@click.group(
    cls=FlaskGroup, create_app=create_app, add_default_commands=False, add_version_option=False
)
def main() -> None:
    """village_grid: manage the database, demo data, imports and users."""


if __name__ == "__main__":
    main()
