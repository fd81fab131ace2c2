"""The database engine: its options, what each engine kind needs on connect, and
the few statements that are written differently per dialect.

SQLite (the embedded default for one village) gets WAL, foreign keys, writers
that queue on a lock file (``writers.py``) and WAL checkpoints on a thread of
their own (``checkpoints.py``); all of that is set up here and only for SQLite.
PostgreSQL (a township or a county) gets a pool that checks its connections.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import BigInteger, Integer, cast, event, extract, func, literal
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlalchemy.types import DateTime

from village_grid.database import checkpoints
from village_grid.database.writers import QueuedWriterConnection


def engine_options(url: str) -> dict:
    """SQLAlchemy engine options for a database URL."""
    if url.startswith("sqlite"):
        return {
            "connect_args": {
                # Writers wait for each other (the team cap serialises on a write
                # lock) instead of failing at once with "database is locked".
                "timeout": 30,
                "check_same_thread": False,
                # Writers queue on a lock file rather than sleep in SQLite's busy handler.
                "factory": QueuedWriterConnection,
            }
        }
    return {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 20}


def configure(engine: Engine) -> None:
    """What the app's engine needs on every new connection (SQLite only)."""
    if engine.dialect.name == "sqlite" and not event.contains(engine, "connect", _sqlite_connect):
        event.listen(engine, "connect", _sqlite_connect)


def _sqlite_connect(dbapi_connection: sqlite3.Connection, _record) -> None:
    cur = dbapi_connection.cursor()
    # WAL: readers never wait for the writer.
    cur.execute("PRAGMA journal_mode=WAL")
    # FULL: a commit is on disk (the WAL fsynced) before it returns, so an answer
    # acknowledged to a household survives a power cut. NORMAL would lose the
    # last commits then (docs/security.md).
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()
    checkpoints.on_connect(dbapi_connection)


def insert_ignore(session: Session, model, rows: list[dict], returning=None) -> list:
    """INSERT ``rows`` into ``model``'s table, skipping those that break a unique
    constraint (concurrent runs, replays); the RETURNING rows of ``returning``
    (a column attribute) when asked."""
    if not rows:
        return []
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(model.__table__).on_conflict_do_nothing()
    if returning is not None:
        return session.execute(stmt.returning(model.__table__.c[returning.key]), rows).all()
    session.execute(stmt, rows)
    return []


# Ids per IN (...) list: well under every engine's limit on bound parameters in one
# statement (PostgreSQL 65,535; SQLite 32,766), which a district's hundred thousand
# teams pass.
IDS_PER_QUERY = 5000


def chunks(ids: Sequence[int], size: int | None = None) -> list[list[int]]:
    """``ids`` in lists of at most ``size`` (:data:`IDS_PER_QUERY`), in their order."""
    size = size or IDS_PER_QUERY
    return [list(ids[i : i + size]) for i in range(0, len(ids), size)]


def minutes_after(session: Session, column, start: datetime):
    """SQL: whole minutes from ``start`` to the time in ``column``, rounded up
    (``math.ceil`` of the seconds / 60, as the reports count them; 0 or less at or
    before ``start``), so times can be counted per minute by the database. PostgreSQL
    subtracts to the microsecond, SQLite to the millisecond (its ``julianday``)."""
    at = literal(start, DateTime())
    if session.get_bind().dialect.name == "postgresql":
        ticks, per_minute = extract("epoch", column - at) * 1_000_000, 60_000_000
        ticks = cast(func.floor(ticks), BigInteger)
    else:
        ticks = (func.julianday(column) - func.julianday(at)) * 86_400_000
        ticks, per_minute = cast(func.round(ticks), Integer), 60_000
    # Integer division truncates toward zero: a ceiling for the times after ``start``.
    return (ticks + (per_minute - 1)) // per_minute
