"""Importing a registry file, all or nothing.

Every row goes through the same service functions as the form and the API
(:func:`village_grid.hierarchy.service.create_unit` and
:func:`~village_grid.hierarchy.service.create_household`), so the ten-household
cap, phone numbers, flags and every other check are the very same code. A row
that fails becomes an entry in :class:`ImportRejected` with its line number;
when any row fails, nothing is changed and every bad row is reported.

Every unit and household the file creates is in the audit log like one made on
a page (``unit.create``, ``household.create``: one INSERT beside the dozen
statements a row already costs), and each village the file touched gets one
``registry.import`` event: who, the file's name and SHA-256, how many rows,
units, households and members — so "which file brought this household, and
who imported it" is on record.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from village_grid.audit.service import record
from village_grid.auth import scope
from village_grid.errors import DomainError, NotFound
from village_grid.hierarchy import divisions, service
from village_grid.hierarchy import units as unit_changes
from village_grid.hierarchy.registry.columns import (
    HOUSEHOLD_COLUMNS,
    LEVEL_KINDS,
    UNIT_LEVELS,
    heading,
    parse_flags,
    parse_members,
)
from village_grid.hierarchy.registry.files import Row, read_rows
from village_grid.hierarchy.registry.rejections import ImportRejected, first_field, problem
from village_grid.models import Unit, User
from village_grid.models.units import TEAM


@dataclass
class ImportResult:
    units_created: int = 0
    households_created: int = 0
    members_created: int = 0
    rows: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class _VillageCounts:
    """What one import did in one village: its ``registry.import`` audit event."""

    village: Unit
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("rows", "units_created", "households_created", "members_created"), 0
        )
    )


# (field, service code) → the row problem's code.
_HOUSEHOLD_CODES = {
    ("phone", "bad_phone"): "bad_phone",
    ("head_name", "required"): "missing_head_name",
    ("latitude", "not_a_number"): "bad_latitude",
    ("latitude", "out_of_range"): "bad_latitude",
    ("longitude", "not_a_number"): "bad_longitude",
    ("longitude", "out_of_range"): "bad_longitude",
    ("flags", "unknown"): "unknown_flag",
    ("code", "taken"): "duplicate_code",
    ("team_id", "team_full"): "team_full",
}


def _row_error(line: int, err: DomainError) -> dict:
    """A service error about a household, as the row's problem."""
    key, code = first_field(err)
    if isinstance(err, NotFound):  # includes OutOfScope
        return problem(line, "out_of_scope", _("Not in your area."), "team")
    mapped = _HOUSEHOLD_CODES.get((key, code))
    if mapped is None:
        mapped = "too_long" if code == "too_long" else (err.code if code == "invalid" else code)
    column = "team" if key == "team_id" else key
    return problem(line, mapped, err.message, column)


def _unit_error(line: int, err: DomainError, level: str) -> dict:
    """A service error about a unit the row names at ``level``, as the row's problem."""
    key, code = first_field(err)
    if isinstance(err, NotFound):
        return problem(line, "out_of_scope", _("Not in your area."), level)
    if key == "division_code":
        return problem(line, "bad_division_code", err.message, "division_code")
    if key == "code":
        mapped = "duplicate_unit_code" if code == "taken" else "bad_unit_code"
        return problem(line, mapped, err.message, f"{level}_code")
    return problem(line, "too_long" if code == "too_long" else f"bad_{level}", err.message, level)


def _missing(line: int, level: str) -> dict:
    return problem(line, f"missing_{level}", _("“%(h)s” is empty.", h=heading(level)), level)


def _missing_levels(row: Row, has_household: bool) -> list[dict]:
    """Unit columns left empty: a household needs its village, grid and team; a row
    naming only units may stop above the team but not skip a level."""
    v = row.values
    if has_household:
        return [_missing(row.line, lv) for lv in ("village", "grid", "team") if not v.get(lv)]
    if not v.get("village"):
        return [_missing(row.line, "village")]
    return [
        _missing(row.line, lv)
        for i, lv in enumerate(UNIT_LEVELS[1:], start=1)
        if not v.get(lv) and any(v.get(x) for x in UNIT_LEVELS[i + 1 :])
    ]


@dataclass
class _Household:
    """A row's household, checked and ready for :func:`service.create_household`."""

    data: dict
    members: list[dict]
    code: str


