"""Households (户) on team units, and their members (成员)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Integer, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from village_grid.extensions import db
from village_grid.models.base import Timestamp, utcnow

# Vulnerability and status flags, in the order forms and exports show them.
HOUSEHOLD_FLAGS = (
    "elderly_alone",
    "disabled",
    "young_children",
    "pregnant",
    "flood_prone",
    "rental",
    "party_member",
    "veteran",
)


class Household(db.Model):
    __tablename__ = "households"
    __table_args__ = (UniqueConstraint("team_id", "seq", name="uq_households_team_seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    # Number within the team; the last part of the printable code.
    seq: Mapped[int] = mapped_column(Integer)
    # Printable code, unique in the system: village-grid-team-household, e.g. HG-03-07-05.
    code: Mapped[str] = mapped_column(String(60), unique=True)
    door_no: Mapped[str] = mapped_column(String(50), default="")
    address: Mapped[str] = mapped_column(String(200), default="")
    head_name: Mapped[str] = mapped_column(String(50))
    phone: Mapped[str] = mapped_column(String(20), default="")
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)

    elderly_alone: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    young_children: Mapped[bool] = mapped_column(Boolean, default=False)
    pregnant: Mapped[bool] = mapped_column(Boolean, default=False)
    flood_prone: Mapped[bool] = mapped_column(Boolean, default=False)
    rental: Mapped[bool] = mapped_column(Boolean, default=False)
    party_member: Mapped[bool] = mapped_column(Boolean, default=False)
    veteran: Mapped[bool] = mapped_column(Boolean, default=False)

    # Door-plate token (QR issue): random, URL-safe, >=128 bits. Nullable so a
    # household can exist before its plate is issued; unique when present.
    qr_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    qr_rotated_at: Mapped[datetime | None] = mapped_column(Timestamp)
    # SHA-256 of qr_token, kept in step by models/qr.py: the door-plate lookup
    # searches this index, so lookup timing depends on a hash, never on the token.
    qr_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)

    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, onupdate=utcnow)

    team: Mapped[Unit] = relationship()  # noqa: F821
    members: Mapped[list[Member]] = relationship(
        back_populates="household", cascade="all, delete-orphan", order_by="Member.id"
    )

    @property
    def flags(self) -> list[str]:
        return [f for f in HOUSEHOLD_FLAGS if getattr(self, f)]

    def __repr__(self) -> str:
        return f"<Household {self.code}>"


class Member(db.Model):
    __tablename__ = "members"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(
        ForeignKey("households.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(50))
    relation: Mapped[str] = mapped_column(String(20), default="")
    sex: Mapped[str] = mapped_column(String(1), default="")  # "M", "F" or ""
    birth_year: Mapped[int | None] = mapped_column(SmallInteger)
    phone: Mapped[str] = mapped_column(String(20), default="")

    household: Mapped[Household] = relationship(back_populates="members")
