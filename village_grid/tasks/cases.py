"""One case lifecycle: open, climb, resolve.

A case is something a person must act on. It is about a household (a call for help:
``assignment_id``, ``household_id``) or about a team of a task (``task_team_id``):
households still unconfirmed at the deadline (``overdue``, one case naming them), a
notice its person told has not read (``unread``), a team lead gone silent on a sweep
(``silent``). Either way it names its team (``team_id``), whose path scopes it. The
vocabulary (reasons, which pass over the person they are about, states) is in
``tasks/labels.py``.

- **Open**: a case starts at level 1, the first person on duty above the team
  (:func:`holder`, routing's escalation stop), or several levels at once (a call for
  help); with nobody on duty it waits at the team's parent unit.
- **Climb**: an open case nobody acknowledged climbs one level every
  ``ESCALATION_INTERVAL_MINUTES`` while there is still something to do
  (:func:`climb`, one loop for every reason).
- **Resolve**: :func:`resolve` is the only writer of a resolution — a person closing
  it from the queue, the households reached, a notice read, a lead heard from, the
  task closed.

Whom each level reaches is routing's decision; who is told what is
``tasks/escalation.py`` (the deadline checks and calls for help) with
``tasks/messages.py``; the queue people work through is ``tasks/case_queue.py``.
Functions flush and never commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import networkx as nx
from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from village_grid.audit.service import record
from village_grid.database import chunks, insert_ignore
from village_grid.models import Assignment, Escalation, Household, Task, TaskTeam, Unit, User
from village_grid.tasks import labels, routing

# Levels a case may climb in one run (county → township → village → grid is four).
MAX_CLIMB_PER_RUN = 12


def interval() -> timedelta:
    """How long a case waits at one level before it climbs to the next."""
    return timedelta(minutes=int(current_app.config["ESCALATION_INTERVAL_MINUTES"]))


def holder(
    g: nx.DiGraph, team_id: int, level: int, *, besides: int | None = None
) -> routing.Stop | None:
    """Who holds a case about ``team_id`` at ``level``: routing's stop above the team,
    passing over ``besides`` (the person the case is about). None past the top."""
    return routing.escalation_stop(g, team_id, level, besides=besides) if team_id in g else None


@dataclass(frozen=True)
class Subject:
    """What a case is about: a household of a task (its assignment) or a team of a task
    (its task team); ``about_id`` is the person a team case is about (who has not read,
    who went silent), passed over by the reasons that say so."""

    task_id: int
    team_id: int
    assignment_id: int | None = None
    household_id: int | None = None
    task_team_id: int | None = None
    about_id: int | None = None


def passed_over(reason: str, about_id: int | None) -> int | None:
    """The person a case of ``reason`` passes over on its way up (None: nobody)."""
    return about_id if reason in labels.PASSES_OVER else None


def row(
    reason: str,
    subject: Subject,
    level: int,
    stop: routing.Stop | None,
    *,
    fallback_unit: int | None,
    now: datetime,
    nxt: datetime | None,
) -> dict:
    """The escalations row of a case at ``level``, held by ``stop`` (or, with nobody on
    duty, waiting at ``fallback_unit``)."""
    return {
        "task_id": subject.task_id,
        "assignment_id": subject.assignment_id,
        "household_id": subject.household_id,
        "task_team_id": subject.task_team_id,
        "team_id": subject.team_id,
        "reason": reason,
        "level": level,
        "unit_id": stop.unit_id if stop else fallback_unit,
        "assignee_id": stop.person.id if stop else None,
        "status": "open",
        "opened_at": now,
        "next_escalation_at": nxt,
        "resolution_note": "",
    }


def first_levels(
    g: nx.DiGraph,
    reason: str,
    subject: Subject,
    *,
    levels: int = 1,
    now: datetime,
    since: datetime,
    wait: timedelta,
) -> list[dict]:
    """The rows of a new case: its first ``levels`` levels at once (a call for help goes
    to two), the last of them climbing at ``since`` + ``wait`` if anyone is above it.
    With nobody on duty above the team, one row waiting at the team's parent."""
    besides = passed_over(reason, subject.about_id)
    team_id = subject.team_id
    stops = [s for s in (holder(g, team_id, n, besides=besides) for n in range(1, levels + 1)) if s]
    if not stops:
        parent = g.nodes[team_id]["parent"] if team_id in g else None
        return [row(reason, subject, 1, None, fallback_unit=parent, now=now, nxt=None)]
    nxt = since + wait if holder(g, team_id, len(stops) + 1, besides=besides) else None
    return [
        row(
            reason,
            subject,
            n,
            stop,
            fallback_unit=None,
            now=now,
            nxt=nxt if n == len(stops) else None,
        )
        for n, stop in enumerate(stops, start=1)
    ]


