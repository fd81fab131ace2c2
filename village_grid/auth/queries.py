"""Reads for the people and roles page: whom a user may give roles, and on what.

Each function takes the session and the acting user as arguments; none looks
at the request. Who may do what is decided in ``auth/scope.py``.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from village_grid.auth import scope, sessions
from village_grid.models import LoginSession, RoleAssignment, Unit, User


def assignable_units(session: Session, user: User | None, limit: int = 2000) -> list[Unit]:
    """Units ``user`` may give roles on, in tree order (buildings left out: no role
    is given on a building). At most ``limit``."""
    return list(
        session.scalars(
            select(Unit)
            .where(scope.scope_clause(user, "assign_roles"))
            .where(Unit.kind != "building")
            .order_by(Unit.path)
            .limit(limit)
        )
    )


def people_in_scope(session: Session, user: User | None, limit: int = 1000) -> list[User]:
    """People holding a role somewhere ``user`` may assign roles, by name. At most ``limit``."""
    return list(
        session.scalars(
            select(User)
            .join(RoleAssignment, RoleAssignment.user_id == User.id)
            .outerjoin(Unit, Unit.id == RoleAssignment.unit_id)
            .where(scope.scope_clause(user, "assign_roles", Unit.path))
            .distinct()
            .order_by(User.name, User.username)
            .limit(limit)
        )
    )


def login_remembered(session: Session, token: str | None) -> bool:
    """Was the login with this token made with "stay logged in"?"""
    if not token:
        return False
    return bool(
        session.scalar(
            select(LoginSession.remember).where(
                LoginSession.token_hash == sessions.token_hash(token)
            )
        )
    )
