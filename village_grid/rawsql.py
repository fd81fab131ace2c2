"""Core statements compiled once and run straight on a DBAPI cursor.

For the few statements on the hottest path — a whole village answering its
door plates within minutes — ``Connection.execute`` cost more than SQLite
took to run them: about 20 µs of Python per call for the execution context,
parameter processing and result wrapping, against 5–10 µs for the statement
itself. A :class:`Prepared` statement is compiled once per dialect; its
parameters go through the same bind processors SQLAlchemy would apply
(``DateTime`` to SQLite's text, ``JSON`` to a string, …) and its rows through
the same result processors, so what is written and read is exactly what the
Core path writes and reads, on SQLite and PostgreSQL alike. Everything else in
the app goes through SQLAlchemy as usual.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement


class Prepared:
    """One statement compiled for one dialect.

    Parameters are passed by bind name (``bindparam("digest")`` → ``"digest"``;
    an INSERT compiled with ``column_keys`` takes the column keys). Binds that
    carry a value in the statement itself (``reason == "overdue"``) need not be
    passed. Raises ``KeyError`` for a missing parameter rather than sending NULL.
    """

    def __init__(self, statement: ClauseElement, dialect: Dialect, column_keys=None):
        compiled = statement.compile(dialect=dialect, column_keys=column_keys)
        self.statement = statement  # keeps the id in the cache key from being reused
        self.sql = compiled.string
        self._positional = compiled.positional
        names = list(compiled.positiontup) if compiled.positional else list(compiled.binds)
        self._names = names
        self._fixed: dict[str, Any] = {}
        self._processors: dict[str, Any] = {}
        for name in names:
            bind = compiled.binds[name]
            if not bind.required:
                self._fixed[name] = bind.effective_value
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self._processors[name] = processor
        columns = getattr(statement, "exported_columns", None) or ()
        self._row_processors = [
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        ]
        self._process_rows = any(p is not None for p in self._row_processors)

    def parameters(self, values: dict) -> dict | list:
        """``values`` as the driver takes them (positional or by name), processed."""
        out = []
        for name in self._names:
            try:
                value = values[name]
            except KeyError:
                if name not in self._fixed:
                    raise
                value = self._fixed[name]
            processor = self._processors.get(name)
            out.append(value if processor is None else processor(value))
        return out if self._positional else dict(zip(self._names, out, strict=True))

    def execute(self, cursor, values: dict):
        """Run the statement once on ``cursor``; the cursor is returned."""
        cursor.execute(self.sql, self.parameters(values))
        return cursor

    def executemany(self, cursor, rows: Iterable[dict]) -> None:
        """Run the statement for every row (no rows come back)."""
        cursor.executemany(self.sql, [self.parameters(row) for row in rows])

    def first(self, cursor, values: dict) -> tuple | None:
        """Run the statement and return its first row, processed (None without rows)."""
        row = self.execute(cursor, values).fetchone()
        # Read to the end: a SELECT left open would keep SQLite's read snapshot.
        cursor.fetchall()
        if row is None or not self._process_rows:
            return row
        return tuple(
            p(v) if p is not None else v for p, v in zip(self._row_processors, row, strict=True)
        )


_prepared: dict[tuple, Prepared] = {}
_prepared_lock = threading.Lock()


def prepared(statement: ClauseElement, dialect: Dialect, column_keys=None) -> Prepared:
    """``statement`` compiled for ``dialect``, once per process (statements are module constants)."""
    # By the dialect's kind, not the instance: every app (and test) makes its own
    # engine, all configured alike (no custom JSON serializer, one paramstyle).
    key = (
        id(statement),
        type(dialect),
        dialect.paramstyle,
        tuple(column_keys) if column_keys else None,
    )
    found = _prepared.get(key)
    if found is None:
        with _prepared_lock:
            found = _prepared.setdefault(key, Prepared(statement, dialect, column_keys))
    return found
