"""Importing a registry file, all or nothing, in one pass at a county's size.

The file is read a row at a time (:class:`~.files.RowReader`) and checked a batch of
rows at a time with the services' own checks (``service.clean_household_fields``,
``clean_member``, ``normalise_phone``, the unit name and code rules, ``auth.scope``);
units are found or made in memory (:mod:`.tree`), the people columns matched by
phone (:mod:`.people`), and while every row so far is good the batch is written in
bulk in the caller's transaction (:mod:`.writing`). A bad row stops the writing but
not the checking: every bad row is reported (:class:`ImportRejected`), and the
savepoint the import runs in is rolled back, so nothing is changed. Memory stays
what a batch and the units, codes and people of the file need, not the file's rows.

- The ten-household cap: a team's households are counted in memory; an existing team
  that takes new households is locked first (``Tree.lock_team``), as
  ``service.lock_team_with_room`` locks it, and counted again under the lock.
- A row whose household code is already registered in the same team, with the same
  fields and members, is that household: nothing changes (re-importing an export
  changes nothing). The same code elsewhere, or with other details, is a bad row.
  A row without a code that repeats a household of its team exactly is that one too.
- Open tasks of an existing team reach its new households (``membership``), as when
  a household is added on its page.
- Every unit, household, person and role made is on the audit log as if made on a
  page; each village the file touched gets one ``registry.import`` event (who, the
  file's name and SHA-256, what it made there).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from itertools import islice

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from village_grid.audit.service import record, request_addr
from village_grid.auth import scope
from village_grid.database.bulk import IdSource
from village_grid.errors import DomainError
from village_grid.hierarchy import events, service
from village_grid.hierarchy import units as unit_changes
from village_grid.hierarchy.labels import HOUSEHOLD_FIELD_LABELS
from village_grid.hierarchy.registry.columns import (
    HOUSEHOLD_COLUMNS,
    UNIT_LEVELS,
    heading,
    parse_flags,
    parse_members,
)
from village_grid.hierarchy.registry.files import Row, RowReader
from village_grid.hierarchy.registry.people import People
from village_grid.hierarchy.registry.rejections import ImportRejected, first_field, problem
from village_grid.hierarchy.registry.tree import Node, RowFailed, Tree
from village_grid.hierarchy.registry.writing import (
    FIELDS,
    PRINT_NAMES,
    Writer,
    known_households,
    member_tuple,
    prints,
)
from village_grid.models import Household, Unit, User
from village_grid.validation import clean_text

# Rows checked together (their phones and codes looked up in one query each).
CHECK_BATCH = 1000
# The cells that name a row's units: rows naming the same ones share their lookup.
UNIT_COLUMNS = (*UNIT_LEVELS, *(f"{level}_code" for level in UNIT_LEVELS))


@dataclass
class ImportResult:
    units_created: int = 0
    households_created: int = 0
    members_created: int = 0
    people_created: int = 0
    roles_assigned: int = 0
    households_unchanged: int = 0
    rows: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


# (field, service code) → the row problem's code.
_HOUSEHOLD_CODES = {
    ("phone", "bad_phone"): "bad_phone",
    ("head_name", "required"): "missing_head_name",
    ("latitude", "not_a_number"): "bad_latitude",
    ("latitude", "out_of_range"): "bad_latitude",
    ("longitude", "not_a_number"): "bad_longitude",
    ("longitude", "out_of_range"): "bad_longitude",
    ("flags", "unknown"): "unknown_flag",
}


def _row_error(line: int, err: DomainError) -> dict:
    """A service error about a household's fields, as the row's problem."""
    key, code = first_field(err)
    mapped = _HOUSEHOLD_CODES.get((key, code))
    if mapped is None:
        mapped = "too_long" if code == "too_long" else (err.code if code == "invalid" else code)
    return problem(line, mapped, err.message, key)


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
class _Checked:
    """A row after its own checks (no database): its household, if any, and problems."""

    row: Row
    fields: dict | None = None
    members: list[dict] = field(default_factory=list)
    code: str = ""
    problems: list[dict] = field(default_factory=list)


def _check_row(row: Row) -> _Checked:
    checked = _Checked(row, problems=list(row.errors))
    if row.short:  # its cells are not in their columns: only that is reported
        return checked
    v = row.values
    has_household = any(v.get(k) for k in HOUSEHOLD_COLUMNS)
    checked.problems += _missing_levels(row, has_household)
    if not has_household:
        return checked
    data = {f: v.get(f, "") for f in FIELDS}
    data["flags"] = parse_flags(v.get("flags", ""))
    try:
        checked.fields = service.clean_household_fields(data)
    except DomainError as err:
        checked.problems.append(_row_error(row.line, err))
    members, member_problems = parse_members(v.get("members", ""), row.line)
    checked.problems += member_problems
    checked.members = [
        {k: m[k] for k in ("name", "relation", "sex", "birth_year", "phone")} for m in members
    ]
    code = v.get("code", "")
    if code:
        try:
            checked.code = clean_text(code, field="code", max_len=60)
        except DomainError as err:
            checked.problems.append(problem(row.line, "too_long", err.message, "code"))
    return checked


class _Import:
    def __init__(
        self, session: Session, actor: User | None, progress, digest: str, dry_run: bool = False
    ):
        self.session = session
        self.actor = actor
        self.progress = progress
        self.cap = service.team_max_households()
        self.tree = Tree(session, actor, known_households, IdSource(session, Unit))
        self.people = People(session, IdSource(session, User))
        self.household_ids = IdSource(session, Household)
        self.writer = Writer(session, actor, request_addr(), digest)
        self.dry_run = dry_run
        if dry_run:
            self.writer.stop()
        self.result = ImportResult()
        self.errors: list[dict] = []
        self.codes_seen: dict[str, int] = {}
        self.villages: dict[int, tuple[Node, dict[str, int]]] = {}
        self.units_written = 0
        self.last_where: tuple | None = None
        self.last_chain: dict[str, Node] = {}

    def fail(self, problems: list[dict]) -> None:
        if problems:
            self.errors += problems
            self.writer.stop()

    def run(self, rows: Iterator[Row], estimate: int) -> None:
        rows = iter(rows)
        while batch := list(islice(rows, CHECK_BATCH)):
            checked = [_check_row(row) for row in batch]
            self.people.lookup(self.people.phones_in(c.row.values for c in checked))
            taken = self._codes_in_database({c.code for c in checked if c.code})
            made: list[tuple[_Checked, Node, int, int, str]] = []
            for c in checked:
                self.result.rows += 1
                self._row(c, taken, made)
            self._write(made)
            if self.progress is not None:
                self.progress(self.result.rows, max(estimate, self.result.rows))

    def _codes_in_database(self, codes: set[str]) -> set[str]:
        wanted = sorted(codes)
        found: set[str] = set()
        for i in range(0, len(wanted), 1000):
            found.update(
                self.session.scalars(
                    select(Household.code).where(Household.code.in_(wanted[i : i + 1000]))
                )
            )
        return found

    def _row(self, c: _Checked, taken: set[str], made: list) -> None:
        line, values = c.row.line, c.row.values
        if c.problems:
            self.fail(c.problems)
            return
        where = tuple(values.get(k, "") for k in UNIT_COLUMNS)
        if where == self.last_where:  # the rows of one team follow each other
            chain = self.last_chain
        else:
            try:
                chain = self.tree.resolve(values, line)
            except RowFailed as failed:
                self.fail([failed.error])
                return
            self.last_where, self.last_chain = where, chain
        claims, problems = self.people.check(values, chain, line)
        team = chain.get("team")
        household = None
        if c.fields is not None:
            household, more = self._household(c, team, chain, taken)
            problems += more
        if problems:
            self.fail(problems)
            return
        self.people.take(claims, line)
        counts = self._village(chain)
        counts["rows"] += 1
        if household is not None:
            team.households += 1
            seq = team.next_seq
            team.next_seq += 1
            made.append((c, team, seq, self.household_ids.take(), household))
            counts["households_created"] += 1
            counts["members_created"] += len(c.members)

    def _village(self, chain: dict[str, Node]) -> dict[str, int]:
        village = chain.get("village") or chain[next(iter(chain))]
        entry = self.villages.get(village.id)
        if entry is None:
            entry = self.villages[village.id] = (
                village,
                dict.fromkeys(
                    ("rows", "units_created", "households_created", "members_created"), 0
                ),
            )
        return entry[1]

    def _household(
        self, c: _Checked, team: Node | None, chain: dict[str, Node], taken: set[str]
    ) -> tuple[str | None, list[dict]]:
        """The code of the row's new household (None: it is registered already), or its
        problems."""
        line = c.row.line
        if team is None or not team.is_team:
            return None, [_missing(line, "team")]
        row_prints = (
            prints(c.fields, [member_tuple(m) for m in c.members])
            if team.known or team.same
            else None
        )
        if c.code:
            seen = self.codes_seen.get(c.code)
            if seen is not None:
                reason = _("Household code %(c)s is also on line %(n)s.", c=c.code, n=seen)
                return None, [problem(line, "duplicate_code_in_file", reason, "code")]
            self.codes_seen[c.code] = line
            known = (team.known or {}).get(c.code)
            if known is not None:
                return self._same(c, known, row_prints)
            if c.code in taken:
                reason = _("Household code %(c)s is already used.", c=c.code)
                return None, [problem(line, "duplicate_code", reason, "code")]
        elif row_prints is not None and row_prints in team.same:
            self.result.households_unchanged += 1
            return None, []
        if team.households >= self.cap:
            return None, [self._full(team, line)]
        if not team.new and not self.dry_run:
            self.tree.lock_team(team)
            if team.households >= self.cap:
                return None, [self._full(team, line)]
        if c.code:
            return c.code, []
        codes = [chain[lv].code for lv in ("village", "grid") if lv in chain]
        code = service.code_of([*codes, team.code], team.next_seq)
        if code in self.codes_seen:  # a code given by hand on another line
            code = f"{code}-{line}"
        self.codes_seen[code] = line
        return code, []

    def _same(self, c: _Checked, known: tuple, row_prints: tuple) -> tuple[None, list[dict]]:
        """A row naming a household of its team by code: unchanged, or a bad row."""
        differ = [name for name, a, b in zip(PRINT_NAMES, known, row_prints, strict=True) if a != b]
        if not differ:
            self.result.households_unchanged += 1
            return None, []
        reason = _(
            "Household %(c)s is already registered with other details (%(f)s). The import "
            "adds households; change this one on its page.",
            c=c.code,
            f="、".join(str(HOUSEHOLD_FIELD_LABELS.get(name, name)) for name in differ),
        )
        return None, [problem(c.row.line, "household_differs", reason, differ[0])]

    def _full(self, team: Node, line: int) -> dict:
        room = self.tree.teams_with_room(team, self.cap)
        hint = (
            _(
                "Teams with room in the same grid: %(teams)s.",
                teams=", ".join(f"{t.name} ({t.households}/{self.cap})" for t in room),
            )
            if room
            else _("No team in the same grid has room; split a team first.")
        )
        reason = _("Team %(team)s already has %(cap)s households.", team=team.name, cap=self.cap)
        return problem(line, "team_full", f"{reason} {hint}", "team")

    def _write(self, made: list) -> None:
        """The batch's new units and households (when no row so far was bad)."""
        new_units = self.tree.new_units[self.units_written :]
        self.units_written = len(self.tree.new_units)
        for node in new_units:
            self.writer.unit(node)
        if self.writer.stopped:
            return
        generated = {code for c, _t, _s, _i, code in made if not c.code}
        clash = self._codes_in_database(generated) if generated else set()
        for c, team, seq, household_id, code in made:
            if code in clash:  # a code someone gave by hand elsewhere
                code = f"{code}-{household_id}"
            self.writer.household(household_id, team, seq, code, c.fields, c.members)
        self.writer.flush()

    def _counted(self) -> ImportResult:
        result = self.result
        result.units_created = len(self.tree.new_units)
        result.households_created = sum(c["households_created"] for _v, c in self.villages.values())
        result.members_created = sum(c["members_created"] for _v, c in self.villages.values())
        result.people_created = len(self.people.new_people)
        result.roles_assigned = len(self.people.new_roles)
        return result

    def finish(self, filename: str, digest: str) -> ImportResult:
        """Write what is left, the people, the tree version and the import's events."""
        self.writer.flush(force=True)
        self.writer.people(self.people.new_people, self.people.new_roles)
        if self.writer.joined:
            events.changed(self.session, self.writer.joined)
        result = self.result
        if self.dry_run:
            return self._counted()
        self._counted()
        for node in self.tree.divisions.values():  # villages that had no division code
            unit_changes.update_unit(
                self.session, self.actor, node.id, division_code=node.division_code
            )
        for node in self.tree.new_units:
            village = node
            while village.parent is not None and village.kind != "village":
                village = village.parent
            if village.id in self.villages:
                self.villages[village.id][1]["units_created"] += 1
        for village, counts in self.villages.values():
            record(
                self.session,
                self.actor,
                "registry.import",
                object_type="unit",
                object_id=village.id,
                unit_path=village.path,
                after={
                    "file": (filename or "")[-100:],
                    "sha256": digest,
                    **counts,
                },
            )
        self.session.flush()
        return result


