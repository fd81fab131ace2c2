"""Notices nobody opened: a case about a team whose notice was not read by the deadline.

A notice (a missing child, say) reaches one person per team: its lead, or whom
routing fell back to (``task_teams.assignee_id``). If that person has not read it
by the notice's deadline, a case opens about the team (reason ``unread``,
``tasks/cases.py``) at its grid member — the first person on duty above the team
other than the one who has not read it — and climbs to the village cadre and on
unless someone acknowledges it. It ends ("Read") as soon as that person reads the
notice: in the same transaction as the read receipt (``statuses.mark_notice_read``),
and on the next run of the checks for a read that raced with the case opening.
Closing the notice ends it too. Functions flush and never commit.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

import networkx as nx
from flask import current_app
from flask_babel import force_locale
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from village_grid.models import Escalation, NoticeRead, Task, TaskTeam, User
from village_grid.tasks import cases, labels

REASON = "unread"


def _read_by_told():
    """SQL: the person told for the task team has read its notice."""
    return exists().where(
        NoticeRead.task_id == TaskTeam.task_id, NoticeRead.user_id == TaskTeam.assignee_id
    )


def open_cases(session: Session, g: nx.DiGraph, now: datetime, wait: timedelta) -> list[int]:
    """Level 1 for every team of an open notice past its deadline whose person told
    has not read it. The unique (task team, reason, level) makes a second run a no-op."""
    due = session.execute(
        select(TaskTeam.id, TaskTeam.task_id, TaskTeam.team_id, TaskTeam.assignee_id, Task.deadline)
        .join(Task, Task.id == TaskTeam.task_id)
        .where(
            Task.kind == "notice",
            Task.closed_at.is_(None),
            Task.deadline.is_not(None),
            Task.deadline <= now,
            TaskTeam.assignee_id.is_not(None),
            ~_read_by_told(),
            ~exists().where(Escalation.task_team_id == TaskTeam.id, Escalation.reason == REASON),
        )
    ).all()
    rows = []
    for task_team_id, task_id, team_id, told_id, deadline in due:
        subject = cases.Subject(task_id, team_id, task_team_id=task_team_id, about_id=told_id)
        rows += cases.first_levels(g, REASON, subject, now=now, since=deadline, wait=wait)
    return cases.open_rows(session, rows)


def settle(
    session: Session,
    actor: User | None,
    now: datetime,
    *,
    task_id: int | None = None,
    reader_id: int | None = None,
) -> int:
    """End every unread case whose person told has read the notice (of ``task_id``, read
    by ``reader_id``, when given): by the reader, at the time they read it, with the note
    "Read" (``actor``: the reader, or None for the deadline checks). Returns how many
    cases ended."""
    q = (
        select(Escalation.task_team_id, NoticeRead.user_id, NoticeRead.read_at)
        .join(TaskTeam, TaskTeam.id == Escalation.task_team_id)
        .join(
            NoticeRead,
            (NoticeRead.task_id == TaskTeam.task_id) & (NoticeRead.user_id == TaskTeam.assignee_id),
        )
        .where(Escalation.reason == REASON, Escalation.status.in_(labels.OPEN_CASE_STATES))
    )
    if task_id is not None:
        q = q.where(Escalation.task_id == task_id)
    if reader_id is not None:
        q = q.where(TaskTeam.assignee_id == reader_id)
    read: dict[tuple[int, datetime], set[int]] = defaultdict(set)
    for task_team_id, user_id, read_at in session.execute(q):
        read[(user_id, min(read_at, now) if read_at else now)].add(task_team_id)
    if not read:
        return 0
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        note = str(labels.READ_NOTE)
    return sum(
        cases.resolve(
            session,
            actor,
            cases.team_cases_of(task_teams, (REASON,)),
            note=note,
            now=at,
            by_id=user_id,
        )
        for (user_id, at), task_teams in read.items()
    )
