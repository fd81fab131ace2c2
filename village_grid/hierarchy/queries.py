"""Reads of the unit tree and the household registry that pages, the API and
other domains share. Read-only: writes live in ``hierarchy/service.py``.

Each function takes the session and everything it reads by (the unit, the
acting user ...) as arguments; none looks at the request.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from village_grid.auth import scope
from village_grid.hierarchy.labels import unit_label
from village_grid.models import Household, Member, Unit, User
from village_grid.models.units import TEAM, VILLAGE_KINDS

# The kinds of unit a household code and a move stay within ("the village").

# --- the tree -----------------------------------------------------------------


def breadcrumb(session: Session, unit: Unit) -> list[Unit]:
    """The units above ``unit``, from the root of the tree down to its parent."""
    ids = unit.ancestor_ids[:-1]
    if not ids:
        return []
    by_id = {u.id: u for u in session.scalars(select(Unit).where(Unit.id.in_(ids)))}
    return [by_id[i] for i in ids if i in by_id]


def village_chain(session: Session, unit: Unit) -> list[Unit]:
    """The units from the village ``unit`` lies in down to ``unit`` itself; from the
    root of the tree when it lies in no village."""
    chain = [*breadcrumb(session, unit), unit]
    start = next((i for i, u in enumerate(chain) if u.kind in VILLAGE_KINDS), 0)
    return chain[start:]


def subtree_units(session: Session, root: Unit, max_depth: int | None = None) -> list[Unit]:
    """``root`` and the units under it (at most ``max_depth`` levels down), level by level."""
    q = select(Unit).where(scope.under_clause(root)).order_by(Unit.depth, Unit.sort_path)
    if max_depth is not None:
        q = q.where(Unit.depth <= root.depth + max_depth)
    return list(session.scalars(q))


def child_units(session: Session, unit: Unit) -> list[Unit]:
    """The units right under ``unit``, in the natural order."""
    return list(
        session.scalars(select(Unit).where(Unit.parent_id == unit.id).order_by(Unit.sort_path))
    )


# Ids per statement when units are read by id (SQLite takes at most 32,766 variables).
IDS_PER_READ = 5_000


def labels_of(session: Session, unit_ids: Iterable[int | None]) -> dict[int, str]:
    """Each unit as people say it (``hierarchy/labels.unit_label``: a team with its grid,
    any other unit by its name), read from the units table with the unit above each:
    for pages and files that do not hold the cached tree graph. Unknown ids are left out."""
    ids = sorted({i for i in unit_ids if i is not None})
    parent = aliased(Unit)
    out: dict[int, str] = {}
    for start in range(0, len(ids), IDS_PER_READ):
        chunk = ids[start : start + IDS_PER_READ]
        for uid, kind, name, parent_kind, parent_name in session.execute(
            select(Unit.id, Unit.kind, Unit.name, parent.kind, parent.name)
            .outerjoin(parent, parent.id == Unit.parent_id)
            .where(Unit.id.in_(chunk))
        ):
            out[uid] = unit_label(kind, name, parent_kind, parent_name)
    return out


def units_in_scope(
    session: Session,
    user: User | None,
    *,
    kind: str | None = None,
    parent: Unit | None = None,
    limit: int,
    offset: int = 0,
) -> tuple[list[Unit], int]:
    """One page of the units ``user`` may see, in tree order, and how many there are
    in all; only units of ``kind`` and only the children of ``parent`` when given."""
    where = [scope.scope_clause(user, "view")]
    if kind:
        where.append(Unit.kind == kind)
    if parent is not None:
        where.append(Unit.parent_id == parent.id)
    total = session.scalar(select(func.count(Unit.id)).where(*where)) or 0
    page = session.scalars(
        select(Unit).where(*where).order_by(Unit.sort_path).limit(limit).offset(offset)
    )
    return list(page), total


# --- households and counts -------------------------------------------------------


def team_households(session: Session, team_id: int) -> list[Household]:
    """The households of one team, in their order in the team (``seq``)."""
    return list(
        session.scalars(
            select(Household).where(Household.team_id == team_id).order_by(Household.seq)
        )
    )


def household_member(session: Session, household_id: int, member_id: int) -> Member | None:
    """Member ``member_id`` when it belongs to household ``household_id``; else None."""
    member = session.get(Member, member_id)
    return member if member is not None and member.household_id == household_id else None


def team_household_counts(session: Session, team_ids: Iterable[int]) -> dict[int, int]:
    """Households in each of the given teams; a team with none is left out."""
    team_ids = list(team_ids)
    if not team_ids:
        return {}
    return dict(
        session.execute(
            select(Household.team_id, func.count(Household.id))
            .where(Household.team_id.in_(team_ids))
            .group_by(Household.team_id)
        ).all()
    )


def team_household_count(session: Session, team_id: int) -> int:
    """Households in one team."""
    return team_household_counts(session, [team_id]).get(team_id, 0)


def household_counts(
    session: Session, units: Iterable[Unit], within: Unit | None = None
) -> dict[int, int]:
    """Households under each given unit (its whole subtree): one GROUP BY over
    teams, rolled up through the paths. ``within`` (a unit whose subtree holds
    all of ``units``) limits the count to that subtree, so a unit's page does
    not count the whole county."""
    units = list(units)
    if not units:
        return {}
    # Each team's path comes with its count (no list of team ids: a district has a
    # hundred thousand teams, past what one statement may carry).
    q = (
        select(Unit.path, func.count(Household.id))
        .join(Unit, Unit.id == Household.team_id)
        .group_by(Unit.id, Unit.path)
    )
    if within is not None:
        q = q.where(scope.under_clause(within))
    totals: dict[int, int] = defaultdict(int)
    for path, n in session.execute(q).all():
        for part in path.strip("/").split("/"):
            if part:
                totals[int(part)] += n
    return {u.id: totals.get(u.id, 0) for u in units}


def teams_with_room(
    session: Session, team: Unit, cap: int, limit: int = 5
) -> list[tuple[Unit, int]]:
    """Sibling teams (same parent) with fewer than ``cap`` households, emptiest
    first, with their counts."""
    counts = (
        select(Household.team_id, func.count(Household.id).label("n"))
        .group_by(Household.team_id)
        .subquery()
    )
    rows = session.execute(
        select(Unit, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.team_id == Unit.id)
        .where(Unit.parent_id == team.parent_id, Unit.kind == TEAM, Unit.id != team.id)
        .where(func.coalesce(counts.c.n, 0) < cap)
        .order_by(func.coalesce(counts.c.n, 0), Unit.sort_path)
        .limit(limit)
    ).all()
    return [(u, n) for u, n in rows]


def move_targets(
    session: Session, user: User | None, household: Household, limit: int = 2000
) -> list[tuple[Unit, Unit | None, int]]:
    """Teams ``user`` may move ``household`` into, within its village (or the top of
    its tree when it has none): each with the unit above it and its household count,
    in the natural order (``hierarchy/ordering.py``). At most ``limit`` teams."""
    root = village_chain(session, household.team)[0]
    teams = list(
        session.scalars(
            select(Unit)
            .where(Unit.kind == TEAM, Unit.id != household.team_id)
            .where(scope.under_clause(root))
            .where(scope.scope_clause(user, "edit_household"))
            .order_by(Unit.sort_path)
            .limit(limit)
        )
    )
    counts = team_household_counts(session, [t.id for t in teams])
    parent_ids = {t.parent_id for t in teams if t.parent_id}
    parents = {u.id: u for u in session.scalars(select(Unit).where(Unit.id.in_(parent_ids)))}
    return [(t, parents.get(t.parent_id), counts.get(t.id, 0)) for t in teams]


def has_units(session: Session) -> bool:
    """Does the tree have any unit at all (a new install has none)?"""
    return session.scalar(select(Unit.id).limit(1)) is not None
