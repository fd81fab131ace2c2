"""Households (户) on team units, and their members (成员)."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Integer, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from village_grid import vault
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

    # The door-plate token (random, URL-safe, 192 bits) is kept only as its SHA-256
    # (what a scan looks up: the timing depends on a hash, never on the token) and
    # sealed under the data key (``village_grid/vault.py``), to print the plate again.
    # A copy of the database without the key holds no usable plate URL. Both empty
    # while a household has no plate yet. Read and write it as ``qr_token``.
    qr_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    qr_token_sealed: Mapped[str | None] = mapped_column(String(255))
    qr_rotated_at: Mapped[datetime | None] = mapped_column(Timestamp)

    @property
    def qr_token(self) -> str | None:
        """The plate token, unsealed (needs the data key)."""
        return unseal_plate_token(self.qr_token_sealed) if self.qr_token_sealed else None

    @qr_token.setter
    def qr_token(self, token: str | None) -> None:
        """Every write of a token (creation, rotation) keeps its hash and its sealed copy."""
        self.qr_token_hash = plate_token_hash(token) if token else None
        self.qr_token_sealed = seal_plate_token(token) if token else None

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


# The purpose the plate tokens are sealed for (a key of their own under the data key).
PLATE_TOKEN = b"village-grid/plate-token/encrypt"


def plate_token_hash(token: str) -> str:
    """SHA-256 (hex) of a door-plate token: what the lookup index holds."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def seal_plate_token(token: str) -> str:
    """A plate token as it is kept: sealed under the data key."""
    return vault.seal(PLATE_TOKEN, token)


def unseal_plate_token(sealed: str) -> str:
    """The token back, to print its plate (:class:`vault.KeyProblem` without the key)."""
    return vault.unseal(PLATE_TOKEN, sealed)
