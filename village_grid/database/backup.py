"""Backup and restore of the whole database, on either engine.

SQLite: the online backup API copies a consistent snapshot while the app keeps
running; restoring copies a backup back the same way. PostgreSQL: ``pg_dump``
in its custom format, ``pg_restore --clean`` in one transaction (both come with
the PostgreSQL client). After a restore the schema is brought to this version
of the app (``flask db upgrade``), so a backup taken before an upgrade restores
onto the new version too.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url


class BackupError(RuntimeError):
    """A backup or restore could not be made; the message says why."""


def _sqlite_path(url: str) -> str | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    if not parsed.database or parsed.database == ":memory:":
        raise BackupError("an in-memory database has nothing to back up")
    return parsed.database


def _libpq_url(url: str) -> str:
    """The URL as pg_dump and pg_restore take it (no SQLAlchemy driver name)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _run(command: list[str]) -> None:
    if shutil.which(command[0]) is None:
        raise BackupError(f"{command[0]} is not installed (Debian: postgresql-client)")
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(done.stderr.strip() or f"{command[0]} failed")


def backup(url: str, target: str | os.PathLike) -> Path:
    """Write a backup of the database at ``url`` to ``target``; return its path.

    Written to a temporary file next to ``target`` first, so a failed backup never
    leaves a half-written file under the name of a good one.
    """
    target = Path(target)
    partial = target.with_name(target.name + ".partial")
    path = _sqlite_path(url)
    try:
        if path is not None:
            source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            copy = sqlite3.connect(partial)
            try:
                source.backup(copy)
            finally:
                copy.close()
                source.close()
        else:
            _run(["pg_dump", "--format=custom", "--no-owner", f"--file={partial}", _libpq_url(url)])
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def restore(url: str, source: str | os.PathLike) -> None:
    """Replace the database at ``url`` with the backup at ``source``.

    Stop the app and its workers first: connections open during a restore may
    keep reading the old data.
    """
    source = Path(source)
    if not source.is_file():
        raise BackupError(f"{source}: no such file")
    path = _sqlite_path(url)
    if path is not None:
        backup_db = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            if not backup_db.execute(
                "SELECT 1 FROM sqlite_master WHERE name = 'alembic_version'"
            ).fetchone():
                raise BackupError(f"{source}: not a village_grid backup")
            live = sqlite3.connect(path)
            try:
                backup_db.backup(live)
            finally:
                live.close()
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"{source}: {exc}") from None
        finally:
            backup_db.close()
    else:
        _run(
            [
                "pg_restore",
                "--clean",
                "--if-exists",
                "--no-owner",
                "--single-transaction",
                f"--dbname={_libpq_url(url)}",
                str(source),
            ]
        )
