"""WAL checkpoints on their own thread (database/checkpoints.py): connections leave
checkpoints to it, it moves the WAL into the database file while writers go on,
and it ends with its database."""

from __future__ import annotations

import shutil
import sqlite3
import time

from sqlalchemy import create_engine, text

from village_grid import database
from village_grid.database import checkpoints as sqlite_checkpoints


def wal_database(path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA wal_autocheckpoint=0")  # nobody else checkpoints
    connection.execute("CREATE TABLE answers (id INTEGER PRIMARY KEY, note TEXT)")
    return connection


def rows_in_database_file(path, tmp_path) -> int:
    """Answers found in the database file alone, without its WAL."""
    alone = tmp_path / "alone.db"
    shutil.copy(path, alone)
    copy = sqlite3.connect(alone)
    try:
        return copy.execute("SELECT count(*) FROM answers").fetchone()[0]
    except sqlite3.OperationalError:  # not even the table has reached the file
        return 0
    finally:
        copy.close()
        alone.unlink()


def until(condition, seconds: float = 5.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_the_app_s_connections_leave_checkpoints_to_the_thread(tmp_path):
    url = f"sqlite:///{tmp_path / 'village.db'}"
    engine = create_engine(url, **database.engine_options(url))
    database.configure(engine)
    try:
        with engine.connect() as connection:
            pages = connection.execute(text("PRAGMA wal_autocheckpoint")).scalar()
            assert pages == sqlite_checkpoints.SAFETY_NET_PAGES
        thread = sqlite_checkpoints.checkpointer(str(tmp_path / "village.db"))
        assert thread is not None and thread.daemon
        # One thread per database file in a process, however many connections.
        with engine.connect(), engine.connect():
            pass
        assert sqlite_checkpoints.checkpointer(str(tmp_path / "village.db")) is thread
    finally:
        engine.dispose()


def test_in_memory_databases_get_no_thread():
    connection = sqlite3.connect(":memory:")
    sqlite_checkpoints.on_connect(connection)
    assert connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000
    assert sqlite_checkpoints.database_path(connection) is None


def test_the_thread_moves_the_wal_into_the_database_file(tmp_path):
    path = str(tmp_path / "village.db")
    writer = wal_database(path)
    for n in range(200):
        writer.execute("INSERT INTO answers (note) VALUES (?)", (f"safe {n}",))
    assert rows_in_database_file(path, tmp_path) == 0  # all of it still in the WAL
    thread = sqlite_checkpoints.WalCheckpointer(path, interval=0.05)
    thread.start()
    try:
        for n in range(200):  # writers go on while it works
            writer.execute("INSERT INTO answers (note) VALUES (?)", (f"later {n}",))
        done = thread.checkpoints + 1
        # Every frame of the WAL copied, by a checkpoint that began after the last write.
        assert until(lambda: thread.checkpoints > done and thread.last[1] == thread.last[2])
        assert thread.last[1] > 0
    finally:
        thread.stop()
        thread.join(5)
    assert rows_in_database_file(path, tmp_path) == 400
    writer.close()


def test_the_thread_ends_with_its_database(tmp_path):
    path = tmp_path / "village.db"
    wal_database(str(path)).close()
    thread = sqlite_checkpoints.WalCheckpointer(str(path), interval=0.02)
    thread.start()
    assert until(lambda: thread.checkpoints >= 1)
    for leftover in tmp_path.iterdir():
        leftover.unlink()
    thread.join(5)
    assert not thread.is_alive()
    assert list(tmp_path.iterdir()) == []  # and did not make it again


def test_only_sqlite_engines_get_the_sqlite_set_up(app):
    """PostgreSQL connections run none of it: no pragmas, no checkpoint thread."""
    from sqlalchemy import event

    from village_grid.extensions import db

    engine = db.engine
    attached = event.contains(engine, "connect", database._sqlite_connect)
    assert attached == (engine.dialect.name == "sqlite")
    pg = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    database.configure(pg)
    assert not event.contains(pg, "connect", database._sqlite_connect)
    assert "factory" not in database.engine_options(str(pg.url)).get("connect_args", {})
