"""SQLite writers queue on a lock file instead of sleeping in SQLite's busy handler.

SQLite takes one writer at a time. When a second connection wants to write,
SQLite's busy handler retries after sleeping 1, 2, 5 … up to 100 ms a time, so
under load (every door plate of a village scanned during a typhoon, several
gunicorn workers each with several threads) a writer can sleep long after the
lock was freed: that is what made the report endpoint's p99 latency seconds
rather than milliseconds.

Here every connection to a file database gets its own descriptor on
``<database>-writers.lock``. Before its first writing statement in a
transaction it takes an exclusive ``flock`` on it — the kernel wakes the next
waiter the moment the holder lets go, across threads and processes alike — and
lets go when the transaction ends (commit, rollback, close; the kernel lets go
if the process dies). Reads never take it: in WAL mode readers do not wait for
the writer. SQLite's own locking stays underneath, unchanged, for anything
that does not go through this class (the sqlite3 shell, a backup).

Used as ``sqlite3.connect(..., factory=QueuedWriterConnection)`` through
``config.engine_options``; PostgreSQL needs nothing of the sort.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading

# Statements that only read: everything else (INSERT, UPDATE, DELETE, SAVEPOINT,
# CREATE …, and WITH, which may end in a write) queues for the writer lock.
_READS = ("SELECT", "PRAGMA", "EXPLAIN", "COMMIT", "ROLLBACK", "RELEASE", "END")

# Lock files held by this thread (through any connection): a thread that
# already holds the lock through one connection and writes through another
# must not wait on itself — it falls back to SQLite's busy handler, as before.
_held = threading.local()


def lock_path(database: str) -> str | None:
    """The lock file beside a database file; None for in-memory databases."""
    if not database or database == ":memory:" or "mode=memory" in database:
        return None
    if database.startswith("file:"):
        database = database[5:].split("?", 1)[0]
    return os.path.abspath(database) + "-writers.lock"


class QueuedWriterCursor(sqlite3.Cursor):
    def execute(self, sql, parameters=(), /):
        return self.connection._queued(super().execute, sql, parameters)

    def executemany(self, sql, seq_of_parameters, /):
        return self.connection._queued(super().executemany, sql, seq_of_parameters)


_writes_cache: dict[str, bool] = {}


def _writes(sql: str) -> bool:
    # Statements repeat (the same few hundred texts): decide once per text.
    writes = _writes_cache.get(sql)
    if writes is None:
        writes = not sql.lstrip()[:9].upper().startswith(_READS)
        if len(_writes_cache) < 4096:
            _writes_cache[sql] = writes
    return writes


class QueuedWriterConnection(sqlite3.Connection):
    """A sqlite3 connection whose write transactions queue on a lock file."""

    def __init__(self, database, *args, **kwargs):
        super().__init__(database, *args, **kwargs)
        self._holding = False
        self._lock_fd: int | None = None
        path = lock_path(os.fsdecode(database))
        if path is not None:
            self._lock_fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._lock_path = path

    def cursor(self, factory=QueuedWriterCursor):
        return super().cursor(factory)

    # The shortcuts would run the C cursor's execute, past the queue.
    def execute(self, sql, parameters=(), /):
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql, seq_of_parameters, /):
        return self.cursor().executemany(sql, seq_of_parameters)

    def _queued(self, run, sql, parameters):
        """Run a statement, queueing first if it is this transaction's first write."""
        if self._lock_fd is not None and not self._holding and _writes(sql):
            self.queue_for_write()
        try:
            return run(sql, parameters)
        finally:
            if self._holding and not self.in_transaction:
                self.release_writer()

    def queue_for_write(self) -> None:
        """Wait (without holding the GIL) until no other writer is in a transaction."""
        held: set = _held.__dict__.setdefault("paths", set())
        if self._lock_path in held:
            return
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        self._holding = True
        self._held_in = held
        held.add(self._lock_path)

    def release_writer(self) -> None:
        if self._holding:
            self._holding = False
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            self._held_in.discard(self._lock_path)

    def commit(self):
        try:
            super().commit()
        finally:
            if not self.in_transaction:
                self.release_writer()

    def rollback(self):
        try:
            super().rollback()
        finally:
            self.release_writer()

    def close(self):
        try:
            super().close()
        finally:
            self.release_writer()
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None
