"""Cases climbing the tree by themselves: a call for help goes at once to the
grid member and the village cadre; a household still pending at the deadline
goes to the grid member; so does a notice its team's lead had not read by the
deadline (``tasks/unread.py``); a case nobody acknowledges climbs one more level
every ``ESCALATION_INTERVAL_MINUTES``. Whom each level reaches is routing's
decision (``routing.escalation_stop``).

The queue people work through (list, acknowledge, resolve) is in
``tasks/cases.py``. The audit log gets an ``escalation.open`` event per call for
help (under the household's team), and per task and run of the deadline checks
one ``escalation.open`` (overdue and unread cases opened) and one
``escalation.climb`` (cases that climbed) with their counts — never one event per household. Functions
flush and never commit.
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
from village_grid.field import silent
from village_grid.models import Assignment, Escalation, Household, StatusEvent, Task, User
from village_grid.models.base import utcnow
from village_grid.notify import service as notify
from village_grid.tasks import membership, messages, routing, team_cases, unread
from village_grid.tasks.graph import get_graph
from village_grid.tasks.queries import live

# Levels a case may climb in one run (county → township → village → grid is four).
MAX_CLIMB_PER_RUN = 12


def interval() -> timedelta:
    """How long a case waits at one level before it climbs to the next."""
    return timedelta(minutes=int(current_app.config["ESCALATION_INTERVAL_MINUTES"]))


def _default_locale() -> str:
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def _stop(g: nx.DiGraph, team_id: int, level: int) -> routing.Stop | None:
    return routing.escalation_stop(g, team_id, level) if team_id in g else None


def _case_row(
    task_id, assignment_id, household_id, team_id, reason, level, unit_id, assignee_id, now, nxt
):
    return {
        "task_id": task_id,
        "assignment_id": assignment_id,
        "household_id": household_id,
        "team_id": team_id,
        "reason": reason,
        "level": level,
        "unit_id": unit_id,
        "assignee_id": assignee_id,
        "status": "open",
        "opened_at": now,
        "next_escalation_at": nxt,
        "resolution_note": "",
    }


def open_help_case(
    session: Session, task: Task, assignment: Assignment, event: StatusEvent, now: datetime
) -> None:
    """A call for help goes at once to the first two levels above the team
    (grid member and village cadre), and climbs further if nobody acknowledges.
    Asked again after it was handled, the case opens again."""
    g = get_graph(session)
    team_id = assignment.team_id
    stops = [s for s in (_stop(g, team_id, 1), _stop(g, team_id, 2)) if s]
    parent = g.nodes[team_id]["parent"] if team_id in g else None
    wait = interval()
    has_next = _stop(g, team_id, len(stops) + 1) is not None
    targets = [(i + 1, s.unit_id, s.person.id) for i, s in enumerate(stops)] or [(1, parent, None)]
    rows = [
        _case_row(
            task.id,
            assignment.id,
            assignment.household_id,
            team_id,
            "needs_help",
            level,
            unit_id,
            assignee_id,
            now,
            now + wait if level == len(targets) and has_next else None,
        )  # fmt: skip
        for level, unit_id, assignee_id in targets
    ]
    opened = insert_ignore(session, Escalation, rows, Escalation.id)
    cases = list(
        session.scalars(
            select(Escalation)
            .where(Escalation.assignment_id == assignment.id, Escalation.reason == "needs_help")
            .order_by(Escalation.level)
        )
    )
    reopened_from = None
    for esc in cases:
        if esc.status != "open":  # asked again after it was handled: open it again
            reopened_from = reopened_from or esc.status
            esc.status = "open"
            esc.opened_at = now
            esc.acknowledged_at = esc.acknowledged_by_id = None
            esc.resolved_at = esc.resolved_by_id = None
        if esc.level == len(targets) and has_next and esc.next_escalation_at is None:
            esc.next_escalation_at = now + wait
    session.flush()
    if opened or reopened_from:
        record(
            session,
            None,
            "escalation.open",
            object_type="escalation",
            object_id=cases[0].id if cases else None,
            unit_path=g.nodes[team_id]["path"] if team_id in g else None,
            before={"status": reopened_from} if reopened_from else None,
            after={"status": "open", "reason": "needs_help", "help_kind": assignment.help_kind},
        )
    household = session.get(Household, assignment.household_id)
    names = _names(session, {esc.assignee_id for esc in cases})
    with force_locale(_default_locale()):
        outbox = [
            messages.case_message(
                esc,
                task,
                household,
                g,
                help_kind=assignment.help_kind,
                assignee_name=names.get(esc.assignee_id, ""),
                key=f"help:{esc.id}:{event.id}",
            )  # fmt: skip
            for esc in cases
            if esc.level <= len(targets)
        ]
    notify.enqueue_many(session, outbox)


def _names(session: Session, user_ids: set[int | None]) -> dict[int, str]:
    ids = {i for i in user_ids if i}
    if not ids:
        return {}
    return {u.id: u.display_name for u in session.scalars(select(User).where(User.id.in_(ids)))}


def run_escalations(session: Session, now: datetime | None = None) -> int:
    """Deadline checks; safe to run every minute, any number of times.

    A household still pending at its task's deadline escalates one level (to
    the grid member), and so does a team whose lead has not read a notice by
    its deadline (``tasks/unread.py``) and a lead silent on a sweep
    (``field/silent.py``); an open case nobody acknowledged climbs
    one more level every ``ESCALATION_INTERVAL_MINUTES`` after that. The unique
    (assignment or task team, reason, level) makes a second run with the same
    clock a no-op. Returns the number of escalations created.
    """
    now = now or utcnow()
    g = get_graph(session)
    wait = interval()
    created = _open_overdue(session, g, now) + _climb(session, g, now)
    unread.settle(session, None, now)  # a notice read meanwhile: its case ends, climbs no more
    unread_created = unread.open_cases(session, g, now, wait)
    unread_created += unread.climb(session, g, now, wait, MAX_CLIMB_PER_RUN)
    silent.settle(session, now)  # a silent lead heard from meanwhile: the case ends
    silent_created = silent.open_cases(session, g, now, wait)
    silent_created += silent.climb(session, g, now, wait, MAX_CLIMB_PER_RUN)
    per_task = _enqueue(session, created, g) if created else {}
    for task_id, counts in unread.enqueue(session, unread_created, g).items():
        per_task.setdefault(task_id, {}).update(counts)
    for task_id, counts in silent.enqueue(session, silent_created, g, now).items():
        per_task.setdefault(task_id, {}).update(counts)
    _audit(session, per_task)
    session.flush()
    return len(created) + len(unread_created) + len(silent_created)


def _audit(session: Session, per_task: dict[int, dict[str, int]]) -> None:
    """One ``escalation.open`` and one ``escalation.climb`` event per task, with counts
    (the system did it: no actor), under the unit the task was sent to."""
    for task_id, counts in per_task.items():
        task = session.get(Task, task_id)
        path = task.unit.path if task is not None else None
        opened = {
            k: n for k, n in counts.items() if k in ("overdue", unread.REASON, silent.REASON) and n
        }
        climbed = {k: n for k, n in counts.items() if k.endswith("_climbed") and n}
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


def _open_overdue(session: Session, g: nx.DiGraph, now: datetime) -> list[int]:
    """Level 1 of a case for every household still pending at its task's deadline
    (their teams frozen first: every household pending then gets its row)."""
    wait = interval()
    created: list[int] = []
    membership.freeze_due(session, now)
    overdue_tasks = session.scalars(
        select(Task).where(
            Task.closed_at.is_(None),
            live(),
            Task.deadline.is_not(None),
            Task.deadline <= now,
            Task.kind != "notice",
        )
    ).all()
    for task in overdue_tasks:
        pending = session.execute(
            select(Assignment.id, Assignment.household_id, Assignment.team_id).where(
                Assignment.task_id == task.id,
                Assignment.status == "pending",
                ~exists(
                    select(Escalation.id).where(
                        Escalation.assignment_id == Assignment.id,
                        Escalation.reason == "overdue",
                    )
                ),
            )
        ).all()
        stops: dict[int, tuple] = {}
        rows = []
        for assignment_id, household_id, team_id in pending:
            if team_id not in stops:
                first = _stop(g, team_id, 1)
                stops[team_id] = (
                    first.unit_id
                    if first
                    else (g.nodes[team_id]["parent"] if team_id in g else None),
                    first.person.id if first else None,
                    _stop(g, team_id, 2) is not None,
                )
            unit_id, assignee_id, has_next = stops[team_id]
            rows.append(
                _case_row(
                    task.id,
                    assignment_id,
                    household_id,
                    team_id,
                    "overdue",
                    1,
                    unit_id,
                    assignee_id,
                    now,
                    task.deadline + wait if has_next else None,
                )  # fmt: skip
            )
        created += [r[0] for r in insert_ignore(session, Escalation, rows, Escalation.id)]
    return created


def _climb(session: Session, g: nx.DiGraph, now: datetime) -> list[int]:
    """Open cases nobody acknowledged climb, one level per interval. Plain columns and
    set-based updates: this may touch every household of a county."""
    wait = interval()
    conn = session.connection()
    created: list[int] = []
    stops: dict[tuple[int, int], routing.Stop | None] = {}

    def stop_at(team_id: int, level: int) -> routing.Stop | None:
        if (team_id, level) not in stops:
            stops[(team_id, level)] = _stop(g, team_id, level)
        return stops[(team_id, level)]

    for _round in range(MAX_CLIMB_PER_RUN):
        due = conn.execute(
            select(
                Escalation.id,
                Escalation.task_id,
                Escalation.assignment_id,
                Escalation.household_id,
                Escalation.reason,
                Escalation.level,
                Escalation.next_escalation_at,
                Assignment.team_id,
                Assignment.status,
                Task.closed_at,
            )
            .join(Assignment, Assignment.id == Escalation.assignment_id)
            .join(Task, Task.id == Escalation.task_id)
            .where(Escalation.status == "open", Escalation.next_escalation_at <= now)
        ).all()
        if not due:
            break
        rows = []
        for (
            _esc_id, task_id, assignment_id, household_id, reason, level, next_at, team_id,
            status, closed_at,
        ) in due:  # fmt: skip
            stop = stop_at(team_id, level + 1)
            still = not (reason == "overdue" and (status != "pending" or closed_at))
            if stop is not None and still:
                rows.append(
                    _case_row(
                        task_id,
                        assignment_id,
                        household_id,
                        team_id,
                        reason,
                        level + 1,
                        stop.unit_id,
                        stop.person.id,
                        now,
                        next_at + wait if stop_at(team_id, level + 2) else None,
                    )  # fmt: skip
                )
        team_cases.stop_climbing(session, [row[0] for row in due])
        created += [r[0] for r in insert_ignore(session, Escalation, rows, Escalation.id)]
    return created


def _enqueue(session: Session, ids: list[int], g: nx.DiGraph) -> dict[int, dict[str, int]]:
    """Messages for new escalations: one per call for help; overdue households
    grouped per task, level and person (one message listing them). Reads plain
    columns: a county-wide sweep can escalate 100,000 households at once.
    Returns per task how many cases opened ("overdue") and climbed
    ("overdue_climbed", "needs_help_climbed": cases, however many levels), for the
    audit log."""
    per_task: dict[int, dict[str, set[str]]] = {}
    help_ids: list[int] = []
    # (task, level, assignee) -> [count, first id, up to HOUSEHOLDS_NAMED "code name" strings]
    groups: dict[tuple, list] = {}
    conn = session.connection()
    for chunk in team_cases.chunks(ids):
        rows = conn.execute(
            select(
                Escalation.id,
                Escalation.reason,
                Escalation.level,
                Escalation.assignee_id,
                Escalation.task_id,
                Household.code,
                Household.head_name,
            )
            .join(Household, Household.id == Escalation.household_id)
            .where(Escalation.id.in_(chunk))
        ).all()
        for esc_id, reason, level, assignee_id, task_id, code, head_name in rows:
            key = reason if level == 1 else f"{reason}_climbed"
            per_task.setdefault(task_id, {}).setdefault(key, set()).add(code)
            if reason == "needs_help":
                help_ids.append(esc_id)
                continue
            group = groups.setdefault((task_id, level, assignee_id), [0, esc_id, []])
            group[0] += 1
            group[1] = min(group[1], esc_id)
            if len(group[2]) < messages.HOUSEHOLDS_NAMED:
                group[2].append(f"{code} {head_name}")
    outbox = []
    with force_locale(_default_locale()):
        for esc_id in help_ids:
            esc = session.get(Escalation, esc_id)
            assignment = session.get(Assignment, esc.assignment_id)
            outbox.append(
                messages.case_message(
                    esc,
                    session.get(Task, esc.task_id),
                    session.get(Household, esc.household_id),
                    g,
                    help_kind=assignment.help_kind if assignment else "",
                    assignee_name=_names(session, {esc.assignee_id}).get(esc.assignee_id, ""),
                    key=f"climb:{esc.id}",
                )
            )
        for (task_id, level, assignee_id), (n, first, named) in groups.items():
            outbox.append(
                messages.overdue_message(
                    session.get(Task, task_id),
                    level=level,
                    assignee_id=assignee_id,
                    assignee_name=_names(session, {assignee_id}).get(assignee_id, ""),
                    count=n,
                    named=named,
                    key=f"overdue:{task_id}:{level}:{assignee_id}:{first}",
                )
            )
    notify.enqueue_many(session, outbox)
    return {t: {key: len(codes) for key, codes in keys.items()} for t, keys in per_task.items()}
