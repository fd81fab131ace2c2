"""Reads of tasks for pages, the API and other domains: which tasks a person
may see, a household's open tasks, read receipts, a team's answers.

Read-only. Progress, the per-household lists and their counts are in
``tasks/progress.py``.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from village_grid.auth import scope
from village_grid.errors import OutOfScope
from village_grid.models import (
    Assignment,
    NoticeRead,
    Task,
    TaskTeam,
    Unit,
    User,
)
from village_grid.tasks import membership
from village_grid.tasks.labels import REPORTED_STATUSES


def task_visible(session: Session, actor: User | None, task: Task) -> bool:
    """May ``actor`` see ``task``: sent to a unit in their scope, or reaching one of
    their teams (a village-wide sweep seen by a team lead). ``None`` is the system."""
    if actor is None:
        return True
    paths = scope.scope_paths(actor, "view")
    if paths is None:
        return True
    if not paths:
        return False
    if scope.within(task.unit.path, paths):
        return True
    # A task sent from above reaches the actor's teams.
    return bool(session.scalar(_reaching(task.id, paths).limit(1)))


def _reaching(task_id, paths: list[str]):
    """SQL: a team of the task within ``paths`` (one of the actor's teams)."""
    return (
        select(TaskTeam.id)
        .join(Unit, Unit.id == TaskTeam.team_id)
        .where(TaskTeam.task_id == task_id, scope.paths_clause(paths, Unit.path))
    )


def visible_task_ids(session: Session, actor: User | None, task_ids) -> set[int]:
    """Which of ``task_ids`` exist and ``actor`` may see: :func:`task_visible` for a batch,
    in one query."""
    ids = sorted({t for t in task_ids if isinstance(t, int)})
    paths = scope.scope_paths(actor, "view") if actor is not None else None
    if not ids or paths == []:
        return set()
    sent_to = aliased(Unit)
    q = select(Task.id, sent_to.path).join(sent_to, sent_to.id == Task.unit_id)
    if paths is not None:
        q = q.add_columns(_reaching(Task.id, paths).exists())
    visible = set()
    for task_id, path, *reaches in session.execute(q.where(Task.id.in_(ids))):
        if paths is None or scope.within(path, paths) or reaches[0]:
            visible.add(task_id)
    return visible


def get_task(session: Session, actor: User | None, task_id: int) -> Task:
    """A task the actor may see; OutOfScope (404) otherwise."""
    task = session.get(Task, task_id) if isinstance(task_id, int) else None
    if task is None or not task_visible(session, actor, task):
        raise OutOfScope(_("No such task."))
    return task


def live() -> ColumnElement[bool]:
    """SQL: the task was sent (not a draft made from a warning, ``tasks/drafts.py``).
    Every list of live tasks and every deadline check carries it."""
    return Task.draft.is_(False)


def visible_tasks(
    session: Session, actor: User | None, *, limit: int | None = None, drafts: bool = False
) -> list[Task]:
    """Tasks the actor may see, newest first: the sent ones, or (``drafts``) the unsent
    drafts in their scope."""
    q = (
        select(Task)
        .join(Unit, Unit.id == Task.unit_id)
        .where(live() if not drafts else and_(Task.draft.is_(True), Task.closed_at.is_(None)))
        .order_by(Task.created_at.desc(), Task.id.desc())
    )
    paths = None if actor is None else scope.scope_paths(actor, "view")
    if paths is not None:
        team_unit = Unit.__table__.alias("team_unit")
        reached = exists(
            select(TaskTeam.id)
            .join(team_unit, team_unit.c.id == TaskTeam.team_id)
            .where(TaskTeam.task_id == Task.id, scope.paths_clause(paths, team_unit.c.path))
        )
        q = q.where(or_(scope.paths_clause(paths, Unit.path), reached))
    if limit:
        q = q.limit(limit)
    return list(session.scalars(q))


def open_tasks_for_household(session: Session, household_id: int) -> list[tuple[Task, Assignment]]:
    """Tasks not closed that reached this household, newest first, with its assignment
    (one not saved, pending, where it has no row yet: ``tasks/membership.py``)."""
    pairs = [
        (t, a)
        for t, a in session.execute(
            select(Task, Assignment)
            .join(Assignment, Assignment.task_id == Task.id)
            .where(Assignment.household_id == household_id, Task.closed_at.is_(None))
        ).all()
    ]
    open_ = {m.task_id: m for m in membership.open_memberships(session, [household_id])}
    if open_:
        for task in session.scalars(
            select(Task).where(Task.id.in_(open_), Task.closed_at.is_(None))
        ):
            m = open_[task.id]
            pairs.append(
                (task, Assignment(**membership.pending_row(task.id, m.household_id, m.team_id)))
            )
    pairs.sort(key=lambda pair: (pair[0].created_at, pair[0].id), reverse=True)
    return pairs


def task_teams(session: Session, task_id: int) -> list[TaskTeam]:
    """The routing decisions of a task, one per team."""
    return list(
        session.scalars(select(TaskTeam).where(TaskTeam.task_id == task_id).order_by(TaskTeam.id))
    )


def covered_counts(session: Session, task_ids: list[int]) -> dict[int, int]:
    """Households reached (any status but pending) per task."""
    if not task_ids:
        return {}
    reached = membership.counted(REPORTED_STATUSES)
    return {
        task_id: int(n or 0)
        for task_id, n in session.execute(
            select(TaskTeam.task_id, func.sum(reached))
            .where(TaskTeam.task_id.in_(task_ids))
            .group_by(TaskTeam.task_id)
        ).all()
    }


def tasks_read_by(session: Session, user_id: int, task_ids: list[int]) -> set[int]:
    """Which of ``task_ids`` the user has opened (read receipts)."""
    if not task_ids:
        return set()
    return set(
        session.scalars(
            select(NoticeRead.task_id).where(
                NoticeRead.task_id.in_(task_ids), NoticeRead.user_id == user_id
            )
        )
    )


def read_at(session: Session, task_id: int, user_id: int) -> datetime | None:
    """When the user first read the task, if they did."""
    return session.scalar(
        select(NoticeRead.read_at).where(
            NoticeRead.task_id == task_id, NoticeRead.user_id == user_id
        )
    )


def survey_answers(session: Session, task_id: int, household_ids: list[int]) -> dict[int, dict]:
    """The latest survey answers of these households, by household id."""
    if not household_ids:
        return {}
    return dict(
        session.execute(
            select(Assignment.household_id, Assignment.answers).where(
                Assignment.task_id == task_id, Assignment.household_id.in_(household_ids)
            )
        ).all()
    )


def team_summaries(
    session: Session, task_id: int, paths: list[str] | None, limit: int = 500
) -> list[dict]:
    """Per team of the task inside ``paths``: its households and how many are still pending."""
    team = Unit.__table__.alias("team")
    total = membership.counted()
    q = (
        select(team.c.id, team.c.name, total, TaskTeam.pending)
        .select_from(TaskTeam)
        .join(team, team.c.id == TaskTeam.team_id)
        .where(TaskTeam.task_id == task_id, total > 0, scope.paths_clause(paths, team.c.path))
        .order_by(team.c.sort_path)
        .limit(limit)
    )
    return [
        {"id": tid, "name": name, "total": total, "pending": pending}
        for tid, name, total, pending in session.execute(q)
    ]


def team_assignees(session: Session, task_id: int, team_ids: list[int]) -> dict[int, tuple]:
    """Who answers for each of these teams of the task (name, phone), as routed at dispatch."""
    if not team_ids:
        return {}
    return {
        team_id: (name or username or "", phone or "")
        for team_id, name, username, phone in session.execute(
            select(TaskTeam.team_id, User.name, User.username, User.phone)
            .join(User, User.id == TaskTeam.assignee_id)
            .where(TaskTeam.task_id == task_id, TaskTeam.team_id.in_(team_ids))
        )
    }


def dispatch_units(session: Session, actor: User, *, limit: int) -> list[Unit]:
    """Units ``actor`` may send a task to, in tree order; without the teams when
    there are more than ``limit`` (a county: the page lists villages and grids)."""
    q = (
        select(Unit)
        .where(scope.scope_clause(actor, "dispatch"), Unit.kind != "building")
        .order_by(Unit.sort_path)
    )
    units = list(session.scalars(q.limit(limit + 1)))
    if len(units) > limit:
        units = list(session.scalars(q.where(Unit.kind != "team").limit(limit)))
    return units


def focus_unit(session: Session, actor: User, task: Task, unit_id: int | None) -> Unit | None:
    """The unit a task's progress is narrowed to: None when ``unit_id`` is None (the
    whole task as ``actor`` may see it); else the unit, which must lie under the task's
    target and in ``actor``'s scope — otherwise OutOfScope (404), never the whole task."""
    if unit_id is None:
        return None
    unit = session.get(Unit, unit_id)
    if (
        unit is None
        or not scope.is_under(unit.path, task.unit.path)
        or not scope.may(actor, "view", unit)
    ):
        raise OutOfScope(_("This task did not reach that unit."))
    return unit


def focus_paths(actor: User, task: Task, unit: Unit | None) -> list[str]:
    """The subtrees a task's progress reads at ``unit`` (None: the task's target),
    within ``actor``'s scope (a grid member at their village's sweep: their grid)."""
    return scope.narrow(
        scope.scope_paths(actor, "view"), (unit if unit is not None else task.unit).path
    )