def _checked_household(row: Row, codes_seen: dict[str, int]) -> tuple[_Household, list[dict]]:
    """The row's household fields and members, with every problem found in them.
    ``codes_seen`` (household code → line) finds a code given twice in the file."""
    v = row.values
    data = {
        "door_no": v.get("door_no", ""),
        "address": v.get("address", ""),
        "head_name": v.get("head_name", ""),
        "phone": v.get("phone", ""),
        "latitude": v.get("latitude", ""),
        "longitude": v.get("longitude", ""),
        "flags": parse_flags(v.get("flags", "")),
    }
    problems: list[dict] = []
    try:
        service.clean_household_fields(data)
    except DomainError as err:
        problems.append(_row_error(row.line, err))
    members, member_problems = parse_members(v.get("members", ""), row.line)
    problems += member_problems
    code = v.get("code", "")
    if code:
        if code in codes_seen:
            problems.append(
                problem(
                    row.line,
                    "duplicate_code_in_file",
                    _(
                        "Household code %(c)s is also on line %(n)s.",
                        c=code,
                        n=codes_seen[code],
                    ),
                    "code",
                )
            )
        else:
            codes_seen[code] = row.line
    return _Household(data, members, code), problems


class _RowFailed(Exception):
    def __init__(self, error: dict):
        super().__init__(error["reason"])
        self.error = error


