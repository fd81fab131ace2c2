"""Signs of life from the field: when a person's phone last opened or synced a task."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from village_grid.extensions import db
from village_grid.models.base import Timestamp, utcnow


class FieldSign(db.Model):
    """One row per person and task: the first and the latest time their phone showed
    life on it (opened the "my team" page with the task on it, sent a tap, or synced
    its queue), and how. A lead with households still to confirm and no sign for a
    while is "silent" (``tasks/silent.py``)."""

    __tablename__ = "field_signs"
    __table_args__ = (UniqueConstraint("task_id", "user_id", name="uq_field_signs_task_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    first_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    last_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    # open (the page was fetched), tap (a status sent from the page), sync (the queue)
    last_kind: Mapped[str] = mapped_column(String(10), default="open")
    synced_at: Mapped[datetime | None] = mapped_column(Timestamp)
