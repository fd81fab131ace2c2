"""Official warnings (CAP 1.2, GB/T 35965.1) as they arrived, and the draft sweeps
each one made, amended or withdrew. Their vocabulary is ``village_grid.warnings.labels``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from village_grid.extensions import db
from village_grid.models.base import Timestamp, utcnow


class OfficialWarning(db.Model):
    """One CAP message: an alert, an update or a cancellation. Stored once per
    identifier; the document itself is kept as it came."""

    __tablename__ = "warnings"
    __table_args__ = (Index("ix_warnings_received_at", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    identifier: Mapped[str] = mapped_column(String(255), unique=True)
    sender: Mapped[str] = mapped_column(String(255), default="")
    sent: Mapped[datetime | None] = mapped_column(Timestamp)
    # CAP status (Actual, Exercise, System, Test, Draft) and msgType (Alert, Update, Cancel …)
    status: Mapped[str] = mapped_column(String(12), default="Actual")
    msg_type: Mapped[str] = mapped_column(String(12), default="Alert")
    # The earlier messages an Update or Cancel names ("sender,identifier,sent" each).
    references: Mapped[list] = mapped_column(JSON, default=list)
    event: Mapped[str] = mapped_column(String(100), default="")
    severity: Mapped[str] = mapped_column(String(12), default="Unknown")
    urgency: Mapped[str] = mapped_column(String(12), default="Unknown")
    certainty: Mapped[str] = mapped_column(String(12), default="Unknown")
    headline: Mapped[str] = mapped_column(String(300), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    instruction: Mapped[str] = mapped_column(Text, default="")
    sender_name: Mapped[str] = mapped_column(String(200), default="")
    onset: Mapped[datetime | None] = mapped_column(Timestamp)
    expires: Mapped[datetime | None] = mapped_column(Timestamp)
    # [{"desc", "geocodes": [...], "polygons": [[[lon, lat], ...]], "circles": [[lon, lat, km]]}]
    areas: Mapped[list] = mapped_column(JSON, default=list)
    document: Mapped[str] = mapped_column(Text, default="")
    # api, feed or upload; who sent it (the API's user, the uploader; none from the feed).
    received_via: Mapped[str] = mapped_column(String(10), default="api")
    received_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    received_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    # The feed item's link the document came from (the feed is not read twice for it).
    source_url: Mapped[str] = mapped_column(String(500), default="", index=True)
    # What happened on arrival, for the warnings page: drafted, updated, cancelled,
    # expired, not_actual, nothing_matched, duplicate_update …
    outcome: Mapped[str] = mapped_column(String(30), default="")
    # Set on an alert when a later Update replaces it or a Cancel withdraws it.
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("warnings.id"))

    drafts: Mapped[list[WarningDraft]] = relationship(
        back_populates="warning", order_by="WarningDraft.id", cascade="all, delete-orphan"
    )


class WarningDraft(db.Model):
    """A task a warning touched: the draft sweep it made for one village, amended
    (Update), withdrew (Cancel), or found already sent."""

    __tablename__ = "warning_drafts"
    __table_args__ = (
        UniqueConstraint("warning_id", "task_id", name="uq_warning_drafts_warning_task"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    warning_id: Mapped[int] = mapped_column(ForeignKey("warnings.id", ondelete="CASCADE"))
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    # The village the draft is for (its path scopes the warnings page).
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    households: Mapped[int] = mapped_column(Integer, default=0)
    # drafted, amended, withdrawn, sent_before (a Cancel or Update found it already sent)
    change: Mapped[str] = mapped_column(String(12), default="drafted")
    # WARNINGS_AUTOSEND: when the draft sends itself unless someone holds it.
    autosend_at: Mapped[datetime | None] = mapped_column(Timestamp)
    held_at: Mapped[datetime | None] = mapped_column(Timestamp)
    held_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    warning: Mapped[OfficialWarning] = relationship(back_populates="drafts")
    task: Mapped[Task] = relationship()  # noqa: F821
    unit: Mapped[Unit] = relationship()  # noqa: F821
