"""Exporting the registry, in the very format :mod:`.importing` reads back.

One row per household (its units by name and code, its fields, flags and
members), plus a row for each unit with nothing under it, so importing an
export recreates the tree as it was. Text a spreadsheet would run as a formula
is written with a leading quote (:mod:`village_grid.spreadsheets`); the import
takes it off.

The rows are written as they are read, never held all at once: the units of the
scope are walked in the file's order (natural, down the tree) a page at a time, and
the households of each page's teams read and written in that order. A
100,000-household county held 939 MB when every row was built first; a district
held 300 MB when its units were all loaded before the walk. The export is a file kind (``village_grid/files``): above
``FILES_JOB_HOUSEHOLDS`` households, the worker makes it.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import IO

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from village_grid.auth import scope
from village_grid.errors import InvalidInput, OutOfScope
from village_grid.files import kinds as file_kinds
from village_grid.hierarchy import ordering
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
from village_grid.spreadsheets import TableWriter, spreadsheet_cell

FORMATS = ("csv", "xlsx")


def _unit_chain(units: dict[int, _Unit], unit: _Unit) -> dict[str, _Unit]:
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


def _unit_cells(chain: dict[str, _Unit], people: dict[int, tuple[str, str]]) -> dict[str, str]:
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


@dataclass(slots=True)
class _Unit:
    """A unit as the export needs it (a county's tens of thousands, not ORM objects)."""

    id: int
    parent_id: int | None
    kind: str
    name: str
    code: str
    division_code: str | None
    path: str
    sort_path: str

    @property
    def ancestor_ids(self) -> list[int]:
        return [int(p) for p in self.path.strip("/").split("/") if p]


_UNIT_COLUMNS = (
    Unit.id,
    Unit.parent_id,
    Unit.kind,
    Unit.name,
    Unit.code,
    Unit.division_code,
    Unit.path,
    Unit.sort_path,
)


def _units(session: Session, clause) -> dict[int, _Unit]:
    q = select(*_UNIT_COLUMNS)
    if clause is not None:
        q = q.where(clause)
    return {row[0]: _Unit(*row) for row in session.execute(q)}


def _scope(session: Session, actor: User | None, unit_id: int | None):
    """The SQL condition on unit paths for the export under ``unit_id`` (or everything the
    actor may see), and the paths it covers (None: everywhere)."""
    if unit_id is not None:
        root = scope.load_unit(session, actor, unit_id, "view")
        return scope.subtree_clause(Unit.path, root.path), [root.path]
    if actor is None:
        return None, None
    paths = scope.scope_paths(actor, "view")
    return scope.paths_clause(paths, Unit.path), paths


# Units read per query, in the file's order (a page of the walk down the tree).
UNITS_PER_READ = 500
# Teams whose households are read in one query.
TEAMS_PER_READ = 500


def _pages(session: Session, clause, size: int) -> Iterator[list[_Unit]]:
    """The units under ``clause`` in the file's order (their ``sort_path``: natural,
    down the tree, hierarchy/ordering.py), ``size`` at a time, each page read after
    the last one's key: no cursor left open, never more than a page held."""
    after = None
    while True:
        q = select(*_UNIT_COLUMNS).order_by(Unit.sort_path).limit(size)
        if clause is not None:
            q = q.where(clause)
        if after is not None:
            q = q.where(ordering.after(after))
        page = [_Unit(*row) for row in session.execute(q)]
        if not page:
            return
        yield page
        after = page[-1].sort_path


def iter_export_rows(
    session: Session, actor: User | None, *, unit_id: int | None
) -> Iterator[dict]:
    """Rows (column key → value) for the households under ``unit_id`` (or everything the
    actor may see), in the file's order. The units are walked down the tree a page at a
    time, each with the chain of units above it (the units above the scope read once);
    the households of a page's teams are read a few hundred teams at a time. Units with
    nothing under them get a row of their own so an import recreates them. Held at any
    moment: a page of units, their households and the chain above — not the district."""
    unit_clause, _paths = _scope(session, actor, unit_id)
    above: dict[int, _Unit] = {}  # units above the scope, read when first needed
    stack: list[_Unit] = []  # the chain from the top down to the unit before
    for page in _pages(session, unit_clause, UNITS_PER_READ):
        page_ids = [u.id for u in page]
        has_children = set(
            session.scalars(
                select(Unit.parent_id).where(Unit.parent_id.in_(page_ids)).group_by(Unit.parent_id)
            )
        )
        chains: dict[int, dict[str, _Unit]] = {}
        for u in page:
            while stack and stack[-1].id != u.parent_id:
                stack.pop()
            if not stack and u.parent_id is not None:
                stack = _above(session, above, u)
            stack.append(u)
            chains[u.id] = _unit_chain({s.id: s for s in stack}, u)
        # The leads and grid members of the page's teams and grids in the export's scope.
        people = _people(
            session,
            sorted(
                {
                    chain[level].id
                    for chain in chains.values()
                    for level in ("team", "grid")
                    if level in chain and chain[level].id not in above
                }
            ),
        )
        for start in range(0, len(page), TEAMS_PER_READ):
            part = page[start : start + TEAMS_PER_READ]
            by_team: dict[int, list[Household]] = {}
            for h in session.scalars(
                select(Household)
                .where(Household.team_id.in_([u.id for u in part]))
                .options(selectinload(Household.members))
            ):
                by_team.setdefault(h.team_id, []).append(h)
            for u in part:
                households = by_team.pop(u.id, [])
                cells = _unit_cells(chains[u.id], people)
                if not households:
                    if u.id not in has_children and any(
                        u.kind in kinds for kinds in LEVEL_KINDS.values()
                    ):
                        yield {**cells, **{c: "" for c in HOUSEHOLD_COLUMNS}}
                    continue
                households.sort(key=lambda h: h.seq)
                for h in households:
                    yield {
                        **cells,
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


def _above(session: Session, above: dict[int, _Unit], unit: _Unit) -> list[_Unit]:
    """The units above ``unit`` that are outside the export's scope, top first (kept in
    ``above``: a scope has few roots)."""
    ids = unit.ancestor_ids[:-1]
    missing = [i for i in ids if i not in above]
    if missing:
        above.update(_units(session, Unit.id.in_(missing)))
    return [above[i] for i in ids if i in above]


def export_rows(session: Session, actor: User | None, *, unit_id: int | None) -> list[dict]:
    """:func:`iter_export_rows` as a list (tests; a small registry)."""
    return list(iter_export_rows(session, actor, unit_id=unit_id))


def write_registry(
    session: Session,
    actor: User | None,
    out: IO[bytes],
    *,
    unit_id: int | None,
    fmt: str,
    progress: Callable[[int], None] = lambda _done: None,
) -> int:
    """The registry under ``unit_id`` (or all the actor may see) written into ``out`` as
    CSV (UTF-8 with BOM, so Excel opens it) or XLSX, in the format the import reads, a
    row at a time; how many rows."""
    if fmt not in FORMATS:
        raise InvalidInput(_("Export as csv or xlsx."), fields={"fmt": "unknown"})
    writer = TableWriter(fmt, out)
    writer.sheet(_("Households"), [heading(k) for k in EXPORT_COLUMNS])
    for row in iter_export_rows(session, actor, unit_id=unit_id):
        # No cell runs as a formula when the file is opened (the import takes the quote off).
        writer.row([spreadsheet_cell(row[k]) for k in EXPORT_COLUMNS])
        if not writer.rows % 5000:
            progress(writer.rows)
    writer.close()
    return writer.rows


def export_registry(
    session: Session, actor: User | None, *, unit_id: int | None, fmt: str
) -> bytes:
    """:func:`write_registry` into bytes."""
    out = io.BytesIO()
    write_registry(session, actor, out, unit_id=unit_id, fmt=fmt)
    return out.getvalue()


# --- the file kind ------------------------------------------------------------------


def plan(session: Session, actor: User, params: dict, fmt: str) -> file_kinds.Plan:
    unit_id = params.get("unit_id")
    clause, paths = _scope(session, actor, unit_id)
    if paths == []:
        raise OutOfScope(_("Not found."))
    q = select(func.count(Household.id))
    if clause is not None:
        q = q.join(Unit, Household.team_id == Unit.id).where(clause)
    total = session.scalar(q) or 0
    label = "all" if unit_id is None else f"{session.get(Unit, unit_id).code}-{unit_id}"
    return file_kinds.Plan(
        paths=paths, total=total, filename=f"registry-{label}-{date.today():%Y%m%d}.{fmt}"
    )


def make(session: Session, actor: User, params: dict, fmt: str, out, progress) -> int:
    return write_registry(
        session, actor, out, unit_id=params.get("unit_id"), fmt=fmt, progress=progress
    )


REGISTRY = file_kinds.register(
    file_kinds.FileKind(
        name="registry",
        label=_l("The household registry"),
        action="view",
        formats=FORMATS,
        plan=plan,
        make=make,
    )
)
