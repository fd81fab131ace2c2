"""Cases opening by themselves, and who is told: a call for help goes at once to the
team's lead (or whoever answers for the team), its grid member and the village cadre;
at a task's deadline a team with households still unconfirmed becomes one case naming
them, at its grid member; so does a notice not read by its deadline
(``tasks/unread.py``) and a lead silent on a sweep (``tasks/silent.py``). A case nobody
acknowledged climbs one more level every ``ESCALATION_INTERVAL_MINUTES``
(``tasks/cases.py``, which holds the lifecycle); whom each level reaches is routing's
decision.

The queue people work through (list, acknowledge, resolve) is ``tasks/case_queue.py``.
The audit log gets an ``escalation.open`` event per call for help (under the
household's team), and per task and run of the deadline checks one
``escalation.open`` (cases opened) and one ``escalation.climb`` (cases that climbed)
with their counts — never one event per household. Functions flush and never commit.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import networkx as nx
from flask import current_app
from flask_babel import force_locale
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from village_grid.audit.service import record
from village_grid.database import chunks
from village_grid.models import (
    Assignment,
    Escalation,
    FieldSign,
    Household,
    StatusEvent,
    Task,
    TaskTeam,
)
from village_grid.models.base import utcnow
from village_grid.notify import service as notify
from village_grid.tasks import cases, membership, messages, routing, silent, unread
from village_grid.tasks.graph import get_graph
from village_grid.tasks.queries import live

# A call for help reaches this many levels above the team at once (grid member, cadre).
HELP_LEVELS = 2


def _default_locale() -> str:
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def open_help_case(
    session: Session, task: Task, assignment: Assignment, event: StatusEvent, now: datetime
) -> tuple[str, ...]:
    """A call for help: a case at the first two levels above the team (grid member and
    village cadre) that climbs further if nobody acknowledges it, and a message at once
    to each of them and to the team's own lead (when on duty, and not the one who
    reported it). Asked again after it was handled, the case opens again. Returns the
    roles told, nearest first (what the household is shown)."""
    g = get_graph(session)
    team_id = assignment.team_id
    subject = cases.Subject(
        task.id, team_id, assignment_id=assignment.id, household_id=assignment.household_id
    )
    wait = cases.interval()
    rows = cases.first_levels(
        g, "needs_help", subject, levels=HELP_LEVELS, now=now, since=now, wait=wait
    )
    opened = cases.open_rows(session, rows)
    levels = list(
        session.scalars(
            select(Escalation)
            .where(Escalation.assignment_id == assignment.id, Escalation.reason == "needs_help")
            .order_by(Escalation.level)
        )
    )
    top = len(rows)
    # Asked again after it was handled: the case opens again.
    reopened_from = cases.reopen(session, levels, now, climbs_at=rows[-1]["next_escalation_at"])
    if opened or reopened_from:
        record(
            session,
            None,
            "escalation.open",
            object_type="escalation",
            object_id=levels[0].id if levels else None,
            unit_path=g.nodes[team_id]["path"] if team_id in g else None,
            before={"status": reopened_from} if reopened_from else None,
            after={"status": "open", "reason": "needs_help", "help_kind": assignment.help_kind},
        )
    household = session.get(Household, assignment.household_id)
    told = [esc for esc in levels if esc.level <= top]
    people = cases.names(session, {esc.assignee_id for esc in told})
    team = routing.responsible_cached(g, team_id) if team_id in g else None
    lead = team.assignee if team is not None and team.unit_id == team_id else None
    if lead is not None and lead.id == event.actor_id:
        lead = None  # the lead reported it: they know
    with force_locale(_default_locale()):
        outbox = [
            messages.help_message(
                task,
                household,
                g,
                help_kind=assignment.help_kind,
                holder=people.get(esc.assignee_id),
                holder_id=esc.assignee_id,
                key=f"help:{esc.id}:{event.id}",
            )
            for esc in told
        ]
        if lead is not None and lead.id not in {esc.assignee_id for esc in told}:
            outbox.append(
                messages.help_message(
                    task,
                    household,
                    g,
                    help_kind=assignment.help_kind,
                    holder=None,
                    holder_id=lead.id,
                    holder_name=lead.name,
                    key=f"help:lead:{assignment.id}:{event.id}",
                )
            )
    notify.enqueue_many(session, outbox)
    roles = ([team.role] if lead is not None else []) + [
        _role_of(g, esc.unit_id, people.get(esc.assignee_id)) for esc in told if esc.assignee_id
    ]
    return tuple(dict.fromkeys(roles))


def _role_of(g: nx.DiGraph, unit_id: int | None, person) -> str:
    """The role of whom a case level reached, as routing names it."""
    node = g.nodes[unit_id] if unit_id in g else None
    if node is None or person is None:
        return ""
    found = next((p for p in node["people"] if p.id == person.id), None)
    return routing.role_label(g, unit_id, found.role) if found else ""


def run_escalations(session: Session, now: datetime | None = None) -> int:
    """Deadline checks; safe to run every minute, any number of times.

    A team with households still pending at its task's deadline becomes one case (at
    the grid member), and so does a team whose lead has not read a notice by its
    deadline (``tasks/unread.py``) and a lead silent on a sweep (``tasks/silent.py``);
    an open case nobody acknowledged climbs one more level every
    ``ESCALATION_INTERVAL_MINUTES`` after that. The unique (subject, reason, level)
    makes a second run with the same clock a no-op. Returns the number of case levels
    created."""
    now = now or utcnow()
    g = get_graph(session)
    wait = cases.interval()
    unread.settle(session, None, now)  # a notice read meanwhile: its case ends, climbs no more
    silent.settle(session, now)  # a silent lead heard from meanwhile: the case ends
    created = _open_overdue(session, g, now)
    created += unread.open_cases(session, g, now, wait)
    created += silent.open_cases(session, g, now, wait)
    created += cases.climb(session, g, now)
    per_task = tell(session, g, created, now)
    _audit(session, per_task)
    session.flush()
    return len(created)


def _open_overdue(session: Session, g: nx.DiGraph, now: datetime) -> list[int]:
    """Level 1 of one case for every team with households still pending at its task's
    deadline (their teams frozen first: every household pending then gets its row)."""
    membership.freeze_due(session, now)
    due = session.execute(
        select(TaskTeam.id, TaskTeam.task_id, TaskTeam.team_id, Task.deadline)
        .join(Task, Task.id == TaskTeam.task_id)
        .where(
            Task.closed_at.is_(None),
            live(),
            Task.deadline.is_not(None),
            Task.deadline <= now,
            Task.kind != "notice",
            TaskTeam.pending > 0,
            ~exists().where(Escalation.task_team_id == TaskTeam.id, Escalation.reason == "overdue"),
        )
    ).all()
    wait = cases.interval()
    rows = []
    for task_team_id, task_id, team_id, deadline in due:
        subject = cases.Subject(task_id, team_id, task_team_id=task_team_id)
        rows += cases.first_levels(g, "overdue", subject, now=now, since=deadline, wait=wait)
    return cases.open_rows(session, rows)


def tell(
    session: Session, g: nx.DiGraph, ids: list[int], now: datetime
) -> dict[int, dict[str, int]]:
    """The messages of new case levels ``ids``, to whom holds each: one per call for
    help, notice not read and silent lead; teams not reached grouped per task, level and
    person (one message naming the teams and their households). Returns per task how
    many cases opened (by reason) and climbed ("<reason>_climbed"), for the audit log."""
    per_task: dict[int, dict[str, set]] = defaultdict(lambda: defaultdict(set))
    if not ids:
        return {}
    rows = []
    for chunk in chunks(sorted(ids)):
        rows += session.execute(
            select(
                Escalation.id,
                Escalation.task_id,
                Escalation.reason,
                Escalation.level,
                Escalation.assignee_id,
                Escalation.team_id,
                Escalation.household_id,
                Escalation.task_team_id,
                TaskTeam.assignee_id,
                TaskTeam.assignee_role,
                TaskTeam.pending,
            )
            .outerjoin(TaskTeam, TaskTeam.id == Escalation.task_team_id)
            .where(Escalation.id.in_(chunk))
            .order_by(Escalation.id)
        ).all()
    tasks = {
        t.id: t for t in session.scalars(select(Task).where(Task.id.in_({r[1] for r in rows})))
    }
    people = cases.names(session, {r[4] for r in rows} | {r[8] for r in rows})
    overdue: dict[tuple, list] = defaultdict(list)
    outbox = []
    with force_locale(_default_locale()):
        for (
            esc_id, task_id, reason, level, holder_id, team_id, household_id, task_team_id,
            about_id, about_role, pending,
        ) in rows:  # fmt: skip
            case = (household_id, task_team_id)  # a case counts once, however far it climbed
            per_task[task_id][reason if level == 1 else f"{reason}_climbed"].add(case)
            task = tasks[task_id]
            holder = people.get(holder_id)
            if reason == "overdue":
                overdue[(task_id, level, holder_id)].append((esc_id, team_id, pending))
            elif reason == "needs_help":
                assignment = session.scalar(
                    select(Assignment).where(
                        Assignment.task_id == task_id, Assignment.household_id == household_id
                    )
                )
                outbox.append(
                    messages.help_message(
                        task,
                        session.get(Household, household_id),
                        g,
                        help_kind=assignment.help_kind if assignment else "",
                        holder=holder,
                        holder_id=holder_id,
                        key=f"climb:{esc_id}",
                    )
                )
            elif reason == "unread":
                outbox.append(
                    messages.unread_message(
                        task,
                        g,
                        team_id=team_id,
                        told=people.get(about_id),
                        told_role=about_role,
                        holder=holder,
                        holder_id=holder_id,
                        key=f"unread:{task_team_id}:{level}",
                    )
                )
            elif reason == "silent":
                outbox.append(
                    messages.silent_message(
                        task,
                        g,
                        team_id=team_id,
                        lead=people.get(about_id),
                        pending=pending or 0,
                        minutes=_silent_minutes(session, task, about_id, now),
                        holder=holder,
                        holder_id=holder_id,
                        key=f"silent:{task_team_id}:{level}",
                    )
                )
        for (task_id, level, holder_id), teams in overdue.items():
            named = {
                team_id: [f"{h.code} {h.head_name}" for h in households]
                for team_id, households in cases.unreached(
                    session, task_id, [t for _e, t, _p in teams[: messages.TEAMS_NAMED]]
                ).items()
            }
            outbox.append(
                messages.overdue_message(
                    tasks[task_id],
                    g,
                    level=level,
                    holder=people.get(holder_id),
                    holder_id=holder_id,
                    teams=[(t, p or 0, named.get(t, [])) for _e, t, p in teams],
                    key=f"overdue:{task_id}:{level}:{holder_id}:{min(e for e, _t, _p in teams)}",
                )
            )
    notify.enqueue_many(session, outbox)
    return {t: {k: len(v) for k, v in counts.items()} for t, counts in per_task.items()}


def _silent_minutes(session: Session, task: Task, lead_id: int | None, now: datetime) -> int:
    """Minutes since the lead's last sign of life on the task (or its dispatch)."""
    last = session.scalar(
        select(FieldSign.last_at).where(FieldSign.task_id == task.id, FieldSign.user_id == lead_id)
    )
    return int((now - (last or task.created_at)).total_seconds() // 60)


def _audit(session: Session, per_task: dict[int, dict[str, int]]) -> None:
    """One ``escalation.open`` and one ``escalation.climb`` event per task, with counts
    (the system did it: no actor), under the unit the task was sent to."""
    for task_id, counts in per_task.items():
        task = session.get(Task, task_id)
        path = task.unit.path if task is not None else None
        opened = {
            k: n for k, n in counts.items() if not k.endswith("_climbed") and k != "needs_help"
        }
        climbed = {k: n for k, n in counts.items() if k.endswith("_climbed")}
        for action, after in (("escalation.open", opened), ("escalation.climb", climbed)):
            if after:
                record(
                    session,
                    None,
                    action,
                    object_type="task",
                    object_id=task_id,
                    unit_path=path,
                    after=after,
                )
