"""Exporting the registry, in the very format :mod:`.importing` reads back.

One row per household (its units by name and code, its fields, flags and
members), plus a row for each unit with nothing under it, so importing an
export recreates the tree as it was. Text a spreadsheet would run as a formula
is written with a leading quote (:mod:`village_grid.spreadsheets`); the import
takes it off.
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from village_grid.auth import scope
from village_grid.errors import InvalidInput
from village_grid.hierarchy.registry.columns import (
    EXPORT_COLUMNS,
    HOUSEHOLD_COLUMNS,
    LEVEL_KINDS,
    UNIT_LEVELS,
    format_flags,
    format_members,
    heading,
)
from village_grid.models import Household, RoleAssignment, Unit, User
from village_grid.models.units import TEAM
from village_grid.spreadsheets import spreadsheet_cell, table_file


def _unit_chain(units: dict[int, Unit], unit: Unit) -> dict[str, Unit]:
    """The unit filling each level's columns for ``unit`` (itself or one above it)."""
    chain: dict[str, Unit] = {}
    for uid in unit.ancestor_ids:
        u = units.get(uid)
        if u is None:
            continue
        for level, kinds in LEVEL_KINDS.items():
            if u.kind in kinds and level not in chain:
                chain[level] = u
    return chain


def _unit_cells(chain: dict[str, Unit], people: dict[int, tuple[str, str]]) -> dict[str, str]:
    cells: dict[str, str] = {}
    for level in UNIT_LEVELS:
        u = chain.get(level)
        cells[level] = u.name if u else ""
        cells[f"{level}_code"] = u.code if u else ""
    for level, key in (("team", "team_lead"), ("grid", "grid_member")):
        u = chain.get(level)
        name, phone = people.get(u.id, ("", "")) if u is not None else ("", "")
        cells[key], cells[f"{key}_phone"] = name, phone
    village = chain.get("village")
    cells["division_code"] = village.division_code if village else ""
    return cells


def _people(session: Session, unit_ids: list[int]) -> dict[int, tuple[str, str]]:
    """The first lead of each team and the first grid member of each grid (by when they
    were given the role) who has a phone: unit id → (name, phone). A person is known by
    their phone; one without is not in the file, nor a second one."""
    out: dict[int, tuple[str, str]] = {}
    for i in range(0, len(unit_ids), 5000):
        for unit_id, name, phone in session.execute(
            select(RoleAssignment.unit_id, User.name, User.phone)
            .join(User, User.id == RoleAssignment.user_id)
            .where(
                RoleAssignment.unit_id.in_(unit_ids[i : i + 5000]),
                RoleAssignment.role.in_(("team_lead", "grid_member")),
                User.active.is_(True),
                User.phone.is_not(None),
                User.phone != "",
            )
            .order_by(RoleAssignment.id)
        ):
            out.setdefault(unit_id, (name, phone or ""))
    return out


def _float(value: float | None) -> str | float:
    return "" if value is None else value


def export_rows(session: Session, actor: User | None, *, unit_id: int | None) -> list[dict]:
    """Rows (column key → value) for the households under ``unit_id`` (or everything
    the actor may see). Units with nothing under them get a row of their own so an
    import recreates them."""
    if unit_id is not None:
        root = scope.load_unit(session, actor, unit_id, "view")
        unit_clause = scope.subtree_clause(Unit.path, root.path)
    else:
        unit_clause = scope.scope_clause(actor, "view") if actor is not None else None
    uq = select(Unit)
    if unit_clause is not None:
        uq = uq.where(unit_clause)
    in_scope = list(session.scalars(uq))
    needed: set[int] = set()
    for u in in_scope:
        needed.update(u.ancestor_ids)
    units = {u.id: u for u in in_scope}
    missing = needed - set(units)
    if missing:
        units.update({u.id: u for u in session.scalars(select(Unit).where(Unit.id.in_(missing)))})
    hq = (
        select(Household)
        .join(Unit, Household.team_id == Unit.id)
        .options(selectinload(Household.members))
    )
    if unit_clause is not None:
        hq = hq.where(unit_clause)
    households = list(session.scalars(hq))
    has_below: set[int] = set()
    for u in in_scope:
        if u.parent_id is not None:
            has_below.add(u.parent_id)
    for h in households:
        has_below.add(h.team_id)

    people = _people(session, [u.id for u in in_scope if u.kind in (TEAM, "grid")])

    def sort_key(unit: Unit) -> str:
        return unit.sort_path

    rows: list[tuple[str, int, dict]] = []
    # Ten households share a team: its cells and sort key are worked out once.
    per_team: dict[int, tuple[str, dict]] = {}
    for h in households:
        if h.team_id not in per_team:
            team = units[h.team_id]
            per_team[h.team_id] = (sort_key(team), _unit_cells(_unit_chain(units, team), people))
        team_key, team_cells = per_team[h.team_id]
        row = dict(team_cells)
        row.update(
            {
                "code": h.code,
                "door_no": h.door_no or "",
                "address": h.address or "",
                "head_name": h.head_name,
                "phone": h.phone or "",
                "latitude": _float(h.latitude),
                "longitude": _float(h.longitude),
                "flags": format_flags(h),
                "members": format_members(h.members),
            }
        )
        rows.append((team_key, h.seq, row))
    for u in in_scope:
        if u.id in has_below or not any(u.kind in kinds for kinds in LEVEL_KINDS.values()):
            continue
        row = _unit_cells(_unit_chain(units, u), people)
        row.update({k: "" for k in HOUSEHOLD_COLUMNS})
        rows.append((sort_key(u), 0, row))
    rows.sort(key=lambda r: (r[0], r[1]))
    return [r for _k, _s, r in rows]


def export_registry(
    session: Session, actor: User | None, *, unit_id: int | None, fmt: str
) -> bytes:
    """The registry under ``unit_id`` (or all the actor may see) as CSV (UTF-8 with
    BOM, so Excel opens it) or XLSX, in the format the import reads."""
    if fmt not in ("csv", "xlsx"):
        raise InvalidInput(_("Export as csv or xlsx."), fields={"fmt": "unknown"})
    rows = export_rows(session, actor, unit_id=unit_id)
    headers = [heading(k) for k in EXPORT_COLUMNS]
    # No cell runs as a formula when the file is opened (the import takes the quote off).
    cells = ([spreadsheet_cell(row[k]) for k in EXPORT_COLUMNS] for row in rows)
    return table_file(fmt, _("Households"), headers, cells)
