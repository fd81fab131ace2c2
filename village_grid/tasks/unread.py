"""Notices nobody opened: a case about a team whose notice was not read by the deadline.

A notice (a missing child, say) reaches one person per team: its lead, or whom
routing fell back to (``task_teams.assignee_id``). If that person has not read it
by the notice's deadline, a case opens about the team (``escalations.task_team_id``,
reason ``unread``) at its grid member — the first person on duty above the team
other than the one who has not read it — and climbs to the village cadre and on,
one level per ``ESCALATION_INTERVAL_MINUTES``, unless someone acknowledges it.
It ends (resolved, "Read") as soon as that person reads the notice: in the same
transaction as the read receipt (``statuses.mark_notice_read``), and on the next
run of the checks for a read that raced with the case opening. Closing the notice
resolves it too (``dispatch.close_task``).

One message per case and level, to the person holding it. The deadline checks
(``escalation.run_escalations``) call :func:`open_cases`, :func:`climb` and
:func:`enqueue`; the audit log gets their counts per task, and an
``escalation.resolve`` event for each case a read ended. Functions flush and
never commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import networkx as nx
from flask import current_app
from flask_babel import force_locale
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from village_grid.audit.service import record
from village_grid.database import insert_ignore
from village_grid.models import Escalation, NoticeRead, Task, TaskTeam, Unit, User
from village_grid.notify import service as notify
from village_grid.tasks import labels, messages, team_cases

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
        first = team_cases.stop(g, team_id, 1, told_id)
        parent = g.nodes[team_id]["parent"] if team_id in g else None
        nxt = deadline + wait if team_cases.stop(g, team_id, 2, told_id) else None
        rows.append(
            team_cases.case_row(REASON, task_id, task_team_id, team_id, 1, first, parent, now, nxt)
        )
    return [r[0] for r in insert_ignore(session, Escalation, rows, Escalation.id)]


def climb(
    session: Session, g: nx.DiGraph, now: datetime, wait: timedelta, rounds: int
) -> list[int]:
    """Open unread cases nobody acknowledged climb one level per interval, while the
    notice is open (a read has already resolved them: :func:`settle`)."""
    return team_cases.climb(session, g, REASON, now, wait, rounds)


def settle(
    session: Session,
    actor: User | None,
    now: datetime,
    *,
    task_id: int | None = None,
    reader_id: int | None = None,
) -> int:
    """Resolve every unread case whose person told has read the notice (of
    ``task_id``, read by ``reader_id``, when given): every level, with the note
    "Read", by the reader at the time they read it. One ``escalation.resolve``
    audit event per case (``actor``: the reader, or None for the deadline checks).
    Returns the number of cases ended."""
    q = (
        select(Escalation, NoticeRead.user_id, NoticeRead.read_at, Unit.path)
        .join(TaskTeam, TaskTeam.id == Escalation.task_team_id)
        .join(
            NoticeRead,
            (NoticeRead.task_id == TaskTeam.task_id) & (NoticeRead.user_id == TaskTeam.assignee_id),
        )
        .join(Unit, Unit.id == Escalation.team_id)
        # Not "!= resolved": the status index serves an IN, and resolved cases pile up.
        .where(Escalation.reason == REASON, Escalation.status.in_(("open", "acknowledged")))
        .order_by(Escalation.task_team_id, Escalation.level)
    )
    if task_id is not None:
        q = q.where(Escalation.task_id == task_id)
    if reader_id is not None:
        q = q.where(TaskTeam.assignee_id == reader_id)
    found = session.execute(q).all()
    if not found:
        return 0
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        note = str(labels.READ_NOTE)
    cases: dict[int, tuple[Escalation, str, str | None]] = {}
    for esc, user_id, read_at, path in found:
        if esc.task_team_id not in cases:
            cases[esc.task_team_id] = (esc, esc.status, path)
        esc.status = "resolved"
        esc.resolved_at = min(read_at, now) if read_at else now
        esc.resolved_by_id = user_id
        esc.resolution_note = note
        esc.next_escalation_at = None
    for esc, was, path in cases.values():
        record(
            session,
            actor,
            "escalation.resolve",
            object_type="escalation",
            object_id=esc.id,
            unit_path=path,
            before={"status": was},
            after={"status": "resolved", "resolution_note": note},
        )
    session.flush()
    return len(cases)


def enqueue(session: Session, ids: list[int], g: nx.DiGraph) -> dict[int, dict[str, int]]:
    """One message per new unread case level, to whom holds it. Returns per task how
    many cases opened ("unread") and climbed ("unread_climbed"), for the audit log."""
    if not ids:
        return {}
    rows, users, tasks = team_cases.new_cases(session, ids)
    per_task: dict[int, dict[str, int]] = {}
    outbox = []
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        for task_id, task_team_id, team_id, level, holder_id, told_id, told_role in rows:
            key = REASON if level == 1 else f"{REASON}_climbed"
            counts = per_task.setdefault(task_id, {})
            counts[key] = counts.get(key, 0) + 1
            told = users.get(told_id)
            holder = users.get(holder_id)
            outbox.append(
                messages.unread_message(
                    tasks[task_id],
                    g,
                    team_id=team_id,
                    told_name=told.display_name if told else "",
                    told_phone=(told.phone or "") if told else "",
                    told_role=told_role,
                    assignee_id=holder_id,
                    assignee_name=holder.display_name if holder else "",
                    key=f"unread:{task_team_id}:{level}",
                )
            )
    notify.enqueue_many(session, outbox)
    return per_task
