"""An acknowledged answer survives a power cut: the configuration the app ships
syncs every commit to disk before it returns (docs/security.md, "Durability")."""

from __future__ import annotations

from sqlalchemy import text

from village_grid.extensions import db

SQLITE_FULL = 2  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA


def test_every_commit_is_synced_to_disk():
    engine = db.engine
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            assert conn.execute(text("PRAGMA synchronous")).scalar() >= SQLITE_FULL
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        else:
            assert conn.execute(text("SHOW fsync")).scalar() == "on"
            assert conn.execute(text("SHOW synchronous_commit")).scalar() in (
                "on",
                "remote_apply",
                "remote_write",
            )
    # Nothing in the engine options turns it off for the app's connections.
    assert "synchronous_commit" not in str(engine.dialect.create_connect_args(engine.url))
