"""Which households a task reaches, and the counts of their statuses per team.

A sweep to a district reaches a million households; the work that matters when
it is sent is telling the ten-times-fewer team leads. So dispatch writes one row
per team (``TaskTeam``), holding how many of its households the task reaches
and how many are at each status, and no row per household. A household gets its
``Assignment`` row when it is first reported on; until then it belongs to the
task by rule — an *open member*:

    its team is one of the task's teams, that team is not frozen, the household
    passes the task's flags, and it has no row on the task yet.

A team of a task is *frozen* once each of its households has its row: the
worker freezes a task's teams at its deadline (the pending need rows for their
cases to climb), and a team whose task is closed or past its deadline is frozen
before a household joins it, so the task does not grow after it is due. Until
then a sweep follows the registry: a household registered in, moved into or
newly flagged for one of its teams joins it as pending; one that leaves (moved
away, flag taken off) gets its row first and stays where the task found it. A
task never reaches a team it did not reach when sent (nobody there was told),
and a notice's teams are frozen from the start: it reaches leads, not households.

The counts move with every report (:func:`move_count`, in the report's
transaction, after :func:`lock_team` has serialised the reports of one team),
with every household that joins (:func:`after_change`), and never otherwise: a
team's ``households`` is always the sum of its status counts. Functions flush
and never commit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import (
    and_,
    bindparam,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from village_grid.database import chunks, insert_ignore
from village_grid.hierarchy import events
from village_grid.models import HOUSEHOLD_FLAGS, Assignment, Household, Task, TaskTeam
from village_grid.tasks.labels import PENDING, STATUSES

_a = Assignment.__table__
_h = Household.__table__
_tt = TaskTeam.__table__
_t = Task.__table__

# The status counts of a team, in STATUSES order (columns of task_teams).
COUNT_COLUMNS = tuple(_tt.c[s] for s in STATUSES)


def counted(statuses: Iterable[str] | None = None):
    """SQL: how many of a team's households are at ``statuses`` (None: all of them)."""
    return sum(_tt.c[s] for s in statuses or STATUSES)


def flags_clause(flags: Iterable[str]):
    """The households having any of ``flags`` (None: no condition)."""
    flags = [f for f in flags if f in HOUSEHOLD_FLAGS]
    return or_(*(_h.c[f].is_(True) for f in flags)) if flags else None


def task_flags(task_filter: dict | None) -> list[str]:
    """The flags of a task's filter (a household needs one of them to be reached)."""
    return list((task_filter or {}).get("flags") or [])


def passes(flags: list[str], household_flags: dict) -> bool:
    """Whether a household with these flag values passes a task's ``flags``."""
    return not flags or any(household_flags.get(f) for f in flags)


def _no_row(task_id):
    return ~exists().where(_a.c.task_id == task_id, _a.c.household_id == _h.c.id)


def open_members(
    task_id: int, task_filter: dict | None, *, team_ids: list[int] | None = None
) -> Select:
    """(household_id, team_id) of a task's open members (no row, team not frozen)."""
    q = (
        select(_h.c.id.label("household_id"), _h.c.team_id.label("team_id"))
        .join(_tt, and_(_tt.c.team_id == _h.c.team_id, _tt.c.task_id == task_id))
        .where(_tt.c.frozen.is_(False), _no_row(task_id))
    )
    cond = flags_clause(task_flags(task_filter))
    if cond is not None:
        q = q.where(cond)
    if team_ids is not None:
        q = q.where(_h.c.team_id.in_(team_ids))
    return q


def members(
    task: Task, *, statuses: tuple[str, ...] | None = None, team_ids: list[int] | None = None
):
    """Every household of the task with its latest status, as one subquery with the
    columns of an assignment (household_id, team_id, status, help_kind, note, answers,
    updated_at, updated_via): the rows, and the open members as pending.
    ``statuses``/``team_ids`` narrow it (the open members are left out at once when
    "pending" is not asked for)."""
    rows = select(
        _a.c.household_id,
        _a.c.team_id,
        _a.c.status,
        _a.c.help_kind,
        _a.c.note,
        _a.c.answers,
        _a.c.updated_at,
        _a.c.updated_via,
    ).where(_a.c.task_id == task.id)
    if statuses:
        rows = rows.where(_a.c.status.in_(statuses))
    if team_ids is not None:
        rows = rows.where(_a.c.team_id.in_(team_ids))
    if statuses and PENDING not in statuses:
        return rows.subquery("members")
    open_ = open_members(task.id, task.filter, team_ids=team_ids).subquery()
    pending = select(
        open_.c.household_id,
        open_.c.team_id,
        literal(PENDING).label("status"),
        literal("").label("help_kind"),
        literal("").label("note"),
        null().label("answers"),
        null().label("updated_at"),
        literal("").label("updated_via"),
    )
    return union_all(rows, pending).subquery("members")


