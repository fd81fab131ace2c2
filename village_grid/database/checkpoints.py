"""WAL checkpoints on a thread of their own, not inside somebody's commit.

In WAL mode SQLite appends every commit to ``<database>-wal``; a checkpoint
copies those pages back into the database file. By default the commit that
takes the WAL past 1,000 pages runs the checkpoint itself before it returns:
it copies the pages and waits for two fsyncs, all while our writer lock
(``writers.py``) is held. During a sweep that commit is a household's
door-plate answer, and every other answer in every worker waits behind it.
Measured on one door-plate answer after another: a commit took 145 µs on
average with SQLite's own checkpoints, 52 µs without them.

Here each process keeps one thread per database file that runs a PASSIVE
checkpoint every ``INTERVAL`` seconds: PASSIVE neither waits for nor blocks
readers and writers, it copies what it can. A page written many times within
the interval is copied once. SQLite's own checkpoint stays on as a safety net
at ``SAFETY_NET_PAGES`` (a process that writes a great deal before the thread
first runs, such as building the demo tree, or a thread that has died).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger(__name__)

INTERVAL = 1.0  # seconds between checkpoints
SAFETY_NET_PAGES = 10_000  # about 40 MB of WAL with 4 KiB pages

_threads: dict[tuple[int, str], WalCheckpointer] = {}
_lock = threading.Lock()


class WalCheckpointer(threading.Thread):
    """Checkpoints one database file every ``interval`` seconds until the file is gone."""

    def __init__(self, path: str, interval: float = INTERVAL):
        super().__init__(name=f"wal-checkpoint {os.path.basename(path)}", daemon=True)
        self.path = path
        self.interval = interval
        self.checkpoints = 0  # how many ran, and what the last one found (for tests)
        self.last: tuple[int, int, int] | None = None
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.wait(self.interval):
            if not os.path.exists(self.path):
                return  # a test's database, removed
            try:
                self.checkpoint()
            except sqlite3.Error:
                # Next time, then; SQLite's own checkpoint still catches a long WAL.
                log.warning("WAL checkpoint of %s failed", self.path, exc_info=True)

    def checkpoint(self) -> tuple[int, int, int]:
        """One PASSIVE checkpoint: (busy, frames in the WAL, frames checkpointed)."""
        # A connection per checkpoint: nothing held open between them, and
        # nothing shared with the connections that serve requests.
        # mode=rw: a database removed meanwhile is not created again.
        uri = Path(self.path).as_uri() + "?mode=rw"
        connection = sqlite3.connect(uri, uri=True, timeout=0, check_same_thread=False)
        try:
            busy, frames, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        finally:
            connection.close()
        self.checkpoints += 1
        self.last = (busy, frames, copied)
        return self.last

    def stop(self) -> None:
        self._stopping.set()


def on_connect(connection: sqlite3.Connection) -> None:
    """For every new connection to a file database in WAL mode: leave checkpoints to
    this process's thread for that file (started here if it is not running)."""
    path = database_path(connection)
    if path is None:
        return
    connection.execute(f"PRAGMA wal_autocheckpoint={SAFETY_NET_PAGES}")
    key = (os.getpid(), path)  # threads do not survive a fork (gunicorn --preload)
    if key in _threads and _threads[key].is_alive():
        return
    with _lock:
        thread = _threads.get(key)
        if thread is None or not thread.is_alive():
            thread = _threads[key] = WalCheckpointer(path)
            thread.start()


def database_path(connection: sqlite3.Connection) -> str | None:
    """The main database's file, or None for an in-memory or temporary database."""
    for _seq, name, file in connection.execute("PRAGMA database_list"):
        if name == "main":
            return file or None
    return None


def checkpointer(path: str) -> WalCheckpointer | None:
    """This process's running checkpoint thread for ``path``, if any."""
    thread = _threads.get((os.getpid(), os.path.abspath(path)))
    return thread if thread is not None and thread.is_alive() else None