def import_registry(
    session: Session,
    actor: User | None,
    *,
    filename: str,
    data: bytes,
    progress: Callable[[int, int], None] | None = None,
    dry_run: bool = False,
) -> ImportResult:
    """Import households, the units they name and the people of the roster from a CSV
    or XLSX file.

    All or nothing: when any row is bad nothing is changed and
    :class:`ImportRejected` lists every bad row. On success the changes are
    flushed; the caller commits. ``actor`` None is the command line (no scope);
    otherwise every row must lie in the actor's "import" scope. ``progress(rows
    checked, rows about)`` is called after each batch of rows. ``dry_run``: check every
    row and count what would be made, writing nothing (the worker's first pass).
    """
    if actor is not None and not scope.may_somewhere(actor, "import"):
        raise ImportRejected.whole_file("out_of_scope", _("You may not import households."))
    reader = RowReader(filename, data)
    outer = session.begin_nested()
    try:
        # The tree changes: take its version's row first. On SQLite this is the
        # database's write lock, under which the new rows' ids are counted on.
        if not dry_run:
            service.bump_tree_version(session)
        digest = hashlib.sha256(data).hexdigest()
        job = _Import(session, actor, progress, digest, dry_run)
        job.run(iter(reader), reader.estimate)
        if job.errors:
            raise ImportRejected(job.errors)
        result = job.finish(filename, digest)
        if dry_run:
            outer.rollback()
            return result
    except BaseException:
        outer.rollback()
        raise
    outer.commit()
    return result