def lock_team(session: Session, task_id: int, household_id: int) -> tuple[int, int, int] | None:
    """Take the write lock of the task team a household counts under — its row's
    team, or (an open member) its own team — and return (its id, the team's id, how
    many of its households are pending) (None: the task has no such team). The UPDATE takes a row lock on PostgreSQL and the database write
    lock on SQLite, so reports on one team's households read and move its counts
    one after the other."""
    team = func.coalesce(
        select(_a.c.team_id)
        .where(_a.c.task_id == task_id, _a.c.household_id == household_id)
        .scalar_subquery(),
        select(_h.c.team_id).where(_h.c.id == household_id).scalar_subquery(),
    )
    row = (
        session.connection()
        .execute(
            update(_tt)
            .where(_tt.c.task_id == task_id, _tt.c.team_id == team)
            .values(frozen=_tt.c.frozen)
            .returning(_tt.c.id, _tt.c.team_id, _tt.c.pending)
        )
        .first()
    )
    return (row[0], row[1], row[2]) if row is not None else None


# A task's team locked by its team's id (lock_teams: several households at once).
_LOCK_TEAM = (
    update(_tt)
    .where(_tt.c.task_id == bindparam("t"), _tt.c.team_id == bindparam("team"))
    .values(frozen=_tt.c.frozen)
    .returning(_tt.c.id, _tt.c.team_id, _tt.c.pending)
)
# The team each of several households counts under on a task: its row's, or its own.
_COUNTED_TEAMS = select(
    _h.c.id,
    func.coalesce(
        select(_a.c.team_id)
        .where(_a.c.task_id == bindparam("t"), _a.c.household_id == _h.c.id)
        .scalar_subquery(),
        _h.c.team_id,
    ),
).where(_h.c.id.in_(bindparam("hhs", expanding=True)))


def lock_teams(
    session: Session, task_id: int, household_ids: Iterable[int]
) -> dict[int, tuple[int, int, int]]:
    """:func:`lock_team` for several households of a task: each task team they count
    under locked once, in team order (two batches over the same teams never each hold
    one the other waits for), as {household id: (task team id, team id, pending)};
    a household whose task has no such team is left out."""
    ids = sorted(set(household_ids))
    if len(ids) == 1:
        locked = lock_team(session, task_id, ids[0])
        return {ids[0]: locked} if locked is not None else {}
    conn = session.connection()
    by_team: dict[int, list[int]] = {}
    for household_id, team_id in conn.execute(_COUNTED_TEAMS, {"t": task_id, "hhs": ids}):
        by_team.setdefault(team_id, []).append(household_id)
    out: dict[int, tuple[int, int, int]] = {}
    for team_id in sorted(by_team):
        row = conn.execute(_LOCK_TEAM, {"t": task_id, "team": team_id}).first()
        if row is not None:
            out.update(dict.fromkeys(by_team[team_id], (row[0], row[1], row[2])))
    return out


class Membership(NamedTuple):
    """A household an open member of a task, through one of the task's teams."""

    task_team_id: int
    task_id: int
    household_id: int
    team_id: int


def open_memberships(session: Session, household_ids: Iterable[int]) -> list[Membership]:
    """Every task these households are open members of now (one query; the tasks'
    flags are checked here, each task having its own)."""
    ids = sorted(set(household_ids))
    if not ids:
        return []
    flag_cols = [_h.c[f] for f in HOUSEHOLD_FLAGS]
    conn = session.connection()
    return [
        Membership(tt_id, task_id, household_id, team_id)
        for chunk in chunks(ids)
        for tt_id, task_id, flt, household_id, team_id, *flags in conn.execute(
            select(_tt.c.id, _t.c.id, _t.c.filter, _h.c.id, _h.c.team_id, *flag_cols)
            .join(_tt, _tt.c.team_id == _h.c.team_id)
            .join(_t, _t.c.id == _tt.c.task_id)
            .where(_h.c.id.in_(chunk), _tt.c.frozen.is_(False), _no_row(_t.c.id))
        )
        if passes(task_flags(flt), dict(zip(HOUSEHOLD_FLAGS, flags, strict=True)))
    ]


