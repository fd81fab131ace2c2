"""The notification outbox: one row per message to deliver, delivered at least once, recorded once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from village_grid.extensions import db
from village_grid.models.base import Timestamp, utcnow


class OutboxMessage(db.Model):
    __tablename__ = "outbox"
    # Delivery takes the most urgent due message first (see notify.service.deliver_pending).
    __table_args__ = (
        Index("ix_outbox_status_priority_next", "status", "priority", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # What caused it and for whom, e.g. "dispatch:42:user:7": one event, one message.
    event_key: Mapped[str] = mapped_column(String(200), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recipient_label: Mapped[str] = mapped_column(String(100), default="")
    # The unit whose work group it goes to (its robot, or the nearest ancestor's): the
    # recipient's own unit unless the message names one (notify.service.enqueue_many).
    unit_id: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    # 0 a call for help, 1 a household overdue, 2 everything else (notify.service.URGENT …).
    priority: Mapped[int] = mapped_column(SmallInteger, default=2, server_default="2")
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(Timestamp, default=utcnow)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    # A worker sending it holds it until then; a worker that died lets it go on its own.
    claimed_until: Mapped[datetime | None] = mapped_column(Timestamp)
    claimed_by: Mapped[str] = mapped_column(String(64), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(Timestamp)


class UnitRobot(db.Model):
    """A unit's work-group robot (a WeCom group robot or any webhook URL): messages for
    the people under the unit go there, unless a unit nearer them has its own
    (notify.channels). The URL carries the robot's key, so it is kept sealed
    (vault, purpose ``unit-robot``) and shown only masked."""

    __tablename__ = "unit_robots"

    unit_id: Mapped[int] = mapped_column(
        ForeignKey("units.id", ondelete="CASCADE"), primary_key=True
    )
    url_sealed: Mapped[str] = mapped_column(Text)
    # The URL as pages, logs and the audit log show it (notify.channels.mask_url).
    url_masked: Mapped[str] = mapped_column(String(600))
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    set_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class WorkerTick(db.Model):
    """When a periodic job last ran (escalation checks, delivery sweeps): however many
    workers run, one claims each tick; ``/healthz`` reads how recent the last is."""

    __tablename__ = "worker_ticks"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_at: Mapped[datetime | None] = mapped_column(Timestamp)
    worker: Mapped[str] = mapped_column(String(64), default="")
