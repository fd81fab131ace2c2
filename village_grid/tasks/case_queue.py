"""The escalation queue people work through: the cases in someone's scope, who
to call about each, acknowledging one ("I am on it": it stops climbing) and
resolving it with what was done. A case is about a household (a call for help) or
about a team (households not reached by the deadline, a notice not read, a silent
lead); either way it names its team (``Escalation.team_id``), whose path scopes it.
The lifecycle (open, climb, resolve) is ``tasks/cases.py``. Acknowledging and
resolving are written to the audit log (one event per case, under the case's
team). Functions flush and never commit.

Besides the people with ``handle_escalations`` over the team, the lead of a
household's team may take up and close its call for help: a lead, grid member or
cadre closes it, never the household's own door plate.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from village_grid.audit.service import record
from village_grid.auth import scope
from village_grid.errors import Conflict, InvalidInput, OutOfScope
from village_grid.models import (
    Assignment,
    Escalation,
    Household,
    NoticeRead,
    Task,
    TaskTeam,
    Unit,
    User,
)
from village_grid.models.base import iso_z, utcnow
from village_grid.tasks import cases, labels
from village_grid.tasks.graph import get_graph
from village_grid.validation import clean_text


def _case_heads(
    actor: User | None, *, open_only: bool, task_id: int | None, team_id: int | None = None
):  # -> a subquery of (id, reason, first_id, top): every row of the cases in view
    """Every escalation row in the actor's view, with its case's first row id (its age)
    and whether it is the case's highest level (``top``)."""
    case = (
        Escalation.task_id,
        Escalation.assignment_id,
        Escalation.task_team_id,
        Escalation.reason,
    )
    q = select(
        Escalation.id,
        Escalation.reason,
        func.min(Escalation.id).over(partition_by=case).label("first_id"),
        func.row_number().over(partition_by=case, order_by=Escalation.level.desc()).label("top"),
    ).join(Unit, Unit.id == Escalation.team_id)
    paths = None if actor is None else scope.scope_paths(actor, "handle_escalations")
    if paths is not None:
        q = q.where(or_(scope.paths_clause(paths, Unit.path), Escalation.assignee_id == actor.id))
    if open_only:
        q = q.where(Escalation.status.in_(labels.OPEN_CASE_STATES))
    if task_id is not None:
        q = q.where(Escalation.task_id == task_id)
    if team_id is not None:
        q = q.where(Escalation.team_id == team_id)
    return q.subquery()


