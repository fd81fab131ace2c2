"""The units an import names, found or made, held in memory for the whole file.

A county's file names about 12,000 units a hundred thousand times: each is looked
up once (an existing unit's children in one query, with their households' counts
and the leads and grid members on them), and a new one is made in memory with its
id (from the table's sequence, :class:`~village_grid.database.bulk.IdSource`), path
and code and written in bulk by :mod:`.writing`. The checks are the services':
names and codes (``service.clean_unit_name``, ``clean_unit_code``,
``next_unit_code``), scope (``auth.scope``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from village_grid.auth import scope
from village_grid.database.bulk import IdSource
from village_grid.errors import DomainError
from village_grid.hierarchy import divisions, events, ordering, service
from village_grid.hierarchy.registry.columns import LEVEL_KINDS, UNIT_LEVELS, heading
from village_grid.hierarchy.registry.rejections import first_field, problem
from village_grid.models import Household, RoleAssignment, Unit, User
from village_grid.models.base import utcnow
from village_grid.models.units import TEAM

# The roles the roster's people columns give, on teams and on grids.
PEOPLE_ROLES = ("team_lead", "grid_member")


@dataclass(eq=False)
class Node:
    """A unit as the import knows it."""

    id: int
    parent: Node | None
    kind: str
    name: str
    code: str
    path: str
    depth: int
    new: bool
    # A village's administrative division code ("" when it has none).
    division_code: str = ""
    # Its place in the natural order (``hierarchy/ordering.py``).
    sort_path: str = ""
    # An existing unit's children by name, loaded when first needed; a new one's, made.
    children: dict[str, Node] | None = None
    # A team: how many households it has (this import's included), the next number.
    households: int = 0
    next_seq: int = 1
    # An existing team that takes new households: locked (the ten-household cap).
    locked: bool = False
    # Who holds a team lead / grid member role on it now (user ids).
    holders: set[int] = field(default_factory=set)
    # Households of an existing team by code: (team id, each field's hash) for matching
    # a row that names one already registered (re-importing a file changes nothing).
    known: dict[str, tuple] | None = None
    # The same households by their fields: a row without a code that repeats one exactly.
    same: dict[tuple, str] | None = None

    @property
    def is_team(self) -> bool:
        return self.kind == TEAM


class RowFailed(Exception):
    def __init__(self, error: dict):
        super().__init__(error["reason"])
        self.error = error


def unit_error(line: int, err: DomainError, level: str) -> dict:
    """A service error about a unit the row names at ``level``, as the row's problem."""
    key, code = first_field(err)
    if key == "code":
        mapped = "duplicate_unit_code" if code == "taken" else "bad_unit_code"
        return problem(line, mapped, err.message, f"{level}_code")
    return problem(line, "too_long" if code == "too_long" else f"bad_{level}", err.message, level)


def _out_of_scope(line: int, level: str) -> RowFailed:
    return RowFailed(problem(line, "out_of_scope", _("Not in your area."), level))