def open_rows(session: Session, rows: list[dict]) -> list[int]:
    """Insert case rows; those already there (same subject, reason and level: a second
    run, a race) are skipped. Returns the ids of the rows made."""
    return [r[0] for r in insert_ignore(session, Escalation, rows, Escalation.id)]


def stop_climbing(session: Session, ids: list[int]) -> None:
    """The case rows ``ids`` have climbed (or cannot): no next escalation."""
    for chunk in chunks(ids):
        session.execute(
            update(Escalation)
            .where(Escalation.id.in_(chunk))
            .values(next_escalation_at=None)
            .execution_options(synchronize_session=False)
        )


def _still_to_do(reason: str, closed_at, team_pending, assignment_status) -> bool:
    """Whether a case still has something for the next level to do. A call for help
    climbs until someone acknowledges it, task closed or not; households not reached
    climb while some are still pending; every other case ends with its task."""
    if reason == "needs_help":
        return True
    if closed_at is not None:
        return False
    if reason == "overdue":
        pending = (
            team_pending if assignment_status is None else int(assignment_status == labels.PENDING)
        )
        return bool(pending)
    return True


def climb(
    session: Session, g: nx.DiGraph, now: datetime, *, rounds: int = MAX_CLIMB_PER_RUN
) -> list[int]:
    """Open cases nobody acknowledged climb one level per interval (what ends a case —
    a read, a sign of life, the households reached — has already resolved it). Up to
    ``rounds`` levels in one run; plain columns and set-based updates, as this may touch
    every team of a county. Returns the ids of the levels opened."""
    wait = interval()
    created: list[int] = []
    stops: dict[tuple[int, int, int | None], routing.Stop | None] = {}

    def stop_at(team_id: int, level: int, besides: int | None) -> routing.Stop | None:
        key = (team_id, level, besides)
        if key not in stops:
            stops[key] = holder(g, team_id, level, besides=besides)
        return stops[key]

    for _round in range(rounds):
        due = session.execute(
            select(
                Escalation.id,
                Escalation.task_id,
                Escalation.assignment_id,
                Escalation.household_id,
                Escalation.task_team_id,
                Escalation.team_id,
                Escalation.reason,
                Escalation.level,
                Escalation.next_escalation_at,
                TaskTeam.assignee_id,
                TaskTeam.pending,
                Assignment.status,
                Task.closed_at,
            )
            .join(Task, Task.id == Escalation.task_id)
            .outerjoin(TaskTeam, TaskTeam.id == Escalation.task_team_id)
            .outerjoin(Assignment, Assignment.id == Escalation.assignment_id)
            .where(Escalation.status == "open", Escalation.next_escalation_at <= now)
        ).all()
        if not due:
            break
        rows = []
        for (
            _id, task_id, assignment_id, household_id, task_team_id, team_id, reason, level,
            next_at, about_id, team_pending, assignment_status, closed_at,
        ) in due:  # fmt: skip
            if not _still_to_do(reason, closed_at, team_pending, assignment_status):
                continue
            besides = passed_over(reason, about_id)
            stop = stop_at(team_id, level + 1, besides)
            if stop is None:
                continue
            subject = Subject(task_id, team_id, assignment_id, household_id, task_team_id, about_id)
            nxt = next_at + wait if stop_at(team_id, level + 2, besides) else None
            rows.append(row(reason, subject, level + 1, stop, fallback_unit=None, now=now, nxt=nxt))
        stop_climbing(session, [r[0] for r in due])
        created += open_rows(session, rows)
    return created


