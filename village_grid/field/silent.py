"""Team leads who have gone silent: listed for the cadre, then escalated to the grid member.

A sweep reaches each team through one person (``task_teams.assignee_id``). When that
person is the team's lead, the team still has households to confirm, and the lead's
phone has shown no sign of life (``field/signs.py``: the page opened, a tap, a sync)
for ``LEAD_SILENT_MINUTES`` since the dispatch or since its last sign, the lead is
*silent*: the progress page lists them with their phone and their grid member's
(:func:`silent_leads`). Silent for as long again, the lead becomes a case about the
team (``escalations.task_team_id``, reason ``silent``) at the grid member — routing's
first stop above the team, passing over the lead — "call the lead", which climbs to
the village cadre and on every ``ESCALATION_INTERVAL_MINUTES`` unless someone
acknowledges it, like every other case (``tasks/unread.py`` is its twin for notices).
It ends ("Heard from the team lead") at the next check after the lead's phone shows
life, or when the team has nobody left to confirm; closing the sweep ends it too.

The deadline checks (``tasks.escalation.run_escalations``) call :func:`settle`,
:func:`open_cases`, :func:`climb` and :func:`enqueue`; their counts go to the audit
log per task, and each case a sign of life ended gets an ``escalation.resolve``
event. Every function takes its clock (``now``). Functions flush and never commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import networkx as nx
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from village_grid.audit.service import record
from village_grid.auth import scope
from village_grid.database import insert_ignore
from village_grid.field.labels import SILENT_LISTED, SILENT_REASON, SILENT_TASK_KINDS
from village_grid.models import Escalation, FieldSign, Task, TaskTeam, Unit, User
from village_grid.notify import service as notify
from village_grid.tasks import labels, messages, routing, team_cases
from village_grid.tasks.graph import get_graph
from village_grid.tasks.queries import live

REASON = SILENT_REASON


def silent_after() -> timedelta | None:
    """How long without a sign of life makes a lead silent (``LEAD_SILENT_MINUTES``;
    0 turns the watch off)."""
    minutes = int(current_app.config["LEAD_SILENT_MINUTES"])
    return timedelta(minutes=minutes) if minutes > 0 else None


def _silent_rows(session: Session, task_ids, cutoff: datetime, paths=None, limit=None) -> list:
    """(task team, task, team, lead, pending, last sign, its kind, dispatched) for every
    team of these tasks told through its lead, with households pending, and no sign
    of life from the lead since ``cutoff`` (nor a dispatch after it)."""
    rows = []
    for ids in team_cases.chunks(task_ids):
        q = (
            select(
                TaskTeam.id,
                TaskTeam.task_id,
                TaskTeam.team_id,
                TaskTeam.assignee_id,
                TaskTeam.pending,
                FieldSign.last_at,
                FieldSign.last_kind,
                Task.created_at,
            )
            .join(Task, Task.id == TaskTeam.task_id)
            .join(Unit, Unit.id == TaskTeam.team_id)
            .outerjoin(
                FieldSign,
                and_(
                    FieldSign.task_id == TaskTeam.task_id,
                    FieldSign.user_id == TaskTeam.assignee_id,
                ),
            )
            .where(
                TaskTeam.task_id.in_(ids),
                TaskTeam.pending > 0,
                TaskTeam.assignee_role == "team_lead",
                TaskTeam.assignee_id.is_not(None),
                Task.created_at <= cutoff,
                or_(FieldSign.last_at.is_(None), FieldSign.last_at <= cutoff),
                scope.paths_clause(paths, Unit.path),
            )
            .order_by(Unit.path)
        )
        if limit is not None:
            q = q.limit(limit)
        rows += session.execute(q).all()
    return rows


def _on_duty(g: nx.DiGraph, team_id: int, person_id: int) -> routing.Person | None:
    """The lead as the graph knows them now, if still on duty on that team (a lead
    marked away since the dispatch is away, not silent)."""
    if team_id not in g:
        return None
    person = next((p for p in g.nodes[team_id]["people"] if p.id == person_id), None)
    return person if person is not None and person.on_duty else None


def silent_leads(
    session: Session, task: Task, *, actor: User | None = None, now: datetime
) -> list[dict]:
    """The silent leads of ``task`` in ``actor``'s scope, in tree order: each with the
    team (and its grid), the lead and the grid member to call (name, phone), the
    households still to confirm, the last sign of life (None: never), minutes of
    silence, and whom a case about it has reached (``case``: None if none is open)."""
    after = silent_after()
    if after is None or task.kind not in SILENT_TASK_KINDS or task.closed_at is not None:
        return []
    cutoff = now - after
    if task.created_at > cutoff:
        return []
    paths = None if actor is None else scope.scope_paths(actor, "view")
    g = get_graph(session)
    rows = _silent_rows(session, [task.id], cutoff, paths, limit=SILENT_LISTED)
    cases = _open_cases_of(session, task.id)
    holders = _users(session, {holder for _level, holder in cases.values() if holder})
    out = []
    for task_team_id, _task_id, team_id, lead_id, pending, last_at, last_kind, sent in rows:
        lead = _on_duty(g, team_id, lead_id)
        if lead is None:
            continue
        node = g.nodes[team_id]
        grid = g.nodes[node["parent"]] if node["parent"] in g else None
        above = team_cases.stop(g, team_id, 1, lead_id)
        level, holder = cases.get(task_team_id, (0, None))
        since = last_at or sent
        out.append(
            {
                "task_team_id": task_team_id,
                "team_id": team_id,
                "team_name": node["name"],
                "grid_name": grid["name"] if grid is not None else "",
                "lead": {"id": lead.id, "name": lead.name, "phone": lead.phone},
                "above": {
                    "name": above.person.name if above else "",
                    "phone": above.person.phone if above else "",
                    "role": above.role if above else "",
                },
                "pending": pending,
                "last_seen_at": last_at,
                "last_kind": last_kind or "",
                "silent_minutes": int((now - since).total_seconds() // 60),
                "case": ({"level": level, "holder": holders.get(holder, "")} if level else None),
            }
        )
    # Tree order (grid 2 before grid 10): paths compare as text, ids as numbers.
    pos = routing.flat_tree(g)["pos"]
    return sorted(out, key=lambda r: pos.get(r["team_id"], len(pos)))


def _users(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {u.id: u.display_name for u in session.scalars(select(User).where(User.id.in_(ids)))}


def _open_cases_of(session: Session, task_id: int) -> dict[int, tuple[int, int | None]]:
    """Per task team of the task: the highest level an open silent case reached, and
    who holds it there."""
    rows = session.execute(
        select(Escalation.task_team_id, Escalation.level, Escalation.assignee_id)
        .where(
            Escalation.task_id == task_id,
            Escalation.reason == REASON,
            Escalation.status.in_(("open", "acknowledged")),
        )
        .order_by(Escalation.level)
    ).all()
    return {tt: (level, holder) for tt, level, holder in rows}


def open_cases(session: Session, g: nx.DiGraph, now: datetime, wait: timedelta) -> list[int]:
    """Level 1 (the grid member) for every lead silent for twice ``LEAD_SILENT_MINUTES``
    on an open sweep, once per lead and sweep (the unique task team, reason and level)."""
    after = silent_after()
    if after is None:
        return []
    cutoff = now - 2 * after
    task_ids = list(
        session.scalars(
            select(Task.id).where(
                Task.kind.in_(SILENT_TASK_KINDS),
                Task.closed_at.is_(None),
                live(),
                Task.created_at <= cutoff,
            )
        )
    )
    if not task_ids:
        return []
    had = set(
        session.scalars(
            select(Escalation.task_team_id).where(
                Escalation.task_id.in_(task_ids), Escalation.reason == REASON
            )
        )
    )
    rows = []
    for task_team_id, task_id, team_id, lead_id, *_rest in _silent_rows(session, task_ids, cutoff):
        if task_team_id in had or _on_duty(g, team_id, lead_id) is None:
            continue
        first = team_cases.stop(g, team_id, 1, lead_id)
        parent = g.nodes[team_id]["parent"]
        nxt = now + wait if team_cases.stop(g, team_id, 2, lead_id) else None
        rows.append(
            team_cases.case_row(REASON, task_id, task_team_id, team_id, 1, first, parent, now, nxt)
        )
    return [r[0] for r in insert_ignore(session, Escalation, rows, Escalation.id)]


def climb(
    session: Session, g: nx.DiGraph, now: datetime, wait: timedelta, rounds: int
) -> list[int]:
    """Open silent cases nobody acknowledged climb one level per interval while the
    sweep is open (a sign of life has already ended them: :func:`settle`)."""
    return team_cases.climb(session, g, REASON, now, wait, rounds)


def settle(session: Session, now: datetime) -> int:
    """End every silent case whose lead's phone showed life since it opened ("Heard
    from the team lead"), or whose team has nobody left to confirm ("Every household
    is confirmed."): every level, by nobody (the checks noticed). One
    ``escalation.resolve`` audit event per case. Returns the number of cases ended."""
    found = session.execute(
        select(Escalation, FieldSign.last_at, Unit.path)
        .join(TaskTeam, TaskTeam.id == Escalation.task_team_id)
        .join(Unit, Unit.id == Escalation.team_id)
        .outerjoin(
            FieldSign,
            and_(FieldSign.task_id == TaskTeam.task_id, FieldSign.user_id == TaskTeam.assignee_id),
        )
        .where(Escalation.reason == REASON, Escalation.status.in_(("open", "acknowledged")))
        .order_by(Escalation.task_team_id, Escalation.level)
    ).all()
    if not found:
        return 0
    task_ids = {esc.task_id for esc, _at, _path in found}
    pending = {
        (task_id, team_id)
        for task_id, team_id in session.execute(
            select(TaskTeam.task_id, TaskTeam.team_id).where(
                TaskTeam.task_id.in_(task_ids), TaskTeam.pending > 0
            )
        )
    }
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        heard = str(labels.HEARD_NOTE)
        confirmed = _("Every household is confirmed.")
    opened: dict[int, datetime] = {}
    for esc, _at, _path in found:
        opened.setdefault(esc.task_team_id, esc.opened_at)
    ending: dict[int, tuple[Escalation, str, str, str | None]] = {}
    for esc, last_at, path in found:
        tt = esc.task_team_id
        if last_at is not None and last_at > opened[tt]:
            note = heard
        elif (esc.task_id, esc.team_id) not in pending:
            note = confirmed
        else:
            continue
        ending.setdefault(tt, (esc, esc.status, note, path))
    for esc, _at, _path in found:
        if esc.task_team_id in ending:
            esc.status = "resolved"
            esc.resolved_at = now
            esc.resolved_by_id = None
            esc.resolution_note = ending[esc.task_team_id][2]
            esc.next_escalation_at = None
    for esc, was, note, path in ending.values():
        record(
            session,
            None,
            "escalation.resolve",
            object_type="escalation",
            object_id=esc.id,
            unit_path=path,
            before={"status": was},
            after={"status": "resolved", "resolution_note": note},
        )
    session.flush()
    return len(ending)


def enqueue(session: Session, ids: list[int], g: nx.DiGraph, now: datetime) -> dict[int, dict]:
    """One message per new silent case level, to whom holds it ("call the lead").
    Returns per task how many cases opened ("silent") and climbed ("silent_climbed")."""
    if not ids:
        return {}
    rows, users, tasks = team_cases.new_cases(session, ids)
    pending = {
        (task_id, team_id): n
        for task_id, team_id, n in session.execute(
            select(TaskTeam.task_id, TaskTeam.team_id, TaskTeam.pending).where(
                TaskTeam.task_id.in_(tasks),
                TaskTeam.team_id.in_({r[2] for r in rows}),
                TaskTeam.pending > 0,
            )
        )
    }
    signs = {
        (task_id, user_id): at
        for task_id, user_id, at in session.execute(
            select(FieldSign.task_id, FieldSign.user_id, FieldSign.last_at).where(
                FieldSign.task_id.in_(tasks), FieldSign.user_id.in_({r[5] for r in rows})
            )
        )
    }
    per_task: dict[int, dict[str, int]] = {}
    outbox = []
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        for task_id, task_team_id, team_id, level, holder_id, lead_id, _role in rows:
            key = REASON if level == 1 else f"{REASON}_climbed"
            counts = per_task.setdefault(task_id, {})
            counts[key] = counts.get(key, 0) + 1
            task = tasks[task_id]
            since = signs.get((task_id, lead_id)) or task.created_at
            outbox.append(
                silent_message(
                    task,
                    g,
                    team_id=team_id,
                    lead=users.get(lead_id),
                    pending=pending.get((task_id, team_id), 0),
                    minutes=int((now - since).total_seconds() // 60),
                    holder=users.get(holder_id),
                    key=f"silent:{task_team_id}:{level}",
                )
            )
    notify.enqueue_many(session, outbox)
    return per_task


def silent_message(
    task: Task,
    g: nx.DiGraph,
    *,
    team_id: int,
    lead: User | None,
    pending: int,
    minutes: int,
    holder: User | None,
    key: str,
) -> dict:
    """ "Call the lead": to the person holding a silent case (``holder`` None: nobody on duty)."""
    team = g.nodes[team_id] if team_id in g else None
    grid = g.nodes[team["parent"]] if team is not None and team["parent"] in g else None
    where = " ".join(n for n in (grid["name"] if grid else "", team["name"] if team else "") if n)
    text = _(
        "[%(kind)s] %(title)s: team lead %(name)s %(phone)s has not been heard from for %(minutes)s min, %(pending)s households not confirmed. Please call them. Team %(team)s. %(link)s",
        kind=labels.kind_label(task.kind, task.subkind),
        title=task.title,
        name=lead.display_name if lead else "",
        phone=(lead.phone or "") if lead else "",
        minutes=minutes,
        pending=pending,
        team=where,
        link=messages.task_link(task.id),
    )
    name = holder.display_name if holder else _("nobody on duty")
    return {
        "event_key": key,
        "recipient_id": holder.id if holder else None,
        "recipient_label": name[:100],
        "body": (f"@{name} " if holder else "") + text,
        "priority": notify.SOON,
    }
