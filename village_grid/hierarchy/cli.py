"""Registry commands: ``demo``, ``import FILE`` and ``export FILE``."""

from __future__ import annotations

import time
from pathlib import Path

import click
from flask.cli import with_appcontext


def register(group: click.Group) -> None:
    group.add_command(demo)
    group.add_command(import_command)
    group.add_command(export_command)


def _print_logins(logins) -> None:
    from village_grid.hierarchy.demo import DEMO_PASSWORD

    if not logins:
        return
    click.echo("")
    click.echo(f"Demo logins (password for all: {DEMO_PASSWORD})")
    click.echo(f"  {'username':<11} {'role':<14} {'unit':<12} phone")
    for login in logins:
        note = f"  ({login.note})" if login.note else ""
        click.echo(f"  {login.username:<11} {login.role:<14} {login.unit:<12} {login.phone}{note}")
    click.echo("  (a team lead can also log in with the phone number)")


@click.command("demo")
@click.option("--households", default=1300, show_default=True, type=click.IntRange(1, 2_000_000))
@click.option("--seed", default=1, show_default=True, help="Same seed, same data.")
@click.option(
    "--if-empty",
    is_flag=True,
    help="Do nothing (but print the demo logins) when the database already has units.",
)
@with_appcontext
def demo(households: int, seed: int, if_empty: bool):
    """Load realistic demo data: one village of ~1,300 households by default; more
    households build more villages (100,000 is a county)."""
    from village_grid.extensions import db
    from village_grid.hierarchy.demo import build_demo, demo_logins
    from village_grid.hierarchy.queries import has_units

    if has_units(db.session):
        if if_empty:
            click.echo("The database already has units; demo data not loaded.")
            _print_logins(demo_logins(db.session))
            return
        raise click.ClickException(
            "The database already has units. Demo data goes into an empty database "
            "(use --if-empty to skip quietly)."
        )
    started = time.monotonic()
    with click.progressbar(length=households, label="Demo households") as bar:
        summary = build_demo(db.session, households=households, seed=seed, progress=bar.update)
        db.session.commit()
    elapsed = time.monotonic() - started
    click.echo(
        f"Loaded {summary.households} households ({summary.members} members) in "
        f"{summary.teams} teams, {summary.grids} grids, {summary.villages} villages, "
        f"{summary.townships} townships; {summary.users} users; {elapsed:.1f}s."
    )
    _print_logins(summary.logins)


def _fmt(path: str) -> str:
    ext = Path(path).suffix.lower()
    if ext not in (".csv", ".xlsx"):
        raise click.BadParameter("the file name must end in .csv or .xlsx", param_hint="FILE")
    return ext[1:]


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def import_command(file: str):
    """Import households from FILE (.csv or .xlsx; see docs/import-format.md).
    All or nothing: any bad row and nothing is changed."""
    from village_grid.extensions import db
    from village_grid.hierarchy.registry import ImportRejected, import_registry

    data = Path(file).read_bytes()
    try:
        result = import_registry(db.session, None, filename=Path(file).name, data=data)
    except ImportRejected as err:
        db.session.rollback()
        click.echo(err.message, err=True)
        for row in err.rows:
            where = f"line {row['line']}" if row["line"] else "file"
            click.echo(f"  {where}: {row['reason']} [{row['code']}]", err=True)
        raise SystemExit(1) from None
    db.session.commit()
    click.echo(
        f"Imported {result.households_created} households, {result.members_created} members; "
        f"created {result.units_created} units, {result.people_created} people, "
        f"{result.roles_assigned} roles; {result.households_unchanged} households already "
        f"there unchanged ({result.rows} rows)."
    )


@click.command("export")
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
@click.option("--unit", "unit_id", type=int, default=None, help="Only this unit's subtree.")
@with_appcontext
def export_command(file: str, unit_id: int | None):
    """Export the registry to FILE (.csv or .xlsx, by the extension), in the import format."""
    from village_grid.errors import DomainError
    from village_grid.extensions import db
    from village_grid.hierarchy.registry.exporting import write_registry

    fmt = _fmt(file)
    part = Path(file + ".part")
    try:
        with part.open("wb") as out:
            rows = write_registry(db.session, None, out, unit_id=unit_id, fmt=fmt)
    except DomainError as err:
        part.unlink(missing_ok=True)
        raise click.ClickException(err.message) from None
    part.replace(file)
    click.echo(f"Wrote {file} ({rows} rows, {Path(file).stat().st_size} bytes).")