def resolve(
    session: Session,
    actor: User | None,
    *where,
    note: str,
    now: datetime,
    by_id: int | None = None,
    acknowledge: bool = False,
    audit: bool = True,
) -> int:
    """Resolve every case (every level of it) matching the conditions ``where`` that is
    not resolved yet, with ``note``, at ``now``, by ``by_id`` (default: ``actor``; None
    when the checks noticed). ``acknowledge``: a person closing it also counts as having
    taken it up. One ``escalation.resolve`` audit event per case (``audit`` False: the
    caller records the count, as closing a task does). Returns how many cases ended.

    The only writer of a case's resolution: the queue, a report reaching the last
    household, a read receipt, a sign of life, closing a task all come here."""
    found = session.execute(
        select(
            Escalation.id,
            Escalation.assignment_id,
            Escalation.task_team_id,
            Escalation.reason,
            Escalation.status,
            Unit.path,
        )
        .join(Unit, Unit.id == Escalation.team_id)
        .where(*where, Escalation.status.in_(labels.OPEN_CASE_STATES))
        .order_by(Escalation.level, Escalation.id)
    ).all()
    if not found:
        return 0
    resolver = by_id if by_id is not None else (actor.id if actor is not None else None)
    values: dict = {
        "status": "resolved",
        "resolved_at": now,
        "resolved_by_id": resolver,
        "resolution_note": note,
        "next_escalation_at": None,
    }
    if acknowledge:
        values["acknowledged_at"] = func.coalesce(Escalation.acknowledged_at, now)
        values["acknowledged_by_id"] = func.coalesce(Escalation.acknowledged_by_id, resolver)
    ids = [r[0] for r in found]
    for chunk in chunks(ids):
        session.execute(
            update(Escalation)
            .where(Escalation.id.in_(chunk))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    _expire_loaded(session, set(ids))
    heads: dict[tuple, tuple] = {}
    for esc_id, assignment_id, task_team_id, reason, status, path in found:
        heads.setdefault((assignment_id, task_team_id, reason), (esc_id, status, path))
    if audit:
        for esc_id, was, path in heads.values():
            record(
                session,
                actor,
                "escalation.resolve",
                object_type="escalation",
                object_id=esc_id,
                unit_path=path,
                before={"status": was},
                after={"status": "resolved", "resolution_note": note},
            )
    session.flush()
    return len(heads)


def reopen(
    session: Session, levels: list[Escalation], now: datetime, *, climbs_at: datetime | None
) -> str | None:
    """Open again a case asked for again after it was handled (a second call for help):
    every level open, taken up by nobody, its top level climbing at ``climbs_at``.
    Returns the state it was in (None: it was open)."""
    was = None
    top = max((esc.level for esc in levels), default=0)
    for esc in levels:
        if esc.status != "open":
            was = was or esc.status
            esc.status = "open"
            esc.opened_at = now
            esc.acknowledged_at = esc.acknowledged_by_id = None
            esc.resolved_at = esc.resolved_by_id = None
        if esc.level == top and esc.next_escalation_at is None:
            esc.next_escalation_at = climbs_at
    session.flush()
    return was


def _expire_loaded(session: Session, ids: set[int]) -> None:
    """Case rows already loaded in the session read their new state on next access."""
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Escalation) and obj.id in ids:
            session.expire(obj)


def subject_of(esc: Escalation):
    """SQL: every level of the case ``esc`` belongs to."""
    if esc.assignment_id is not None:
        return (Escalation.assignment_id == esc.assignment_id) & (Escalation.reason == esc.reason)
    return (Escalation.task_team_id == esc.task_team_id) & (Escalation.reason == esc.reason)


def team_cases_of(task_team_ids: Iterable[int], reasons: Iterable[str]):
    """SQL: the cases of these reasons about these task teams."""
    return Escalation.task_team_id.in_(list(task_team_ids)) & Escalation.reason.in_(list(reasons))


def unreached(session: Session, task_id: int, team_ids: Iterable[int]) -> dict[int, list]:
    """The households a team case about being overdue names: per team of ``task_id``,
    its households still pending, in code order."""
    out: dict[int, list] = {}
    for chunk in chunks(sorted(set(team_ids))):
        for team_id, household in session.execute(
            select(Assignment.team_id, Household)
            .join(Household, Household.id == Assignment.household_id)
            .where(
                Assignment.task_id == task_id,
                Assignment.team_id.in_(chunk),
                Assignment.status == labels.PENDING,
            )
            .order_by(Household.code)
        ):
            out.setdefault(team_id, []).append(household)
    return out


def names(session: Session, user_ids: Iterable[int | None]) -> dict[int, User]:
    """The people these ids name (one query a chunk)."""
    ids = sorted({i for i in user_ids if i})
    return {
        u.id: u
        for chunk in chunks(ids)
        for u in session.scalars(select(User).where(User.id.in_(chunk)))
    }
