"""A file made for someone to download: an export or a report, made in the request when
small, by the worker when large (``village_grid/files``). The row says what it holds
(its kind, its parameters, the unit paths its rows come from), how far the making got,
where the bytes are (under ``FILES_DIR``) and until when they are kept."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from village_grid.extensions import db
from village_grid.models.base import Timestamp, utcnow

# queued → making → done | failed; done → expired (the file deleted, the row kept)
FILE_STATES = ("queued", "making", "done", "failed", "expired")


class FileJob(db.Model):
    __tablename__ = "file_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Who asked for it: the file is made with their scope. Kept by name if they go.
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    # What it is: a kind registered in files/kinds.py, and what the kind needs to make it.
    kind: Mapped[str] = mapped_column(String(40))
    fmt: Mapped[str] = mapped_column(String(10))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    # Who may read it: the scope action of its kind on every one of these unit paths
    # (null: everywhere, a file only an administrator may read).
    paths: Mapped[list | None] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(10), default="queued", index=True)
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    # The name it downloads as, and where it is (relative to FILES_DIR) once made.
    filename: Mapped[str] = mapped_column(String(200), default="")
    stored: Mapped[str] = mapped_column(String(200), default="")
    size: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(Timestamp)
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp)
    expires_at: Mapped[datetime | None] = mapped_column(Timestamp, index=True)