def list_escalations(
    session: Session,
    actor: User | None,
    *,
    open_only: bool = True,
    task_id: int | None = None,
    team_id: int | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[Escalation]:
    """Cases in the actor's scope (by the case's team) or held by them, one row per
    case (its highest level): calls for help first, then the others, the newest case first;
    ``limit`` of them from ``offset`` (a page; :func:`count_escalations` gives the total).
    A case keeps its place when someone acknowledges it: the list does not move under
    the thumb of the person working through it. ``team_id`` keeps one team's cases."""
    heads = _case_heads(actor, open_only=open_only, task_id=task_id, team_id=team_id)
    q = (
        select(Escalation)
        .join(heads, heads.c.id == Escalation.id)
        .where(heads.c.top == 1)
        .order_by(heads.c.reason != "needs_help", heads.c.first_id.desc())
        .offset(offset)
    )
    if limit is not None:
        q = q.limit(limit)
    return list(session.scalars(q))


def count_escalations(
    session: Session, actor: User | None, *, open_only: bool = True, task_id: int | None = None
) -> int:
    """How many cases :func:`list_escalations` lists without a limit."""
    heads = _case_heads(actor, open_only=open_only, task_id=task_id)
    return session.scalar(select(func.count()).select_from(heads).where(heads.c.top == 1)) or 0


def require_escalation(session: Session, actor: User | None, escalation_id: int) -> Escalation:
    """An escalation the actor may handle (assigned to them, in their
    ``handle_escalations`` scope, or a call for help from their own team's household
    when they lead it); OutOfScope (404) otherwise."""
    esc = session.get(Escalation, escalation_id) if isinstance(escalation_id, int) else None
    if esc is None:
        raise OutOfScope(_("No such escalation."))
    if actor is not None and esc.assignee_id != actor.id:
        team = session.get(Unit, esc.team_id)
        if team is None or not (
            scope.may(actor, "handle_escalations", team)
            or (esc.reason in labels.HOUSEHOLD_CASE_REASONS and scope.is_team_lead_for(actor, team))
        ):
            raise OutOfScope(_("No such escalation."))
    return esc


def open_calls_for_help(session: Session, team_id: int) -> list[dict]:
    """A team's open calls for help as the escalation queue describes them, the oldest
    first: what its lead's page lists, each with a form to close it."""
    found = list_escalations(session, None, open_only=True, team_id=team_id)
    helps = [e for e in found if e.reason in labels.HOUSEHOLD_CASE_REASONS]
    return sorted(describe_escalations(session, helps), key=lambda r: r["id"])


def case_path(session: Session, esc: Escalation) -> str | None:
    """The path of the case's team: where the audit log files it."""
    team = session.get(Unit, esc.team_id)
    return team.path if team is not None else None


def acknowledge_escalation(
    session: Session, actor: User | None, escalation_id: int, *, now: datetime | None = None
) -> Escalation:
    """Someone is on it: the case (every level of it) stops climbing."""
    now = now or utcnow()
    esc = require_escalation(session, actor, escalation_id)
    if esc.status == "resolved":
        raise Conflict(_("This case is already resolved."), code="already_resolved")
    acknowledged = False
    for e in session.scalars(select(Escalation).where(cases.subject_of(esc))):
        if e.status == "open":
            e.status = "acknowledged"
            e.acknowledged_at = now
            e.acknowledged_by_id = actor.id if actor is not None else None
            acknowledged = True
        e.next_escalation_at = None
    if acknowledged:
        record(
            session,
            actor,
            "escalation.acknowledge",
            object_type="escalation",
            object_id=esc.id,
            unit_path=case_path(session, esc),
            before={"status": "open"},
            after={"status": "acknowledged"},
        )
    session.flush()
    return esc


def resolve_escalation(
    session: Session,
    actor: User | None,
    escalation_id: int,
    note: str,
    *,
    now: datetime | None = None,
) -> Escalation:
    """Close the case (every level of it) with a note saying what was done."""
    now = now or utcnow()
    note = (note or "").strip() if isinstance(note, str) else ""
    if not note:
        raise InvalidInput(_("Say what was done."), fields={"note": "required"})
    note = clean_text(note, field="note", max_len=labels.NOTE_MAX, label=_("Note"))
    esc = require_escalation(session, actor, escalation_id)
    cases.resolve(session, actor, cases.subject_of(esc), note=note, now=now, acknowledge=True)
    session.refresh(esc)
    return esc


def describe_escalations(session: Session, escalations: list[Escalation]) -> list[dict]:
    """What the escalation queue shows: the task, the team (with its grid) and its
    lead with phones, who holds the case; for a case about a household the household
    (``told`` None), for a notice not read the person told for the team and when
    they read it (``household`` None). One query per kind of thing."""
    if not escalations:
        return []
    g = get_graph(session)

    def by_id(model, ids) -> dict:
        wanted = {i for i in ids if i is not None}
        if not wanted:
            return {}
        return {r.id: r for r in session.scalars(select(model).where(model.id.in_(wanted)))}

    households = by_id(Household, (e.household_id for e in escalations))
    tasks = by_id(Task, (e.task_id for e in escalations))
    assignments = by_id(Assignment, (e.assignment_id for e in escalations))
    task_teams = by_id(TaskTeam, (e.task_team_id for e in escalations))
    told_ids = {t.assignee_id for t in task_teams.values() if t.assignee_id}
    users = by_id(User, {e.assignee_id for e in escalations} | told_ids)
    reads = _read_times(session, task_teams.values())
    unreached = _unreached(session, [e for e in escalations if e.reason == "overdue"])
    out = []
    for e in escalations:
        h = households.get(e.household_id)
        t = tasks.get(e.task_id)
        a = assignments.get(e.assignment_id)
        tt = task_teams.get(e.task_team_id)
        team_id = e.team_id
        node = g.nodes[team_id] if team_id in g else None
        grid = g.nodes[node["parent"]] if node is not None and node["parent"] in g else None
        people = node["people"] if node is not None else []
        lead = next((p for p in people if p.role == "team_lead"), None)
        assignee = users.get(e.assignee_id)
        out.append(
            {
                "id": e.id,
                "task": {
                    "id": e.task_id,
                    "title": t.title if t else "",
                    "kind": t.kind if t else "",
                },
                "reason": e.reason,
                "level": e.level,
                "status": e.status,
                "help_kind": a.help_kind if a else "",
                "note": a.note if a else "",
                "household": _household(h, e.household_id) if e.household_id else None,
                # A team's households not reached (a case about the team being overdue).
                "households": unreached.get((e.task_id, e.team_id), [])
                if e.reason == "overdue"
                else [],
                # What the household's status is now (a later answer does not close a
                # call for help: a person does).
                "status_now": (
                    {
                        "status": a.status,
                        "via": a.updated_via,
                        "at": iso_z(a.updated_at),
                    }
                    if a is not None
                    else None
                ),
                "team": {
                    "id": team_id,
                    "name": node["name"] if node is not None else "",
                    "grid_name": grid["name"] if grid is not None else "",
                    "lead_name": lead.name if lead else "",
                    "lead_phone": lead.phone if lead else "",
                    "lead_available": lead.on_duty if lead else False,
                },
                "told": _told(tt, users, reads) if tt is not None else None,
                "unit": {
                    "id": e.unit_id,
                    "name": g.nodes[e.unit_id]["name"] if e.unit_id in g else "",
                },
                "assignee": {
                    "id": e.assignee_id,
                    "name": assignee.display_name if assignee else "",
                    "phone": assignee.phone or "" if assignee else "",
                },
                "opened_at": iso_z(e.opened_at),
                "acknowledged_at": iso_z(e.acknowledged_at),
                "resolved_at": iso_z(e.resolved_at),
                "resolution_note": e.resolution_note,
            }
        )
    return out


def _unreached(session: Session, escalations: list[Escalation]) -> dict[tuple[int, int], list]:
    """Per (task, team) of these cases, its households still pending, as the queue shows them."""
    out: dict[tuple[int, int], list] = {}
    for task_id in {e.task_id for e in escalations}:
        teams = {e.team_id for e in escalations if e.task_id == task_id}
        for team_id, households in cases.unreached(session, task_id, teams).items():
            out[(task_id, team_id)] = [_household(h, h.id) for h in households]
    return out


def _household(h: Household | None, household_id: int) -> dict:
    return {
        "id": household_id,
        "code": h.code if h else "",
        "head_name": h.head_name if h else "",
        "phone": h.phone if h else "",
        "door_no": h.door_no if h else "",
        "address": h.address if h else "",
    }


def _read_times(session: Session, task_teams) -> dict[tuple[int, int], datetime]:
    """When each person told for these task teams read its notice (if they have)."""
    pairs = {(t.task_id, t.assignee_id) for t in task_teams if t.assignee_id}
    if not pairs:
        return {}
    rows = session.execute(
        select(NoticeRead.task_id, NoticeRead.user_id, NoticeRead.read_at).where(
            NoticeRead.task_id.in_({p[0] for p in pairs}),
            NoticeRead.user_id.in_({p[1] for p in pairs}),
        )
    ).all()
    return {(task_id, user_id): at for task_id, user_id, at in rows}


def _told(tt: TaskTeam, users: dict, reads: dict) -> dict:
    """The person a notice was sent to for a team: who has not read it (or when they did)."""
    person = users.get(tt.assignee_id)
    return {
        "id": tt.assignee_id,
        "name": person.display_name if person else "",
        "phone": (person.phone or "") if person else "",
        "role": tt.assignee_role,
        "read_at": iso_z(reads.get((tt.task_id, tt.assignee_id))),
    }
