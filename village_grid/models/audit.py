"""The audit log: every change to the tree, the registry, people and roles, tasks
and escalations, written in the same transaction as the change. Append-only:
nothing in the app updates or deletes a row."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from village_grid.extensions import db
from village_grid.models.base import PathString, Timestamp, utcnow


class AuditEvent(db.Model):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_at", "at"),
        Index("ix_audit_events_unit_path_at", "unit_path", "at"),
        Index("ix_audit_events_actor_at", "actor_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    # Who: a user, or nobody (the system: command line, worker; or a household at its plate).
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Their name at the time, kept when the user is gone.
    actor_label: Mapped[str] = mapped_column(String(100), default="")
    # What, e.g. "household.update", "role.assign", "task.dispatch", "login.locked".
    action: Mapped[str] = mapped_column(String(40))
    object_type: Mapped[str] = mapped_column(String(30), default="")
    object_id: Mapped[int | None] = mapped_column(Integer)
    # Where in the tree (the unit the change is under): the audit page is scoped by it.
    unit_path: Mapped[str | None] = mapped_column(PathString)
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
    client_addr: Mapped[str] = mapped_column(String(64), default="")
