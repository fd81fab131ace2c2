"""The migrant-worker station (暖心驿站): newcomers, where they live, job referrals,
trainings and their attendance, and the notices the station broadcast.

An ID number is never stored in clear: ``id_cipher`` holds it encrypted (Fernet),
``id_lookup`` a keyed hash (HMAC) that finds a second registration of the same
number, ``id_mask`` and ``id_last4`` what pages show and search by. Both the
cipher and the lookup are erased ``ID_RETENTION_DAYS`` after a departure
(``station/departures.py``); the rest of the record stays.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from village_grid.extensions import db
from village_grid.models.base import Timestamp, utcnow


class Newcomer(db.Model):
    """A migrant worker registered at a village's station."""

    __tablename__ = "newcomers"
    __table_args__ = (
        # The same document registered twice in one village is one person.
        UniqueConstraint("village_id", "id_lookup", name="uq_newcomers_village_lookup"),
        Index("ix_newcomers_village_arrived", "village_id", "arrived_on"),
        Index("ix_newcomers_village_departed", "village_id", "departed_on"),
        Index("ix_newcomers_village_last4", "village_id", "id_last4"),
        Index("ix_newcomers_village_phone", "village_id", "phone"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The village whose station registered them: every station page is scoped by it.
    village_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    name: Mapped[str] = mapped_column(String(50))
    sex: Mapped[str] = mapped_column(String(1), default="")  # "M", "F" or ""
    # resident_id (居民身份证, the default) or another document (station/labels.py).
    id_type: Mapped[str] = mapped_column(String(20), default="resident_id")
    # Fernet token of the normalised number; None once erased.
    id_cipher: Mapped[str | None] = mapped_column(Text)
    # HMAC-SHA256 (hex) of type and number under the station's key; None once erased.
    id_lookup: Mapped[str | None] = mapped_column(String(64))
    # Which key wrote the two above (a short fingerprint, never the key).
    id_key: Mapped[str] = mapped_column(String(16), default="")
    # What everyone sees: "350121********1234"; and the last four, for the search.
    id_mask: Mapped[str] = mapped_column(String(40), default="")
    id_last4: Mapped[str] = mapped_column(String(4), default="")
    id_erased_at: Mapped[datetime | None] = mapped_column(Timestamp)
    phone: Mapped[str] = mapped_column(String(20), default="")
    home_province: Mapped[str] = mapped_column(String(20), default="")
    home_county: Mapped[str] = mapped_column(String(50), default="")
    arrived_on: Mapped[date] = mapped_column(Date)
    skills: Mapped[str] = mapped_column(String(200), default="")
    wants_work: Mapped[bool] = mapped_column(Boolean, default=False)
    employer: Mapped[str] = mapped_column(String(100), default="")
    emergency_name: Mapped[str] = mapped_column(String(50), default="")
    emergency_phone: Mapped[str] = mapped_column(String(20), default="")
    # The current stay's end; None while they are here.
    departed_on: Mapped[date | None] = mapped_column(Date)
    departure_reason: Mapped[str] = mapped_column(String(20), default="")
    departure_to: Mapped[str] = mapped_column(String(100), default="")
    # Earlier stays of a worker who came back: [{"arrived_on", "departed_on", "reason", "to"}].
    past_stays: Mapped[list] = mapped_column(JSON, default=list)
    registered_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, onupdate=utcnow)

    village: Mapped[Unit] = relationship()  # noqa: F821

    @property
    def present(self) -> bool:
        return self.departed_on is None

    def __repr__(self) -> str:
        return f"<Newcomer {self.id} {self.id_mask}>"


class Placement(db.Model):
    """Where a newcomer lives: a new household in a team, or a member of one that was
    there. The open one (``ended_at`` None) is where they live now; ended ones are history."""

    __tablename__ = "newcomer_placements"
    __table_args__ = (Index("ix_newcomer_placements_newcomer_ended", "newcomer_id", "ended_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    newcomer_id: Mapped[int] = mapped_column(ForeignKey("newcomers.id", ondelete="CASCADE"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    # The team at the time (the household may move later).
    team_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    # Their row among the household's members; None once they left it.
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(10))  # new | joined
    placed_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    placed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    ended_at: Mapped[datetime | None] = mapped_column(Timestamp)
    end_reason: Mapped[str] = mapped_column(String(20), default="")  # departed | moved

    household: Mapped[Household] = relationship()  # noqa: F821


class JobReferral(db.Model):
    """A newcomer sent to an employer, and what came of it."""

    __tablename__ = "job_referrals"
    __table_args__ = (Index("ix_job_referrals_outcome", "outcome"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    newcomer_id: Mapped[int] = mapped_column(
        ForeignKey("newcomers.id", ondelete="CASCADE"), index=True
    )
    employer: Mapped[str] = mapped_column(String(100))
    position: Mapped[str] = mapped_column(String(100), default="")
    referred_on: Mapped[date] = mapped_column(Date)
    outcome: Mapped[str] = mapped_column(String(10), default="pending")  # pending|hired|not_hired
    outcome_on: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)

    newcomer: Mapped[Newcomer] = relationship()


class Training(db.Model):
    """A training session in one of the station's four subjects."""

    __tablename__ = "trainings"
    __table_args__ = (Index("ix_trainings_village_held", "village_id", "held_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    # fire_safety | job_skills | legal | public_security
    subject: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(100))
    held_on: Mapped[date] = mapped_column(Date)
    place: Mapped[str] = mapped_column(String(100), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)

    village: Mapped[Unit] = relationship()  # noqa: F821


class Attendance(db.Model):
    """A newcomer was at a training session."""

    __tablename__ = "training_attendance"
    __table_args__ = (
        UniqueConstraint("training_id", "newcomer_id", name="uq_training_attendance_pair"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    training_id: Mapped[int] = mapped_column(ForeignKey("trainings.id", ondelete="CASCADE"))
    newcomer_id: Mapped[int] = mapped_column(
        ForeignKey("newcomers.id", ondelete="CASCADE"), index=True
    )
    recorded_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Broadcast(db.Model):
    """A notice the station sent to every team lead of its village (a ``notice`` task:
    its read receipts and unread escalation are the tasks domain's)."""

    __tablename__ = "station_broadcasts"
    __table_args__ = (Index("ix_station_broadcasts_village_created", "village_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), unique=True)
    kind: Mapped[str] = mapped_column(String(20), default="missing_person")  # | other
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)

    task: Mapped[Task] = relationship()  # noqa: F821