class Tree:
    """Finds and makes the units of one import (see the module's note)."""

    def __init__(
        self,
        session: Session,
        actor: User | None,
        fingerprint,
        ids: IdSource,
    ):
        self.session = session
        self.actor = actor
        self.import_paths = None if actor is None else scope.scope_paths(actor, "import")
        self.fingerprint = fingerprint
        self.ids = ids
        self.now = utcnow()
        self.tops: dict[tuple[str, str], Node | None] = {}
        self.nodes: dict[int, Node] = {}
        self.new_units: list[Node] = []
        self.village_codes: set[str] = set()
        # Existing villages the file gives a division code they lacked (set at the end).
        self.divisions: dict[int, Node] = {}

    # --- finding ---------------------------------------------------------------------

    def _node(self, unit: Unit, parent: Node | None) -> Node:
        node = self.nodes.get(unit.id)
        if node is None:
            node = Node(
                unit.id,
                parent,
                unit.kind,
                unit.name,
                unit.code,
                unit.path,
                unit.depth,
                new=False,
                division_code=unit.division_code or "",
                sort_path=unit.sort_path,
            )
            self.nodes[unit.id] = node
        return node

    def _top(self, level: str, name: str, line: int) -> Node | None:
        """A township, or a village given without township: found by name anywhere."""
        key = (level, name)
        if key in self.tops:
            return self.tops[key]
        found = list(
            self.session.scalars(
                select(Unit).where(Unit.name == name, Unit.kind.in_(LEVEL_KINDS[level]))
            )
        )
        if len(found) > 1 and self.import_paths is not None:
            found = [u for u in found if scope.may(self.actor, "import", u)] or found
        if len(found) > 1:
            raise RowFailed(
                problem(
                    line,
                    "ambiguous_unit",
                    _("There are several units named “%(n)s”; add the township column.", n=name),
                    level,
                )
            )
        node = None
        if found:
            parent = None
            unit = found[0]
            if unit.parent_id is not None:
                above = self.session.get(Unit, unit.parent_id)
                parent = self._node(above, None) if above is not None else None
            node = self._node(unit, parent)
        self.tops[key] = node
        return node

    def _load_children(self, node: Node) -> dict[str, Node]:
        """An existing unit's children (one query), with the leads and grid members on
        them, and for teams their households' counts and (for matching) fingerprints."""
        if node.children is not None:
            return node.children
        children: dict[str, Node] = {}
        for unit in self.session.scalars(select(Unit).where(Unit.parent_id == node.id)):
            children[unit.name] = self._node(unit, node)
        node.children = children
        if not children:
            return children
        by_id = {c.id: c for c in children.values()}
        for unit_id, user_id in self.session.execute(
            select(RoleAssignment.unit_id, RoleAssignment.user_id)
            .join(Unit, Unit.id == RoleAssignment.unit_id)
            .where(Unit.parent_id == node.id, RoleAssignment.role.in_(PEOPLE_ROLES))
        ):
            by_id[unit_id].holders.add(user_id)
        teams = [c for c in children.values() if c.is_team]
        if teams:
            for team_id, n, top in self.session.execute(
                select(Household.team_id, func.count(), func.max(Household.seq))
                .join(Unit, Unit.id == Household.team_id)
                .where(Unit.parent_id == node.id)
                .group_by(Household.team_id)
            ):
                by_id[team_id].households = n
                by_id[team_id].next_seq = (top or 0) + 1
            known = self.fingerprint(self.session, node.id)
            for team in teams:
                team.known, team.same = {}, {}
            for code, (team_id, prints) in known.items():
                by_id[team_id].known[code] = prints
                by_id[team_id].same.setdefault(prints, code)
        return children

    def _child(self, parent: Node, name: str) -> Node | None:
        if parent.new:
            return (parent.children or {}).get(name)
        return self._load_children(parent).get(name)

    def in_scope(self, node: Node | None) -> bool:
        """May the actor import under ``node`` (None: a new root, the command line only)?"""
        if node is None:
            return self.import_paths is None
        return scope.within(node.path, self.import_paths)

    # --- making ----------------------------------------------------------------------

    def _division(self, given: str, parent: Node | None, line: int) -> str:
        """The 区划代码 cell, checked as ``service.create_unit`` checks it."""
        if not given:
            return ""
        try:
            return divisions.clean(given, parent_code=parent.division_code if parent else "")
        except DomainError as err:
            raise RowFailed(
                problem(line, "bad_division_code", err.message, "division_code")
            ) from None

    def _make(
        self,
        level: str,
        name: str,
        code: str,
        parent: Node | None,
        line: int,
        division: str = "",
    ) -> Node:
        """A new unit under ``parent`` (checked like ``service.create_unit``)."""
        if not self.in_scope(parent):
            raise _out_of_scope(line, level)
        if parent is not None and parent.is_team:
            raise RowFailed(
                problem(
                    line,
                    "wrong_unit_kind",
                    _("A team holds households, not other units."),
                    level,
                )
            )
        try:
            name = service.clean_unit_name(name)
            code = service.clean_unit_code(code)
        except DomainError as err:
            raise RowFailed(unit_error(line, err, level)) from None
        siblings = (
            self._child_codes(parent)
            if parent is not None
            else set(self.session.scalars(select(Unit.code).where(Unit.parent_id.is_(None))))
        )
        if code and code in siblings:
            raise RowFailed(
                problem(
                    line,
                    "duplicate_unit_code",
                    _("Code %(c)s is already used here.", c=code),
                    f"{level}_code",
                )
            )
        if code and level == "village" and self._village_code_taken(code):
            raise RowFailed(
                problem(
                    line,
                    "duplicate_unit_code",
                    _("Village code %(c)s is already used by another village.", c=code),
                    f"{level}_code",
                )
            )
        code = code or service.next_unit_code(siblings)
        unit_id = self.ids.take()
        node = Node(
            unit_id,
            parent,
            level,
            name,
            code,
            f"{parent.path if parent else '/'}{unit_id}/",
            parent.depth + 1 if parent else 0,
            new=True,
            children={},
            known={},
            same={},
            division_code=division,
            sort_path=ordering.sort_path(parent.sort_path if parent else None, name, unit_id),
        )
        if level == "village":
            self.village_codes.add(code)
        if parent is None:
            self.tops[(level, name)] = node
        else:
            parent.children[name] = node  # loaded by _child_codes
        self.nodes[unit_id] = node
        self.new_units.append(node)
        return node

    def _child_codes(self, parent: Node) -> set[str]:
        children = parent.children if parent.new else self._load_children(parent)
        return {c.code for c in (children or {}).values()}

    def _village_code_taken(self, code: str) -> bool:
        if code in self.village_codes:
            return True
        return (
            self.session.scalar(select(Unit.id).where(Unit.kind == "village", Unit.code == code))
            is not None
        )

    # --- a row -----------------------------------------------------------------------

    def resolve(self, values: dict[str, str], line: int) -> dict[str, Node]:
        """The unit of each level the row names, found or made, top down; raises
        :class:`RowFailed`. The lowest must lie in the actor's scope."""
        chain: dict[str, Node] = {}
        parent: Node | None = None
        for level in UNIT_LEVELS:
            name = values.get(level, "")
            if not name:
                continue
            code = values.get(f"{level}_code", "")
            node = self._top(level, name, line) if parent is None else self._child(parent, name)
            division = ""
            if level == "village":
                division = self._division(values.get("division_code", ""), parent, line)
            if node is None:
                node = self._make(level, name, code, parent, line, division)
            else:
                if division and node.division_code and division != node.division_code:
                    raise RowFailed(
                        problem(
                            line,
                            "unit_code_mismatch",
                            _(
                                "“%(n)s” already has code %(old)s, not %(new)s.",
                                n=name,
                                old=node.division_code,
                                new=division,
                            ),
                            "division_code",
                        )
                    )
                if division and not node.division_code and not node.new:
                    node.division_code = division
                    self.divisions[node.id] = node
                if node.kind not in LEVEL_KINDS[level]:
                    raise RowFailed(
                        problem(
                            line,
                            "wrong_unit_kind",
                            _(
                                "“%(n)s” is not a unit of the column “%(h)s”.",
                                n=name,
                                h=heading(level),
                            ),
                            level,
                        )
                    )
                if code and code.upper() != node.code:
                    raise RowFailed(
                        problem(
                            line,
                            "unit_code_mismatch",
                            _(
                                "“%(n)s” already has code %(old)s, not %(new)s.",
                                n=name,
                                old=node.code,
                                new=code,
                            ),
                            f"{level}_code",
                        )
                    )
            chain[level] = node
            parent = node
        if not self.in_scope(parent):
            raise _out_of_scope(line, "team")
        return chain

    def lock_team(self, team: Node) -> None:
        """An existing team is about to take new households: take its write lock (as
        ``service.lock_team_with_room`` does) and count again under it, and freeze it
        on tasks past due (``hierarchy.events.changing``) so they do not grow."""
        if team.new or team.locked:
            return

        self.session.execute(
            Unit.__table__.update()
            .where(Unit.__table__.c.id == team.id)
            .values(lock_version=Unit.__table__.c.lock_version + 1)
        )
        n, top = self.session.execute(
            select(func.count(), func.max(Household.seq)).where(Household.team_id == team.id)
        ).one()
        team.households = n
        team.next_seq = (top or 0) + 1
        events.changing(self.session, self.now, joining_teams=[team.id])
        team.locked = True

    def teams_with_room(self, team: Node, cap: int) -> list[Node]:
        """Other teams of the same grid with room, as far as this import knows them."""
        if team.parent is None or team.parent.children is None:
            return []
        return [
            t
            for t in team.parent.children.values()
            if t is not team and t.is_team and t.households < cap
        ][:5]
