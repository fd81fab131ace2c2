"""Reads of the audit page: the audit log and the status reports, merged by time.

Every status report is already an append-only row of ``status_events`` (who, how,
when, from which address; ``tasks/statuses.py``), so the audit log holds no second
row per status: the page reads both and merges them newest first. What a viewer
sees is cut to their "audit" scope (``auth/scope.py``) on the unit each entry is
filed under; an event filed under no unit (e.g. a new administrator) is shown to
administrators only. Nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import literal_column, select, union_all
from sqlalchemy.orm import Session

from village_grid.auditlog.labels import MAX_PAGE, PER_PAGE
from village_grid.auth import scope
from village_grid.models import (
    Assignment,
    AuditEvent,
    Escalation,
    Household,
    MailboxMessage,
    RoleAssignment,
    StatusEvent,
    Task,
    Unit,
    User,
)
from village_grid.tasks.graph import get_graph, team_label

# Entries from the audit log, and status reports from status_events.
AUDIT, STATUS = "audit", "status"
# A field missing from ``before`` (something new) or ``after`` (something removed).
ABSENT = object()


@dataclass
class AuditFilter:
    """What the page asks for. ``start``/``end`` are naive UTC (end exclusive);
    ``system`` asks for entries with no person behind them (the system, a door plate)."""

    unit: Unit | None = None
    actor_id: int | None = None
    system: bool = False
    start: datetime | None = None
    end: datetime | None = None
    page: int = 1


@dataclass
class Entry:
    """One line of the page: an audit event or a status report."""

    source: str
    id: int
    at: datetime
    action: str
    actor_id: int | None
    actor_name: str
    object_type: str
    object_id: int | None
    object_name: str = ""
    unit_id: int | None = None
    unit_name: str = ""
    # (field, before, after) for each field that changed; values as stored, ABSENT
    # where the event has no such side (a creation has no before).
    changes: list[tuple[str, object, object]] = field(default_factory=list)
    client_addr: str = ""
    via: str = ""
    task_kind: str = ""


def _keys(session: Session, viewer: User, flt: AuditFilter) -> list[tuple[str, int]]:
    """(source, id) of the entries on the page asked for, newest first, one more than
    fits (so the page knows there is a next one)."""
    take = min(max(flt.page, 1), MAX_PAGE) * PER_PAGE + 1
    audit = select(
        literal_column(f"'{AUDIT}'").label("src"),
        AuditEvent.id.label("id"),
        AuditEvent.at.label("at"),
    ).where(scope.scope_clause(viewer, "audit", AuditEvent.unit_path))
    status = (
        select(
            literal_column(f"'{STATUS}'").label("src"),
            StatusEvent.id.label("id"),
            StatusEvent.created_at.label("at"),
        )
        .join(Assignment, Assignment.id == StatusEvent.assignment_id)
        .join(Unit, Unit.id == Assignment.team_id)
        .where(scope.scope_clause(viewer, "audit", Unit.path))
    )
    if flt.unit is not None:
        audit = audit.where(scope.subtree_clause(AuditEvent.unit_path, flt.unit.path))
        status = status.where(scope.subtree_clause(Unit.path, flt.unit.path))
    if flt.system:
        audit = audit.where(AuditEvent.actor_id.is_(None))
        status = status.where(StatusEvent.actor_id.is_(None))
    elif flt.actor_id is not None:
        audit = audit.where(AuditEvent.actor_id == flt.actor_id)
        status = status.where(StatusEvent.actor_id == flt.actor_id)
    if flt.start is not None:
        audit = audit.where(AuditEvent.at >= flt.start)
        status = status.where(StatusEvent.created_at >= flt.start)
    if flt.end is not None:
        audit = audit.where(AuditEvent.at < flt.end)
        status = status.where(StatusEvent.created_at < flt.end)
    # Each side keeps only its newest ``take`` before they are merged.
    audit = audit.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(take)
    status = status.order_by(StatusEvent.created_at.desc(), StatusEvent.id.desc()).limit(take)
    both = union_all(select(audit.subquery()), select(status.subquery())).subquery()
    rows = session.execute(
        select(both.c.src, both.c.id)
        .order_by(both.c.at.desc(), both.c.src, both.c.id.desc())
        .offset(take - PER_PAGE - 1)
        .limit(PER_PAGE + 1)
    ).all()
    return [(src, int(row_id)) for src, row_id in rows]


def _audit_entries(session: Session, ids: list[int]) -> dict[int, Entry]:
    if not ids:
        return {}
    out = {}
    for e in session.scalars(select(AuditEvent).where(AuditEvent.id.in_(ids))):
        before, after = e.before or {}, e.after or {}
        fields = [*before, *(k for k in after if k not in before)]
        unit_id = int(e.unit_path.strip("/").rsplit("/", 1)[-1]) if e.unit_path else None
        out[e.id] = Entry(
            source=AUDIT,
            id=e.id,
            at=e.at,
            action=e.action,
            actor_id=e.actor_id,
            actor_name=e.actor_label,
            object_type=e.object_type,
            object_id=e.object_id,
            unit_id=unit_id,
            changes=[(f, before.get(f, ABSENT), after.get(f, ABSENT)) for f in fields],
            client_addr=e.client_addr,
        )
    return out


def _status_entries(session: Session, ids: list[int]) -> dict[int, Entry]:
    if not ids:
        return {}
    rows = session.execute(
        select(StatusEvent, Household.code, Task.title, Task.kind, Assignment.team_id)
        .join(Household, Household.id == StatusEvent.household_id)
        .join(Task, Task.id == StatusEvent.task_id)
        .join(Assignment, Assignment.id == StatusEvent.assignment_id)
        .where(StatusEvent.id.in_(ids))
    ).all()
    teams = _unit_names(session, {row[4] for row in rows})
    out = {}
    for ev, code, title, kind, team_id in rows:
        changes: list[tuple[str, object, object]] = [("status", ABSENT, ev.status)]
        if ev.help_kind:
            changes.append(("help_kind", ABSENT, ev.help_kind))
        if ev.note:
            changes.append(("note", ABSENT, ev.note))
        out[ev.id] = Entry(
            source=STATUS,
            id=ev.id,
            at=ev.created_at,
            action="status",
            actor_id=ev.actor_id,
            actor_name="",
            object_type="household",
            object_id=ev.household_id,
            object_name=f"{code} · {title}",
            unit_id=team_id,
            unit_name=teams.get(team_id, ""),
            changes=changes,
            client_addr=ev.client_addr,
            via=ev.via,
            task_kind=kind,
        )
    return out


def _unit_names(session: Session, ids: set[int]) -> dict[int, str]:
    """Units as people say them: a team with its grid ("第3网格 4小队")."""
    g = get_graph(session)
    found = {i: team_label(g, i) for i in ids if i is not None and i in g}
    return found | _names(session, Unit, Unit.name, {i for i in ids if i not in found})


def _names(session: Session, model, column, ids: set[int]) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return dict(session.execute(select(model.id, column).where(model.id.in_(ids))).all())


def _ids_in(entries: list[Entry], name: str) -> set[int]:
    """Ids an entry's changes hold under the field ``name``."""
    return {
        value
        for e in entries
        for f, before, after in e.changes
        if f == name
        for value in (before, after)
        if isinstance(value, int) and not isinstance(value, bool)
    }