def is_open_member(session: Session, task_id: int, household_id: int) -> bool:
    """Whether the household belongs to the task without a row yet."""
    return any(m.task_id == task_id for m in open_memberships(session, [household_id]))


def pending_row(task_id: int, household_id: int, team_id: int) -> dict:
    """The assignment row of a household not reported on yet."""
    return {
        "task_id": task_id,
        "household_id": household_id,
        "team_id": team_id,
        "status": PENDING,
        "help_kind": "",
        "note": "",
        "updated_via": "",
    }


def add_row(session: Session, task_id: int, household_id: int, team_id: int) -> int:
    """The household's row on the task, written as pending if it has none; its id."""
    return add_rows(session, task_id, {household_id: team_id})[household_id]


def add_rows(session: Session, task_id: int, teams: dict[int, int]) -> dict[int, int]:
    """The rows of these households (household id → team id) on the task, written as
    pending where they have none: {household id: row id} (two statements)."""
    ids = sorted(teams)
    insert_ignore(session, Assignment, [pending_row(task_id, h, teams[h]) for h in ids])
    rows = session.connection().execute(
        select(_a.c.household_id, _a.c.id).where(
            _a.c.task_id == task_id, _a.c.household_id.in_(ids)
        )
    )
    return {household_id: row_id for household_id, row_id in rows}


# Latest wins in the statement itself: a report committed by someone else
# between this one's read and its write, and newer than it, is kept.
_UPDATE_LATEST = (
    update(_a)
    .where(
        _a.c.id == bindparam("b_id"),
        or_(
            _a.c.updated_at.is_(None),
            _a.c.updated_at <= bindparam("b_updated_at"),
        ),
    )
    .values(
        status=bindparam("b_status"),
        help_kind=bindparam("b_help_kind"),
        note=bindparam("b_note"),
        answers=bindparam("b_answers", type_=_a.c.answers.type),
        updated_at=bindparam("b_updated_at"),
        updated_via=bindparam("b_updated_via"),
        updated_by_id=bindparam("b_updated_by_id"),
    )
)


def update_latest(session: Session, rows: list[tuple[int, dict]]) -> set[int]:
    """Assignments (id, their new values: status, help_kind, note, answers, updated_at,
    updated_via, updated_by_id) set to a report, each unless a newer one is there
    (latest wins in the statement): one statement run for every row at once. The ids
    updated; one left out holds a newer report committed meanwhile."""
    if not rows:
        return set()
    conn = session.connection()
    params = [{"b_id": i, **{f"b_{k}": v for k, v in values.items()}} for i, values in rows]
    if conn.execute(_UPDATE_LATEST, params).rowcount == len(rows):
        return {i for i, _values in rows}
    # Rare (the teams' locks keep other reports out): which rows hold what was written.
    keys = ("status", "updated_at", "updated_by_id")
    held = {
        i: tuple(rest)
        for i, *rest in conn.execute(
            select(_a.c.id, *(_a.c[k] for k in keys)).where(_a.c.id.in_([i for i, _v in rows]))
        )
    }
    return {i for i, values in rows if held.get(i) == tuple(values[k] for k in keys)}


def move_count(session: Session, task_team_id: int, old: str, new: str, n: int = 1) -> None:
    """``n`` households of a task team went from status ``old`` to ``new``."""
    move_counts(session, task_team_id, Counter({old: -n, new: n}) if old != new else Counter())


def move_counts(session: Session, task_team_id: int, change: Counter) -> None:
    """A task team's status counts moved by ``change`` (status → how many more, or
    fewer), in one statement; nothing when it nets to zero."""
    moved = {s: n for s, n in change.items() if n}
    if not moved:
        return
    session.connection().execute(
        update(_tt)
        .where(_tt.c.id == task_team_id)
        .values({s: _tt.c[s] + n for s, n in sorted(moved.items())})
    )


def _freeze_rows(session: Session, task_team_ids: list[int]) -> None:
    """Write a pending row for every open member of these task teams and mark them
    frozen. Set-based: one INSERT … SELECT per task and chunk of teams (a district's
    sweep past its deadline is a hundred thousand teams, more than one statement may
    name)."""
    conn = session.connection()
    for chunk in chunks(task_team_ids):
        _freeze_chunk(conn, chunk)


