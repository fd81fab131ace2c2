"""The red mailbox (红色信箱): notes from households and the staff's replies."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from village_grid.extensions import db
from village_grid.models.base import Timestamp, utcnow


class MailboxMessage(db.Model):
    __tablename__ = "mailbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    tracking_no: Mapped[str] = mapped_column(String(20), unique=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    category: Mapped[str] = mapped_column(String(30))
    text: Mapped[str] = mapped_column(Text)
    callback_phone: Mapped[str] = mapped_column(String(20), default="")
    status: Mapped[str] = mapped_column(String(20), default="open")  # open|replied|closed
    reply: Mapped[str] = mapped_column(Text, default="")
    replied_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    replied_at: Mapped[datetime | None] = mapped_column(Timestamp)
    closed_at: Mapped[datetime | None] = mapped_column(Timestamp)
    client_addr: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)

    household: Mapped[Household] = relationship()  # noqa: F821
    # The team the note was written to (its household may have moved since).
    team: Mapped[Unit] = relationship()  # noqa: F821