class _Importer:
    """Writes the rows of one file, finding or creating the units each names."""

    def __init__(self, session: Session, actor: User | None):
        self.session = session
        self.actor = actor
        self.import_paths = None if actor is None else scope.scope_paths(actor, "import")
        self.cache: dict[tuple, Unit | None] = {}
        self.result = ImportResult()
        self.villages: dict[int, _VillageCounts] = {}

    # Units are found by name under their parent (names are unique among siblings).
    def _child(self, parent: Unit | None, name: str) -> Unit | None:
        key = (parent.id if parent else None, name)
        if key not in self.cache:
            q = select(Unit).where(Unit.name == name)
            q = q.where(Unit.parent_id.is_(None) if parent is None else Unit.parent_id == parent.id)
            self.cache[key] = self.session.scalars(q).first()
        return self.cache[key]

    def _top(self, level: str, name: str, line: int) -> Unit | None:
        """A township, or a village given without township: found by name anywhere."""
        key = ("top", level, name)
        if key in self.cache:
            return self.cache[key]
        found = list(
            self.session.scalars(
                select(Unit).where(Unit.name == name, Unit.kind.in_(LEVEL_KINDS[level]))
            )
        )
        if len(found) > 1 and self.import_paths is not None:
            found = [u for u in found if scope.may(self.actor, "import", u)] or found
        if len(found) > 1:
            raise _RowFailed(
                problem(
                    line,
                    "ambiguous_unit",
                    _(
                        "There are several units named “%(n)s”; add the township column.",
                        n=name,
                    ),
                    level,
                )
            )
        unit = found[0] if found else None
        self.cache[key] = unit
        return unit

    def _in_scope(self, unit: Unit | None) -> bool:
        """May the actor import under ``unit`` (None: a new root, the command line only)?"""
        if unit is None:
            return self.import_paths is None
        return scope.within(unit.path, self.import_paths)

    def _resolve_team(self, row: Row, created: list[tuple]) -> tuple[Unit, Unit]:
        """The lowest unit the row names, found or created level by level, and its
        village. Keys of units created (and cached) are appended to ``created``."""
        v = row.values
        names = {level: v.get(level, "") for level in UNIT_LEVELS}
        levels = [lv for lv in UNIT_LEVELS if names[lv]]
        parent: Unit | None = None
        existing: Unit | None = None
        village: Unit | None = None
        for level in levels:
            if level == "grid":
                village = parent
            name = names[level]
            if parent is None and existing is None:
                unit = self._top(level, name, row.line)
            else:
                unit = self._child(parent, name)
            code = v.get(f"{level}_code", "")
            if unit is not None:
                if unit.kind not in LEVEL_KINDS[level]:
                    raise _RowFailed(
                        problem(
                            row.line,
                            "wrong_unit_kind",
                            _(
                                "“%(n)s” is not a unit of the column “%(h)s”.",
                                n=name,
                                h=heading(level),
                            ),
                            level,
                        )
                    )
                if code and code.upper() != unit.code:
                    raise _RowFailed(
                        problem(
                            row.line,
                            "unit_code_mismatch",
                            _(
                                "“%(n)s” already has code %(old)s, not %(new)s.",
                                n=name,
                                old=unit.code,
                                new=code,
                            ),
                            f"{level}_code",
                        )
                    )
                if level == "village":
                    self._division(row, unit)
                existing = unit
                parent = unit
                continue
            # To be created: the actor must hold "import" on the unit it goes under.
            if not self._in_scope(parent):
                raise _RowFailed(problem(row.line, "out_of_scope", _("Not in your area."), level))
            try:
                unit = service.create_unit(
                    self.session,
                    self.actor,
                    kind=level,
                    name=name,
                    parent_id=parent.id if parent else None,
                    code=code or None,
                    division_code=v.get("division_code") if level == "village" else None,
                )
            except DomainError as err:
                raise _RowFailed(_unit_error(row.line, err, level)) from None
            key = (parent.id if parent else None, name)
            self.cache[key] = unit
            created.append(key)
            if parent is None:
                created.append(("top", level, name))
                self.cache[("top", level, name)] = unit
            self.result.units_created += 1
            parent = unit
        if not self._in_scope(parent):
            raise _RowFailed(problem(row.line, "out_of_scope", _("Not in your area."), "team"))
        return parent, village or parent

    def _division(self, row: Row, village: Unit) -> None:
        """The 区划代码 cell against a village already there: set it if it had none."""
        given = row.values.get("division_code", "")
        if not given:
            return
        try:
            code = divisions.clean(
                given,
                parent_code=village.parent.division_code if village.parent is not None else "",
            )
            if village.division_code and code != village.division_code:
                raise _RowFailed(
                    problem(
                        row.line,
                        "unit_code_mismatch",
                        _(
                            "“%(n)s” already has code %(old)s, not %(new)s.",
                            n=village.name,
                            old=village.division_code,
                            new=code,
                        ),
                        "division_code",
                    )
                )
            if not village.division_code:
                unit_changes.update_unit(self.session, self.actor, village.id, division_code=code)
        except DomainError as err:
            raise _RowFailed(_unit_error(row.line, err, "village")) from None

    def _write(self, row: Row, household: _Household | None) -> None:
        """Write one checked row in a savepoint; on :class:`_RowFailed` undo it (and
        forget the units it created) and raise again."""
        created: list[tuple] = []
        savepoint = self.session.begin_nested()
        try:
            team, village = self._resolve_team(row, created)
            if household is not None:
                if team.kind != TEAM:
                    raise _RowFailed(_missing(row.line, "team"))
                try:
                    service.create_household(
                        self.session,
                        self.actor,
                        team_id=team.id,
                        data=household.data,
                        members=household.members,
                        code=household.code or None,
                    )
                except DomainError as err:
                    raise _RowFailed(_row_error(row.line, err)) from None
                self.result.households_created += 1
                self.result.members_created += len(household.members)
        except _RowFailed:
            savepoint.rollback()
            for key in created:
                self.cache.pop(key, None)
                if key[0] == "top":
                    continue
                self.result.units_created -= 1
            raise
        savepoint.commit()
        counts = self.villages.setdefault(village.id, _VillageCounts(village)).counts
        counts["rows"] += 1
        counts["units_created"] += sum(1 for key in created if key[0] != "top")
        if household is not None:
            counts["households_created"] += 1
            counts["members_created"] += len(household.members)

    def run(self, rows: list[Row]) -> list[dict]:
        """Check and write every row; the problems of all bad rows."""
        errors: list[dict] = []
        codes_seen: dict[str, int] = {}
        for row in rows:
            self.result.rows += 1
            if row.short:  # its cells are not in their columns: only that is reported
                errors += row.errors
                continue
            has_household = any(row.values.get(k) for k in HOUSEHOLD_COLUMNS)
            problems = [*row.errors, *_missing_levels(row, has_household)]
            household = None
            if has_household:
                household, household_problems = _checked_household(row, codes_seen)
                problems += household_problems
            if problems:
                errors += problems
                continue
            try:
                self._write(row, household)
            except _RowFailed as failed:
                errors.append(failed.error)
        return errors


def import_registry(
    session: Session, actor: User | None, *, filename: str, data: bytes
) -> ImportResult:
    """Import households (and the units they name) from a CSV or XLSX file.

    All or nothing: when any row is bad nothing is changed and
    :class:`ImportRejected` lists every bad row. On success the changes are
    flushed; the caller commits. ``actor`` None is the command line (no scope);
    otherwise every row must lie in the actor's "import" scope.
    """
    if actor is not None and not scope.may_somewhere(actor, "import"):
        raise ImportRejected.whole_file("out_of_scope", _("You may not import households."))
    rows = read_rows(filename, data)
    outer = session.begin_nested()
    importer = _Importer(session, actor)
    try:
        errors = importer.run(rows)
    except BaseException:
        outer.rollback()
        raise
    if errors:
        outer.rollback()
        raise ImportRejected(errors)
    outer.commit()
    if importer.result.units_created:
        service.bump_tree_version(session)
    digest = hashlib.sha256(data).hexdigest()
    for village in importer.villages.values():
        record(
            session,
            actor,
            "registry.import",
            object_type="unit",
            object_id=village.village.id,
            unit_path=village.village.path,
            after={"file": (filename or "")[-100:], "sha256": digest, **village.counts},
        )
    return importer.result