def _named(name: str, value: object, people: dict[int, str], places: dict[int, str]) -> object:
    found = {"user_id": people, "unit_id": places}.get(name, {})
    if isinstance(value, int) and not isinstance(value, bool) and value in found:
        return f"{found[value]} (#{value})"
    return value


def _object_names(session: Session, entries: list[Entry]) -> None:
    """Name each entry's object and unit: one query per kind of object on the page."""
    wanted: dict[str, set[int]] = {}
    for e in entries:
        if e.object_id is not None and not e.object_name:
            wanted.setdefault(e.object_type, set()).add(e.object_id)
    names: dict[str, dict[int, str]] = {
        "unit": _unit_names(session, wanted.get("unit", set())),
        "household": _names(session, Household, Household.code, wanted.get("household", set())),
        "task": _names(session, Task, Task.title, wanted.get("task", set())),
        "mailbox": _names(
            session, MailboxMessage, MailboxMessage.tracking_no, wanted.get("mailbox", set())
        ),
        "user": _names(session, User, User.username, wanted.get("user", set())),
    }
    if wanted.get("escalation"):
        # A case is about a household, or about a team (a notice not read).
        rows = session.execute(
            select(Escalation.id, Household.code, Escalation.team_id, Task.title)
            .outerjoin(Household, Household.id == Escalation.household_id)
            .join(Task, Task.id == Escalation.task_id)
            .where(Escalation.id.in_(wanted["escalation"]))
        ).all()
        teams = _unit_names(session, {team_id for _i, _c, team_id, _t in rows})
        names["escalation"] = {
            i: f"{code or teams.get(team_id, '')} · {title}" for i, code, team_id, title in rows
        }
    units = _unit_names(session, {e.unit_id for e in entries if not e.unit_name})
    actor_ids = {e.actor_id for e in entries if e.source == STATUS and e.actor_id is not None}
    actors = (
        {
            i: name or username
            for i, name, username in session.execute(
                select(User.id, User.name, User.username).where(User.id.in_(actor_ids))
            )
        }
        if actor_ids
        else {}
    )
    # Ids inside before/after (a role's person and unit) read as names too.
    people = _names(session, User, User.username, _ids_in(entries, "user_id"))
    places = _unit_names(session, _ids_in(entries, "unit_id"))
    for e in entries:
        e.changes = [
            (f, _named(f, b, people, places), _named(f, a, people, places)) for f, b, a in e.changes
        ]
        if e.object_type == "role" and not e.object_name:
            e.object_name = next(
                (str(v) for f, b, a in e.changes if f == "username" for v in (a, b) if v),
                "",
            )
        if not e.object_name and e.object_id is not None:
            e.object_name = names.get(e.object_type, {}).get(e.object_id, f"#{e.object_id}")
        if not e.unit_name and e.unit_id is not None:
            e.unit_name = units.get(e.unit_id, "")
        if e.source == STATUS and e.actor_id is not None:
            e.actor_name = actors.get(e.actor_id, "")


