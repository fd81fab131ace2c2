"""Many rows at once, below the ORM: the demo tree (a county's 100,000 households
and their members) is written through these. COPY on PostgreSQL, executemany
on SQLite, SQLAlchemy's executemany elsewhere; ids are given up front, and
PostgreSQL's sequences are moved past them afterwards.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Connection, func, insert, select, text
from sqlalchemy.orm import Session

# Rows per statement on SQLite and other engines.
BATCH = 5000


def next_id(session: Session, model) -> int:
    """The first free id of ``model``'s table (rows given their ids up front)."""
    return (session.scalar(select(func.max(model.id))) or 0) + 1


class IdSource:
    """Ids for rows written below the ORM while others may write the same table: on
    PostgreSQL taken from the table's sequence a block at a time (no one else gets
    them; an unused one is a gap, as after any rollback); elsewhere counted on from
    the largest id, which the caller reads under the database's write lock (SQLite
    has one writer: take it first, e.g. by an UPDATE)."""

    def __init__(self, session: Session, model, block: int = 1000):
        self.session = session
        self.table = model.__tablename__
        self.model = model
        self.block = block
        self.postgres = session.get_bind().dialect.name == "postgresql"
        self.free: list[int] = []
        self.next: int | None = None

    def take(self) -> int:
        if self.postgres:
            if not self.free:
                self.free = list(
                    self.session.scalars(
                        text(
                            "SELECT nextval(pg_get_serial_sequence(:t, 'id')) "
                            "FROM generate_series(1, :n) ORDER BY 1 DESC"
                        ),
                        {"t": self.table, "n": self.block},
                    )
                )
            return self.free.pop()
        if self.next is None:
            self.next = next_id(self.session, self.model)
        taken = self.next
        self.next += 1
        return taken


def insert_rows(session: Session | Connection, model, rows: list[dict]) -> None:
    """Insert many rows fast, below the ORM: COPY on PostgreSQL, executemany on SQLite
    (other engines: SQLAlchemy's executemany). ``session`` may be the session's
    connection itself (:class:`OrderedWriter` writes from a thread of its own)."""
    if not rows:
        return
    table = model.__table__
    columns = list(rows[0])
    connection = session if isinstance(session, Connection) else session.connection()
    dialect = connection.dialect.name
    if dialect == "postgresql":
        raw = connection.connection.driver_connection
        names = ", ".join(f'"{c}"' for c in columns)
        with (
            raw.cursor() as cursor,
            cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy,
        ):
            for row in rows:
                copy.write_row([row[c] for c in columns])
        return
    if dialect == "sqlite":
        names = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join("?" for _ in columns)
        sql = f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})'

        # sqlite3 takes bools as ints; timestamps go in as SQLAlchemy stores them.
        stamps = [i for i, c in enumerate(columns) if isinstance(rows[0][c], datetime)]
        text_of: dict[datetime, str] = {}
        for i in range(0, len(rows), BATCH):
            values = [[r[c] for c in columns] for r in rows[i : i + BATCH]]
            for v in values:
                for j in stamps:
                    d = v[j]
                    if d is not None:
                        if d not in text_of:
                            text_of[d] = d.strftime("%Y-%m-%d %H:%M:%S.%f")
                        v[j] = text_of[d]
            connection.exec_driver_sql(sql, [tuple(v) for v in values])
        return
    for i in range(0, len(rows), BATCH):
        connection.execute(insert(table), rows[i : i + BATCH])


class OrderedWriter:
    """:func:`insert_rows` for batches handed over in order (a table's rows after the rows
    they refer to). On PostgreSQL a thread of its own writes them on the session's
    connection while the caller makes the next batches — COPY mostly waits on the server,
    so the two overlap; elsewhere each batch is written when handed over. The caller does
    not use the session between the first :meth:`put` and :meth:`close`."""

    def __init__(self, session: Session, done: Callable[[int], None] | None = None):
        self.connection = session.connection()
        self.done = done
        self.threaded = self.connection.dialect.name == "postgresql"
        self.error: BaseException | None = None
        if self.threaded:
            self.batches: queue.Queue = queue.Queue(maxsize=4)
            self.thread = threading.Thread(target=self._run, name="bulk-writer", daemon=True)
            self.thread.start()

    def put(self, model, rows: list[dict], count: int = 0) -> None:
        """Write ``rows`` of ``model`` after everything handed over before; ``count``
        goes to ``done`` once they are written (households, for a progress bar)."""
        if self.error is not None:
            raise self.error
        if self.threaded:
            self.batches.put((model, rows, count))
        else:
            self._write(model, rows, count)

    def close(self) -> None:
        """Wait until every batch is written; raise what failed, if anything did."""
        if self.threaded:
            self.batches.put(None)
            self.thread.join()
        if self.error is not None:
            raise self.error

    def _write(self, model, rows: list[dict], count: int) -> None:
        insert_rows(self.connection, model, rows)
        if count and self.done is not None:
            self.done(count)

    def _run(self) -> None:
        while (batch := self.batches.get()) is not None:
            if self.error is None:
                try:
                    self._write(*batch)
                except BaseException as err:  # handed to the caller by put() / close()
                    self.error = err


def fix_sequences(session: Session, models) -> None:
    """Ids were given explicitly: move PostgreSQL's sequences past them."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for model in models:
        table = model.__tablename__
        session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
            )
        )