def _freeze_chunk(conn, task_team_ids: list[int]) -> None:
    by_task: dict[int, tuple[dict | None, list[int]]] = {}
    for tt_id, task_id, flt in conn.execute(
        select(_tt.c.id, _tt.c.task_id, _t.c.filter)
        .join(_t, _t.c.id == _tt.c.task_id)
        .where(_tt.c.id.in_(task_team_ids), _tt.c.frozen.is_(False))
    ):
        by_task.setdefault(task_id, (flt, []))[1].append(tt_id)
    for task_id, (flt, ids) in by_task.items():
        q = (
            select(
                literal(task_id),
                _h.c.id,
                _h.c.team_id,
                literal(PENDING),
                literal(""),
                literal(""),
                literal(""),
            )
            .join(_tt, _tt.c.team_id == _h.c.team_id)
            .where(_tt.c.id.in_(ids), _no_row(task_id))
        )
        cond = flags_clause(task_flags(flt))
        if cond is not None:
            q = q.where(cond)
        columns = ["task_id", "household_id", "team_id", "status", "help_kind", "note"]
        conn.execute(_a.insert().from_select([*columns, "updated_via"], q))
        conn.execute(update(_tt).where(_tt.c.id.in_(ids)).values(frozen=True))


def freeze_due(session: Session, now: datetime, *, limit: int | None = None) -> int:
    """Freeze the teams of tasks past their deadline (not closed, not notices), at
    most ``limit`` teams (None: all); how many teams were frozen. Teams another
    worker is freezing are skipped (PostgreSQL: SKIP LOCKED): a caller that commits
    between calls, until 0, spreads a district's million rows over short
    transactions."""
    q = (
        select(_tt.c.id)
        .join(_t, _t.c.id == _tt.c.task_id)
        .where(
            _tt.c.frozen.is_(False),
            _t.c.closed_at.is_(None),
            _t.c.deadline.is_not(None),
            _t.c.deadline <= now,
            _t.c.kind != "notice",
        )
        .order_by(_tt.c.id)
        .with_for_update(skip_locked=True, of=_tt)
    )
    if limit is not None:
        q = q.limit(limit)
    ids = list(session.connection().scalars(q))
    _freeze_rows(session, ids)
    return len(ids)


def before_change(
    session: Session,
    now: datetime,
    *,
    leaving: Iterable[int] = (),
    joining_teams: Iterable[int] = (),
) -> None:
    """Call before households change team or flags. Those ``leaving`` (their team or a
    flag) get their row on each task they are open members of, so they stay where
    the task found them; the teams they join (``joining_teams``) are frozen on
    tasks closed or past their deadline, so those do not grow."""
    conn = session.connection()
    rows = [
        pending_row(m.task_id, m.household_id, m.team_id)
        for m in open_memberships(session, leaving)
    ]
    insert_ignore(session, Assignment, rows)
    teams = sorted(set(joining_teams))
    if teams:
        due = list(
            conn.scalars(
                select(_tt.c.id)
                .join(_t, _t.c.id == _tt.c.task_id)
                .where(
                    _tt.c.team_id.in_(teams),
                    _tt.c.frozen.is_(False),
                    or_(_t.c.closed_at.is_not(None), _t.c.deadline <= now),
                )
            )
        )
        _freeze_rows(session, due)


def after_change(session: Session, household_ids: Iterable[int]) -> int:
    """Call after households joined a team or gained a flag: each becomes pending on
    the tasks of its team that now reach it (not frozen, no row yet), and those
    tasks' counts grow. How many (task, household) pairs were added."""
    conn = session.connection()
    grown = Counter((m.task_team_id, m.task_id) for m in open_memberships(session, household_ids))
    per_task: dict[int, int] = {}
    for (tt_id, task_id), n in sorted(grown.items()):
        conn.execute(
            update(_tt)
            .where(_tt.c.id == tt_id)
            .values(households=_tt.c.households + n, pending=_tt.c.pending + n)
        )
        per_task[task_id] = per_task.get(task_id, 0) + n
    for task_id, n in sorted(per_task.items()):
        conn.execute(
            update(_t).where(_t.c.id == task_id).values(households_total=_t.c.households_total + n)
        )
    return sum(per_task.values())


def _on_changing(session: Session, *, now: datetime, leaving, joining_teams) -> None:
    before_change(session, now, leaving=leaving, joining_teams=joining_teams)


def _on_changed(session: Session, *, household_ids) -> None:
    after_change(session, household_ids)


# The registry (below the tasks) tells of its changes by signal; see hierarchy/events.py.
events.households_changing.connect(_on_changing)
events.households_changed.connect(_on_changed)
