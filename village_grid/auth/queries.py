"""Reads for the people and roles page: whom a user may give roles, and on what.

Each function takes the session and the acting user as arguments; none looks
at the request. Who may do what is decided in ``auth/scope.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import Session

from village_grid.auth import scope, sessions
from village_grid.auth.labels import PEOPLE_PAGE
from village_grid.models import LoginSession, RoleAssignment, SignInLink, Unit, User
from village_grid.models.units import TEAM


def assignable_units(session: Session, user: User | None, limit: int = 2000) -> list[Unit]:
    """Units ``user`` may give roles on, in tree order (buildings left out: no role
    is given on a building). At most ``limit``."""
    return list(
        session.scalars(
            select(Unit)
            .where(scope.scope_clause(user, "assign_roles"))
            .where(Unit.kind != "building")
            .order_by(Unit.sort_path)
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


@dataclass
class PeopleFilter:
    """What the people page and ``GET /api/v1/users`` narrow the list by."""

    q: str = ""
    unit: Unit | None = None
    role: str = ""
    never_signed_in: bool = False
    no_phone: bool = False


def sees_people(actor: User | None) -> bool:
    """Is there a people page for ``actor``: an administrator, a cadre, a grid member."""
    return scope.may_somewhere(actor, "sign_in_links")


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _people_query(actor: User | None, action: str, f: PeopleFilter):
    ra, unit = RoleAssignment.__table__, Unit.__table__
    held = (
        select(ra.c.id)
        .select_from(ra.outerjoin(unit, unit.c.id == ra.c.unit_id))
        .where(ra.c.user_id == User.id, scope.scope_clause(actor, action, unit.c.path))
    )
    if f.unit is not None:
        held = held.where(scope.subtree_clause(unit.c.path, f.unit.path))
    if f.role:
        held = held.where(ra.c.role == f.role)
    q = select(User).where(exists(held))
    if f.q:
        pattern = _like(f.q.strip())
        q = q.where(
            or_(
                User.name.like(pattern, escape="\\"),
                User.phone.like(pattern, escape="\\"),
                User.username.like(pattern, escape="\\"),
            )
        )
    if f.never_signed_in:
        q = q.where(User.last_sign_in_at.is_(None))
    if f.no_phone:
        q = q.where(or_(User.phone.is_(None), User.phone == ""))
    return q


def person_in_scope(
    session: Session, actor: User | None, user_id: int, *, action: str = "sign_in_links"
) -> User | None:
    """The person ``user_id`` when they hold a role where ``actor`` may do ``action``."""
    return session.scalar(_people_query(actor, action, PeopleFilter()).where(User.id == user_id))


def people_page(
    session: Session,
    actor: User | None,
    f: PeopleFilter,
    *,
    action: str = "sign_in_links",
    limit: int = PEOPLE_PAGE,
    offset: int = 0,
) -> tuple[list[User], int]:
    """One page of the people holding a role where ``actor`` may do ``action``,
    narrowed by ``f``, by name; and how many there are in all."""
    q = _people_query(actor, action, f)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = list(session.scalars(q.order_by(User.name, User.id).limit(limit).offset(offset)))
    return rows, total


def units_matching(
    session: Session, actor: User | None, text: str, *, action: str, limit: int = 20
) -> list[Unit]:
    """Units in ``actor``'s scope for ``action`` whose name or code holds ``text``
    (the unit picker's search), shortest path first."""
    text = (text or "").strip()
    if not text:
        return []
    pattern = _like(text)
    return list(
        session.scalars(
            select(Unit)
            .where(
                scope.scope_clause(actor, action),
                Unit.kind != "building",
                or_(Unit.name.like(pattern, escape="\\"), Unit.code.like(pattern, escape="\\")),
            )
            .order_by(Unit.depth, Unit.sort_path)
            .limit(limit)
        )
    )


def person_logins(session: Session, user_id: int, limit: int = 20) -> list[LoginSession]:
    """A person's logins, open ones first, newest first."""
    return list(
        session.scalars(
            select(LoginSession)
            .where(LoginSession.user_id == user_id)
            .order_by(LoginSession.ended_at.is_not(None), LoginSession.created_at.desc())
            .limit(limit)
        )
    )


def person_links(session: Session, user_id: int, limit: int = 10) -> list[SignInLink]:
    """A person's latest sign-in links (never their secrets: those are not kept)."""
    return list(
        session.scalars(
            select(SignInLink)
            .where(SignInLink.user_id == user_id)
            .order_by(SignInLink.created_at.desc(), SignInLink.id.desc())
            .limit(limit)
        )
    )


def grid_people(session: Session, grid: Unit) -> list[tuple[User, str, Unit]]:
    """The grid's members and its teams' leads, with their role and unit: the grid's
    sign-in sheet. Grid members first, then teams in order."""
    rows = session.execute(
        select(User, RoleAssignment.role, Unit)
        .join(RoleAssignment, RoleAssignment.user_id == User.id)
        .join(Unit, Unit.id == RoleAssignment.unit_id)
        .where(
            User.active.is_(True),
            or_(
                and_(Unit.id == grid.id, RoleAssignment.role == "grid_member"),
                and_(Unit.parent_id == grid.id, RoleAssignment.role == "team_lead"),
            ),
        )
        .order_by(Unit.depth, Unit.sort_path, User.name)
    ).all()
    return [(u, r, unit) for u, r, unit in rows]


@dataclass
class GridReadiness:
    grid: Unit | None
    teams: int
    teams_without_lead: int
    leads: int
    leads_never_signed_in: int


def readiness_in_scope(
    session: Session, actor: User | None, *, limit: int = 30
) -> tuple[list[GridReadiness], GridReadiness | None]:
    """Before the night, for a cadre's home: the grids of ``actor``'s area that are not
    ready (teams with no lead, leads who never signed in), most to do first, at most
    ``limit``; and the totals over every grid (``grid`` None). Three queries."""
    grids = list(
        session.scalars(
            select(Unit).where(Unit.kind == "grid", scope.scope_clause(actor, "sign_in_links"))
        )
    )
    if not grids:
        return [], None
    per_grid = readiness(session, grids)
    totals = GridReadiness(None, 0, 0, 0, 0)
    for r in per_grid.values():
        totals.teams += r.teams
        totals.teams_without_lead += r.teams_without_lead
        totals.leads += r.leads
        totals.leads_never_signed_in += r.leads_never_signed_in
    todo = [r for r in per_grid.values() if r.teams_without_lead or r.leads_never_signed_in]
    todo.sort(key=lambda r: (-(r.teams_without_lead + r.leads_never_signed_in), r.grid.sort_path))
    return todo[:limit], totals


def readiness(session: Session, grids: list[Unit]) -> dict[int, GridReadiness]:
    """Per grid: its teams, those with no lead, its leads and those who never signed in
    (the cadre's "ready before the night"). Two GROUP BYs, a thousand grids at a time."""
    if not grids:
        return {}
    out = {g.id: GridReadiness(g, 0, 0, 0, 0) for g in grids}
    for i in range(0, len(grids), 1000):
        _readiness(session, [g.id for g in grids[i : i + 1000]], out)
    return out


def _readiness(session: Session, ids: list[int], out: dict[int, GridReadiness]) -> None:
    lead_exists = exists(
        select(RoleAssignment.id).where(
            RoleAssignment.unit_id == Unit.id, RoleAssignment.role == "team_lead"
        )
    )
    for grid_id, teams, without in session.execute(
        select(
            Unit.parent_id,
            func.count(Unit.id),
            func.sum(case((lead_exists, 0), else_=1)),
        )
        .where(Unit.parent_id.in_(ids), Unit.kind == TEAM)
        .group_by(Unit.parent_id)
    ):
        out[grid_id].teams = teams
        out[grid_id].teams_without_lead = int(without or 0)
    for grid_id, leads, never in session.execute(
        select(
            Unit.parent_id,
            func.count(func.distinct(User.id)),
            func.count(func.distinct(User.id)).filter(User.last_sign_in_at.is_(None)),
        )
        .join(RoleAssignment, RoleAssignment.unit_id == Unit.id)
        .join(User, User.id == RoleAssignment.user_id)
        .where(
            Unit.parent_id.in_(ids),
            Unit.kind == TEAM,
            RoleAssignment.role == "team_lead",
            User.active.is_(True),
        )
        .group_by(Unit.parent_id)
    ):
        out[grid_id].leads = leads
        out[grid_id].leads_never_signed_in = never


def unit_labels(session: Session, units: list[Unit]) -> dict[int, str]:
    """Each unit named with the units above it below the tree's root ("侯官村 › 第1网格
    › 1小队"): one query for all their ancestors."""
    ids = {i for u in units for i in u.ancestor_ids}
    names = dict(session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(ids))).all())
    return {
        u.id: " › ".join(names.get(i, "") for i in u.ancestor_ids[1:] or u.ancestor_ids)
        for u in units
    }


def people_on(session: Session, unit: Unit) -> list[tuple[User, str]]:
    """Who holds a role on exactly this unit (the team lead of a team, a grid's grid
    member ...), with the role; active people only, by role, then name."""
    rows = session.execute(
        select(User, RoleAssignment.role)
        .join(RoleAssignment, RoleAssignment.user_id == User.id)
        .where(RoleAssignment.unit_id == unit.id, User.active.is_(True))
        .order_by(RoleAssignment.role, User.name)
    ).all()
    return [(u, r) for u, r in rows]
