"""SQLAlchemy 2.0 typed models. Import from here: ``from village_grid.models import Unit``."""

from village_grid.models.audit import AuditEvent
from village_grid.models.auth import LoginFailure, LoginSession, SignInLink
from village_grid.models.field import FieldSign
from village_grid.models.files import FileJob
from village_grid.models.households import HOUSEHOLD_FLAGS, Household, Member
from village_grid.models.mailbox import MailboxMessage
from village_grid.models.notify import OutboxMessage, UnitRobot, WorkerTick
from village_grid.models.qr import RetiredPlate
from village_grid.models.registry import ImportJob
from village_grid.models.station import (
    Attendance,
    Broadcast,
    JobReferral,
    Newcomer,
    Placement,
    Training,
)
from village_grid.models.tasks import (
    Assignment,
    Escalation,
    NoticeRead,
    StatusEvent,
    Task,
    TaskTeam,
)
from village_grid.models.units import TreeState, Unit
from village_grid.models.users import ROLES, RoleAssignment, User
from village_grid.models.warnings import OfficialWarning, WarningDraft

__all__ = [
    "HOUSEHOLD_FLAGS",
    "ROLES",
    "Assignment",
    "Attendance",
    "AuditEvent",
    "Broadcast",
    "Escalation",
    "FieldSign",
    "FileJob",
    "Household",
    "ImportJob",
    "JobReferral",
    "LoginFailure",
    "LoginSession",
    "MailboxMessage",
    "Member",
    "Newcomer",
    "NoticeRead",
    "OutboxMessage",
    "Placement",
    "RetiredPlate",
    "RoleAssignment",
    "SignInLink",
    "StatusEvent",
    "Task",
    "TaskTeam",
    "Training",
    "TreeState",
    "Unit",
    "UnitRobot",
    "User",
    "OfficialWarning",
    "WarningDraft",
    "WorkerTick",
]
