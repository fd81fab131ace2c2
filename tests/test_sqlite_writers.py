"""SQLite writers queue on a lock file (village_grid/database/writers.py) instead of
failing with "database is locked" or sleeping in SQLite's busy handler."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from village_grid.database.writers import QueuedWriterConnection, lock_path


@pytest.fixture
def database(tmp_path):
    path = tmp_path / "w.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE answers (id INTEGER PRIMARY KEY, who TEXT)")
    conn.commit()
    conn.close()
    return str(path)


def connect(path, timeout=0.0):
    # timeout 0: without the queue, a second writer fails at once with "database is locked".
    return sqlite3.connect(
        path, timeout=timeout, factory=QueuedWriterConnection, check_same_thread=False
    )


def write_in_thread(path, who, done: list, timeout=0.0):
    def run():
        conn = connect(path, timeout)
        try:
            conn.execute("INSERT INTO answers (who) VALUES (?)", (who,))
            conn.commit()
            done.append((who, time.monotonic()))
        except Exception as exc:  # pragma: no cover - reported by the assertion
            done.append((who, exc))
        finally:
            conn.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_second_writer_waits_for_the_first_to_commit_then_writes(database):
    first = connect(database)
    first.execute("INSERT INTO answers (who) VALUES ('first')")
    done: list = []
    thread = write_in_thread(database, "second", done)
    thread.join(0.3)
    assert done == [], "the second writer must wait while the first holds its transaction"
    committed = time.monotonic()
    first.commit()
    thread.join(5)
    assert [who for who, _ in done] == ["second"]
    assert isinstance(done[0][1], float) and done[0][1] >= committed
    assert done[0][1] - committed < 0.5  # woken at once, not after a busy-handler sleep
    rows = first.execute("SELECT who FROM answers ORDER BY id").fetchall()
    assert rows == [("first",), ("second",)]
    first.close()


@pytest.mark.parametrize("end", ["rollback", "close"])
def test_the_queue_is_let_go_on_rollback_and_close(database, end):
    first = connect(database)
    first.execute("INSERT INTO answers (who) VALUES ('gone')")
    getattr(first, end)()
    done: list = []
    write_in_thread(database, "next", done).join(5)
    assert [who for who, _ in done] == ["next"] and isinstance(done[0][1], float)
    check = sqlite3.connect(database)
    assert check.execute("SELECT who FROM answers").fetchall() == [("next",)]
    check.close()
    if end == "rollback":
        first.close()


def test_readers_never_wait_for_the_writer(database):
    writer = connect(database)
    writer.execute("INSERT INTO answers (who) VALUES ('pending')")
    reader = connect(database)
    started = time.monotonic()
    assert reader.execute("SELECT count(*) FROM answers").fetchone() == (0,)
    assert time.monotonic() - started < 0.5
    writer.commit()
    assert reader.execute("SELECT count(*) FROM answers").fetchone() == (1,)
    reader.close()
    writer.close()


def test_a_thread_writing_through_two_connections_gets_an_error_not_a_hang(database):
    held = connect(database)
    held.execute("INSERT INTO answers (who) VALUES ('held')")
    other = connect(database, timeout=0.05)
    started = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        other.execute("INSERT INTO answers (who) VALUES ('other')")
    assert time.monotonic() - started < 2
    held.commit()
    other.execute("INSERT INTO answers (who) VALUES ('other')")
    other.commit()
    held.close()
    other.close()


def test_many_threads_each_write_once_and_none_is_lost(database):
    done: list = []
    # (a busy timeout as the app has: opening and closing connections checkpoints the WAL)
    threads = [write_in_thread(database, f"h{i}", done, timeout=5) for i in range(24)]
    for thread in threads:
        thread.join(10)
    assert all(isinstance(when, float) for _, when in done), done
    check = sqlite3.connect(database)
    assert check.execute("SELECT count(*) FROM answers").fetchone() == (24,)
    check.close()


def test_in_memory_databases_have_no_lock_file():
    assert lock_path(":memory:") is None
    assert lock_path("file:x?mode=memory&cache=shared") is None
    assert lock_path("/srv/vg/village_grid.db") == "/srv/vg/village_grid.db-writers.lock"
    conn = sqlite3.connect(":memory:", factory=QueuedWriterConnection)
    conn.execute("CREATE TABLE t (x)")
    conn.execute("INSERT INTO t VALUES (1)")
    conn.commit()
    conn.close()