def audit_page(session: Session, viewer: User, flt: AuditFilter) -> tuple[list[Entry], bool]:
    """The entries of one page, newest first, and whether an older page follows."""
    keys = _keys(session, viewer, flt)
    more = len(keys) > PER_PAGE
    keys = keys[:PER_PAGE]
    audit = _audit_entries(session, [i for src, i in keys if src == AUDIT])
    status = _status_entries(session, [i for src, i in keys if src == STATUS])
    entries = [(audit if src == AUDIT else status).get(i) for src, i in keys]
    found = [e for e in entries if e is not None]
    _object_names(session, found)
    return found, more


def people_for_filter(session: Session, viewer: User, limit: int = 500) -> list[User]:
    """People holding a role where ``viewer`` may read the audit log, by name."""
    return list(
        session.scalars(
            select(User)
            .join(RoleAssignment, RoleAssignment.user_id == User.id)
            .outerjoin(Unit, Unit.id == RoleAssignment.unit_id)
            .where(scope.scope_clause(viewer, "audit", Unit.path))
            .distinct()
            .order_by(User.name, User.username)
            .limit(limit)
        )
    )


def units_for_filter(session: Session, viewer: User, limit: int = 500) -> list[Unit]:
    """Units above the teams where ``viewer`` may read the audit log, in tree order.
    (A team is reached from an entry's unit link.)"""
    return list(
        session.scalars(
            select(Unit)
            .where(scope.scope_clause(viewer, "audit"))
            .where(Unit.kind.not_in(("team", "building")))
            .order_by(Unit.sort_path)
            .limit(limit)
        )
    )
