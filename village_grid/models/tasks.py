"""Tasks sent down the tree, their teams with the counts of each status, one
assignment per household once it is reported on (``tasks/membership.py``), and
the append-only events behind every status. Their vocabulary (kinds, statuses,
help kinds, how a status came) is ``village_grid.tasks.labels``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from village_grid.extensions import db
from village_grid.models.base import Timestamp, utcnow


class Task(db.Model):
    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    subkind: Mapped[str] = mapped_column(String(20), default="")
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    # {"flags": [...], "unit_ids": [...]} — households must pass it to be reached.
    filter: Mapped[dict] = mapped_column(JSON, default=dict)
    # Survey questions: [{"id": "q1", "type": "choice|number|text", "text": ..., "choices": [...]}]
    questions: Mapped[list] = mapped_column(JSON, default=list)
    deadline: Mapped[datetime | None] = mapped_column(Timestamp)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(Timestamp)
    # When its people were told (routing written, messages queued): tasks/telling.py.
    told_at: Mapped[datetime | None] = mapped_column(Timestamp)
    households_total: Mapped[int] = mapped_column(Integer, default=0)
    teams_total: Mapped[int] = mapped_column(Integer, default=0)
    # A draft (made from an official warning, tasks/drafts.py) tells nobody and has no
    # teams until someone sends it; a draft closed unsent was withdrawn.
    draft: Mapped[bool] = mapped_column(Boolean, default=False)

    unit: Mapped[Unit] = relationship()  # noqa: F821
    created_by: Mapped[User | None] = relationship()  # noqa: F821

    @property
    def status(self) -> str:
        """draft, withdrawn (a draft closed unsent), open or closed."""
        if self.draft:
            return "withdrawn" if self.closed_at is not None else "draft"
        return "closed" if self.closed_at is not None else "open"


class TaskTeam(db.Model):
    """One team of a task: who answers for its households and why (the routing
    decision), how many of its households the task reaches and how many are at
    each status — moved with every report, in the same transaction — and whether
    every one of them has its assignment row yet (``frozen``; see
    ``tasks/membership.py``). A notice reaches the team's lead only: its counts
    stay zero and it is frozen from the start."""

    __tablename__ = "task_teams"
    __table_args__ = (UniqueConstraint("task_id", "team_id", name="uq_task_teams_task_team"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # team_lead, grid_member, cadre, township (the level routing fell back to)
    assignee_role: Mapped[str] = mapped_column(String(20), default="")
    reason: Mapped[str] = mapped_column(String(300), default="")
    households: Mapped[int] = mapped_column(Integer, default=0)
    pending: Mapped[int] = mapped_column(Integer, default=0)
    safe: Mapped[int] = mapped_column(Integer, default=0)
    needs_help: Mapped[int] = mapped_column(Integer, default=0)
    not_home: Mapped[int] = mapped_column(Integer, default=0)
    unreachable: Mapped[int] = mapped_column(Integer, default=0)
    frozen: Mapped[bool] = mapped_column(Boolean, default=False)


class Assignment(db.Model):
    """One household of a task, holding its latest status: written when it is first
    reported on, or as pending when its team is frozen (``tasks/membership.py``)."""

    __tablename__ = "assignments"
    __table_args__ = (
        UniqueConstraint("task_id", "household_id", name="uq_assignments_task_household"),
        Index("ix_assignments_task_status", "task_id", "status"),
        # Covers the progress roll-up (GROUP BY team, status for one task)
        # without touching the table.
        Index("ix_assignments_task_team_status", "task_id", "team_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    help_kind: Mapped[str] = mapped_column(String(20), default="")
    note: Mapped[str] = mapped_column(String(500), default="")
    answers: Mapped[dict | None] = mapped_column(JSON)
    updated_at: Mapped[datetime | None] = mapped_column(Timestamp)
    updated_via: Mapped[str] = mapped_column(String(20), default="")
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class StatusEvent(db.Model):
    """Append-only: every confirmation or report as it was sent. Never updated."""

    __tablename__ = "status_events"
    __table_args__ = (
        Index("ix_status_events_task_created", "task_id", "created_at"),
        # A phone's operation ids are its sender's own: another person's never collide.
        UniqueConstraint("actor_id", "client_op_id", name="uq_status_events_actor_op"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE"), index=True
    )
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"))
    status: Mapped[str] = mapped_column(String(20))
    help_kind: Mapped[str] = mapped_column(String(20), default="")
    note: Mapped[str] = mapped_column(String(500), default="")
    answers: Mapped[dict | None] = mapped_column(JSON)
    via: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Offline sync: the id the phone made for this operation, unique per sender; a
    # replay is a no-op.
    client_op_id: Mapped[str | None] = mapped_column(String(64))
    client_time: Mapped[datetime | None] = mapped_column(Timestamp)
    client_addr: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class Escalation(db.Model):
    """A case climbing the tree, one row per level it reached (``tasks/cases.py``).
    About a household (``assignment_id``, ``household_id``): a call for help. About a
    team of a task (``task_team_id``): households not reached by the deadline, a
    notice its person told had not read, a silent lead. ``team_id`` is the team the
    case is about either way: the queue is scoped by its path."""

    __tablename__ = "escalations"
    __table_args__ = (
        UniqueConstraint(
            "assignment_id", "reason", "level", name="uq_escalations_assignment_reason_level"
        ),
        UniqueConstraint(
            "task_team_id", "reason", "level", name="uq_escalations_task_team_reason_level"
        ),
        # Exactly one subject: a household's assignment or a task's team.
        CheckConstraint("(assignment_id IS NULL) <> (task_team_id IS NULL)", name="subject"),
        Index("ix_escalations_status_next", "status", "next_escalation_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    assignment_id: Mapped[int | None] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE")
    )
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"))
    task_team_id: Mapped[int | None] = mapped_column(
        ForeignKey("task_teams.id", ondelete="CASCADE")
    )
    team_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    reason: Mapped[str] = mapped_column(String(20))  # tasks/labels.py: ESCALATION_REASONS
    level: Mapped[int] = mapped_column(Integer, default=1)
    # The unit whose people hold the case now (grid, village, township).
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(20), default="open")  # open|acknowledged|resolved
    opened_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    next_escalation_at: Mapped[datetime | None] = mapped_column(Timestamp)
    acknowledged_at: Mapped[datetime | None] = mapped_column(Timestamp)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(Timestamp)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolution_note: Mapped[str] = mapped_column(String(500), default="")


class NoticeRead(db.Model):
    """A team lead's read receipt for a notice."""

    __tablename__ = "notice_reads"
    __table_args__ = (UniqueConstraint("task_id", "user_id", name="uq_notice_reads_task_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    read_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
