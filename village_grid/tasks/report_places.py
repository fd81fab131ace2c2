"""What the status service (``tasks/statuses.py``) decides a batch of reports against,
read from the database: the events the sender's operation ids already made, and where
the households stand on their tasks, read under their teams' locks.

The task teams the households count under (``tasks/membership.py``) are locked first,
in (task, team) order, then each task and its households' rows are read in one query a
task, and the households without a row checked as open members (one query). A
household's :class:`Place` is then moved along in memory by the batch's reports on it.
Functions flush and never commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, bindparam, func, select
from sqlalchemy.orm import Session

from village_grid.models import Assignment, StatusEvent, Task
from village_grid.tasks import membership
from village_grid.tasks.labels import PENDING

_assignments = Assignment.__table__
_tasks = Task.__table__
# What reports on one task need to know, in one query under the teams' locks: the task,
# and the rows of those of its households that have one.
_FACTS = (
    select(
        _tasks.c.kind,
        _tasks.c.closed_at,
        _tasks.c.created_at,
        _tasks.c.questions,
        _assignments.c.household_id,
        _assignments.c.id,
        _assignments.c.status,
        _assignments.c.updated_at,
        _assignments.c.answers,
        _assignments.c.team_id,
    )
    .select_from(
        _tasks.outerjoin(
            _assignments,
            and_(
                _assignments.c.task_id == _tasks.c.id,
                _assignments.c.household_id.in_(bindparam("hhs", expanding=True)),
            ),
        )
    )
    .where(_tasks.c.id == bindparam("task_id"))
)
UNKNOWN = object()  # a household's latest event, not read yet


@dataclass(frozen=True)
class TaskFacts:
    """A task as reports on it read it."""

    kind: str
    closed_at: datetime | None
    created_at: datetime
    questions: list | None


@dataclass
class Place:
    """A household on a task under its team's lock, moved along as a batch's reports on
    it are decided."""

    task_team_id: int
    team_id: int
    team_pending: int  # the team's households pending before the batch
    assignment_id: int | None  # None: an open member, no row yet
    held: str  # its status before the batch
    status: str
    updated_at: datetime | None
    answers: dict | None
    latest: object = UNKNOWN  # its latest event: a StatusEvent, one the batch writes, None
    changes: dict | None = None  # its assignment's values after the batch
    applied: list = field(default_factory=list)  # the batch's events that set them


def read_places(
    session: Session, pairs: Iterable[tuple[int, int]]
) -> tuple[dict[int, TaskFacts], dict[tuple[int, int], Place]]:
    """Lock the task teams these (task, household) pairs count under, in (task, team)
    order, then read each task and its households' rows under those locks: the tasks'
    facts, and the place of each household the task reaches (left out: a task that
    does not exist, a household it never reached)."""
    by_task: dict[int, set[int]] = {}
    for task_id, household_id in pairs:
        by_task.setdefault(task_id, set()).add(household_id)
    tasks: dict[int, TaskFacts] = {}
    places: dict[tuple[int, int], Place] = {}
    locks: dict[int, dict[int, tuple[int, int, int]]] = {}
    no_row: list[tuple[int, int]] = []
    conn = session.connection()
    for task_id in sorted(by_task):
        hhs = sorted(by_task[task_id])
        locks[task_id] = membership.lock_teams(session, task_id, hhs)
        rows = {}
        for kind, closed_at, created_at, questions, hh, *row in conn.execute(
            _FACTS, {"task_id": task_id, "hhs": hhs}
        ):
            tasks[task_id] = TaskFacts(kind, closed_at, created_at, questions)
            if hh is not None:
                rows[hh] = row
        if task_id not in tasks:
            continue
        for hh in hhs:
            if hh not in rows:
                no_row.append((task_id, hh))
                continue
            assignment_id, status, updated_at, answers, team_id = rows[hh]
            lock = _locked(session, locks[task_id], task_id, hh, team_id)
            if lock is not None:
                places[(task_id, hh)] = Place(
                    *lock, assignment_id, status, status, updated_at, answers
                )
    if no_row:
        members = {
            (m.task_id, m.household_id): m
            for m in membership.open_memberships(session, [hh for _t, hh in no_row])
        }
        for task_id, hh in no_row:
            m = members.get((task_id, hh))
            lock = _locked(session, locks[task_id], task_id, hh, m.team_id) if m else None
            if lock is not None:
                places[(task_id, hh)] = Place(*lock, None, PENDING, PENDING, None, None, None)
    return tasks, places


def _locked(
    session: Session, locks: dict, task_id: int, household_id: int, team_id: int
) -> tuple[int, int, int] | None:
    """The lock of the task team the household counts under: taken with the batch's
    other teams, unless the household came to count under another team between the
    two reads (it moved, its row was written): then taken now."""
    lock = locks.get(household_id)
    if lock is None or lock[1] != team_id:
        lock = membership.lock_team(session, task_id, household_id)
    return lock


def read_latest(session: Session, places: Iterable[Place]) -> None:
    """The latest event of each of these households (with a row), one query."""
    wanted = {p.assignment_id: p for p in places if p.assignment_id is not None}
    if not wanted:
        return
    ranked = (
        select(
            StatusEvent.id,
            func.row_number()
            .over(
                partition_by=StatusEvent.assignment_id,
                order_by=(StatusEvent.created_at.desc(), StatusEvent.id.desc()),
            )
            .label("n"),
        )
        .where(StatusEvent.assignment_id.in_(sorted(wanted)))
        .subquery()
    )
    for place in wanted.values():
        place.latest = None
    for event in session.scalars(
        select(StatusEvent).join(ranked, ranked.c.id == StatusEvent.id).where(ranked.c.n == 1)
    ):
        wanted[event.assignment_id].latest = event


def read_latest_one(session: Session, place: Place) -> None:
    """The latest event of one household (with a row)."""
    place.latest = session.scalar(
        select(StatusEvent)
        .where(StatusEvent.assignment_id == place.assignment_id)
        .order_by(StatusEvent.created_at.desc(), StatusEvent.id.desc())
        .limit(1)
    )


def replayed(
    session: Session, actor_id: int | None, op_ids: list[str | None]
) -> dict[str, StatusEvent]:
    """The events this sender's operation ids already made (one query; only the sender's
    own operations are looked at)."""
    ids = sorted({i for i in op_ids if i is not None})
    if not ids:
        return {}
    return {
        e.client_op_id: e
        for e in session.scalars(
            select(StatusEvent).where(
                StatusEvent.actor_id == actor_id, StatusEvent.client_op_id.in_(ids)
            )
        )
    }
