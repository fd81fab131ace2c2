"""Cases in a report (``tasks/cases.py`` keeps one row per level a case reached): calls
for help — when raised, who was told, when and how each was closed, the longest open —
and escalations — what climbed, how far, how long each level held it — and the messages
the task's events queued (notify's outbox): sent, failed, sent after a retry, waiting."""

from __future__ import annotations

import math
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from village_grid.auth import scope
from village_grid.hierarchy.queries import labels_of
from village_grid.models import (
    Assignment,
    Escalation,
    Household,
    OutboxMessage,
    Task,
    TaskTeam,
    Unit,
)
from village_grid.reports.labels import CASES_LISTED
from village_grid.tasks import cases as case_rules

# Outbox keys that name the task (``<kind>:<task>:…``) and those that name a case of it.
TASK_KEYS = ("dispatch", "overdue", "report")
CASE_KEYS = ("help", "climb", "unread", "silent")


def _minutes(start: datetime, end: datetime | None) -> int | None:
    if end is None:
        return None
    return max(0, math.ceil((end - start).total_seconds() / 60))


def _within(task_id: int, paths: list[str] | None, end: datetime) -> tuple:
    """The levels of the task's cases about a team within ``paths``, opened by ``end``
    (with a join to the team's unit)."""
    return (
        Escalation.task_id == task_id,
        Escalation.opened_at <= end,
        scope.paths_clause(paths, Unit.path),
    )


def _levels(session: Session, where: tuple, *more) -> list[Escalation]:
    """The levels ``where`` (and ``more``) holds, oldest first."""
    return session.scalars(
        select(Escalation)
        .join(Unit, Unit.id == Escalation.team_id)
        .where(*where, *more)
        .order_by(Escalation.opened_at, Escalation.id)
    ).all()


def _grouped(levels: list[Escalation]) -> list[list[Escalation]]:
    """The levels of each case (subject and reason), in the order the cases opened."""
    out: dict[tuple, list[Escalation]] = {}
    for e in levels:
        key = (e.assignment_id, e.task_team_id, e.reason)
        out.setdefault(key, []).append(e)
    return [sorted(v, key=lambda e: e.level) for v in out.values()]


def _levels_of(session: Session, where: tuple, more, column, ids: list[int]) -> list:
    """The levels ``where`` and ``more`` hold whose ``column`` is one of ``ids``."""
    out: list[Escalation] = []
    for chunk in case_rules.chunks(sorted(ids)):
        out += _levels(session, where, more, column.in_(chunk))
    return out


def _help_cases(session: Session, where: tuple, end: datetime) -> tuple[list, dict]:
    """Calls for help, one row each from the database (when the first and the last level
    opened, when it was first closed): how many, how many open, how many climbed, and the
    levels of only those the report lists — the first CASES_LISTED, the first
    CASES_LISTED that climbed, the longest open."""
    is_help = Escalation.reason == "needs_help"
    rows = session.execute(
        select(
            Escalation.assignment_id,
            func.min(Escalation.opened_at),
            func.max(Escalation.opened_at),
            func.min(Escalation.resolved_at),
        )
        .join(Unit, Unit.id == Escalation.team_id)
        .where(*where, is_help)
        .group_by(Escalation.assignment_id)
        .order_by(func.min(Escalation.opened_at), func.min(Escalation.id))
    ).all()
    # A call for help opens at two levels at once: it climbed if a level came later.
    climbed = [r for r in rows if r[2] > r[1]]
    longest = max(rows, key=lambda r: (r[3] or end) - r[1], default=None)
    wanted = {r[0] for r in rows[:CASES_LISTED]} | {r[0] for r in climbed[:CASES_LISTED]}
    wanted |= {longest[0]} if longest else set()
    levels = _levels_of(session, where, is_help, Escalation.assignment_id, list(wanted))
    counts = {
        "help_total": len(rows),
        "help_open": sum(1 for r in rows if r[3] is None),
        "help_climbed": len(climbed),
        "longest": longest[0] if longest else None,
    }
    return _grouped(levels), counts


def _team_cases(session: Session, where: tuple) -> tuple[list, int]:
    """The cases about a team (not a call for help: overdue, unread, silent), counted by
    the database — a district's sweep past its deadline has one per team, a hundred
    thousand: the levels of the first CASES_LISTED of them; how many in all."""
    not_help = Escalation.reason != "needs_help"
    key = (Escalation.task_team_id, Escalation.reason)
    cases = (
        select(*key)
        .join(Unit, Unit.id == Escalation.team_id)
        .where(*where, not_help)
        .group_by(*key)
    )
    total = session.scalar(select(func.count()).select_from(cases.subquery()))
    first = set(
        session.execute(
            cases.order_by(func.min(Escalation.opened_at), func.min(Escalation.id)).limit(
                CASES_LISTED
            )
        ).all()
    )
    levels = _levels_of(
        session, where, not_help, Escalation.task_team_id, [tt for tt, _r in first if tt]
    )
    return _grouped([e for e in levels if (e.task_team_id, e.reason) in first]), int(total or 0)


def _message_ids(session: Session, where: tuple) -> dict[str, set[int]]:
    """What the outbox keys of the cases ``where`` holds name (tasks/escalation.py): every
    level's id, its household's assignment, its task team; read as plain numbers, a batch
    at a time, and let go once the messages are counted."""
    ids: dict[str, set[int]] = {"cases": set(), "assignments": set(), "task_teams": set()}
    for case_id, assignment_id, task_team_id in session.execute(
        select(Escalation.id, Escalation.assignment_id, Escalation.task_team_id)
        .join(Unit, Unit.id == Escalation.team_id)
        .where(*where)
        .execution_options(yield_per=5000)
    ):
        ids["cases"].add(case_id)
        if assignment_id is not None:
            ids["assignments"].add(assignment_id)
        if task_team_id is not None:
            ids["task_teams"].add(task_team_id)
    return ids


def casework(session: Session, task_id: int, paths: list[str] | None, end: datetime) -> dict:
    """The report's calls for help and escalations (up to CASES_LISTED of each), counted
    by the database; only the levels of the cases listed are read."""
    where = _within(task_id, paths, end)
    help_groups, help_counts = _help_cases(session, where, end)
    team_groups, team_total = _team_cases(session, where)
    levels = [e for case in (*help_groups, *team_groups) for e in case]
    # The teams (with their grid) and the units each level reached, as people say them.
    names = labels_of(session, [e.team_id for e in levels] + [e.unit_id for e in levels])
    people = case_rules.names(
        session, [e.assignee_id for e in levels] + [e.resolved_by_id for e in levels]
    )
    who = {uid: u.display_name for uid, u in people.items()}
    groups = sorted([*help_groups, *team_groups], key=lambda c: (c[0].opened_at, c[0].id))
    assignment_ids = [c[0].assignment_id for c in help_groups]
    households: dict[int, tuple] = {}
    for chunk in case_rules.chunks(assignment_ids):
        for a_id, code, door_no, help_kind, note in session.execute(
            select(
                Assignment.id,
                Household.code,
                Household.door_no,
                Assignment.help_kind,
                Assignment.note,
            )
            .join(Household, Household.id == Assignment.household_id)
            .where(Assignment.id.in_(chunk))
        ):
            households[a_id] = (code, door_no or "", help_kind, note)
    leads: dict[int, int | None] = {}
    for chunk in case_rules.chunks(sorted({c[0].team_id for c in help_groups})):
        leads.update(
            session.execute(
                select(TaskTeam.team_id, TaskTeam.assignee_id).where(
                    TaskTeam.task_id == task_id, TaskTeam.team_id.in_(chunk)
                )
            ).all()
        )
    lead_names = case_rules.names(session, leads.values())

    def level_rows(case: list[Escalation]) -> list[dict]:
        rows = []
        for i, e in enumerate(case):
            # Held until the case reached a level above it later (a call for help
            # opens two levels at once), or until it was closed.
            later = next((n.opened_at for n in case[i + 1 :] if n.opened_at > e.opened_at), None)
            until = later or e.resolved_at or end
            rows.append(
                {
                    "level": e.level,
                    "unit": names.get(e.unit_id, ""),
                    "person": who.get(e.assignee_id, ""),
                    "opened_at": e.opened_at,
                    "acknowledged_at": e.acknowledged_at,
                    "held_minutes": _minutes(e.opened_at, until),
                }
            )
        return rows

    help_rows, climbed, longest = [], [], None
    for case in groups:
        first, top = case[0], case[-1]
        resolved = next((e for e in case if e.resolved_at), None)
        closed_at = resolved.resolved_at if resolved else None
        row = {
            "reason": first.reason,
            "team": names.get(first.team_id, ""),
            "opened_at": first.opened_at,
            "closed_at": closed_at,
            "closed_by": who.get(resolved.resolved_by_id, "") if resolved else "",
            "how": resolved.resolution_note if resolved else "",
            "open_minutes": _minutes(first.opened_at, closed_at or end),
            "still_open": closed_at is None,
            "levels": level_rows(case),
            "top_level": top.level,
            "top_unit": names.get(top.unit_id, ""),
        }
        if first.reason == "needs_help":
            code, door_no, help_kind, note = households.get(first.assignment_id, ("", "", "", ""))
            lead = lead_names.get(leads.get(first.team_id))
            told = [lead.display_name] if lead else []
            told += [r["person"] for r in row["levels"] if r["person"]]
            row = {
                **row,
                "household": code,
                "door_no": door_no,
                "help_kind": help_kind,
                "note": note,
                "told": list(dict.fromkeys(told)),
            }
            help_rows.append(row)
            if first.assignment_id == help_counts["longest"]:
                longest = row
        if first.reason != "needs_help" or any(e.opened_at > first.opened_at for e in case):
            climbed.append(row)
    return {
        "help": help_rows[:CASES_LISTED],
        "help_total": help_counts["help_total"],
        "help_open": help_counts["help_open"],
        "longest": longest,
        "escalations": climbed[:CASES_LISTED],
        # The calls for help that climbed, and every case about a team.
        "escalations_total": help_counts["help_climbed"] + team_total,
    }


def _case_message(key: str, found: dict) -> bool:
    """Is the outbox key one of a case ``found`` holds: ``help:<case>:<event>``,
    ``help:lead:<assignment>:<event>``, ``climb:<case>``, ``unread:<task team>:<level>``,
    ``silent:<task team>:<level>`` (the keys of ``tasks/escalation.py``)."""
    parts = key.split(":")
    try:
        if parts[0] == "help" and parts[1] == "lead":
            return int(parts[2]) in found["assignments"]
        if parts[0] in ("help", "climb"):
            return int(parts[1]) in found["cases"]
        return int(parts[1]) in found["task_teams"]
    except (IndexError, ValueError):
        return False


def messages(session: Session, task: Task, paths: list[str] | None, end: datetime) -> dict:
    """What the outbox holds for the task's events (its dispatch, teams overdue, the
    report's own message, and its cases within ``paths`` opened by ``end``): sent,
    failed, waiting; sent after a retry. The outbox keys are ``tasks/messages.py``'s and
    ``tasks/escalation.py``'s; a case's carry the case's id, not the task's, so those
    queued since the task was sent are read and kept when they are the task's."""
    counts = {"sent": 0, "failed": 0, "pending": 0, "retried": 0}

    def add(status: str, attempts: int, n: int) -> None:
        counts[status] = counts.get(status, 0) + n
        if status == "sent" and attempts > 1:
            counts["retried"] += n

    own = or_(
        *(OutboxMessage.event_key.like(f"{kind}:{task.id}:%") for kind in TASK_KEYS),
    )
    for status, attempts, n in session.execute(
        select(OutboxMessage.status, OutboxMessage.attempts, func.count())
        .where(own)
        .group_by(OutboxMessage.status, OutboxMessage.attempts)
    ):
        add(status, attempts, n)
    wanted = _message_ids(session, _within(task.id, paths, end))
    if any(wanted.values()):
        for key, status, attempts in session.execute(
            select(OutboxMessage.event_key, OutboxMessage.status, OutboxMessage.attempts)
            .where(
                OutboxMessage.created_at >= task.created_at,
                or_(*(OutboxMessage.event_key.like(f"{kind}:%") for kind in CASE_KEYS)),
            )
            .execution_options(yield_per=5000)
        ):
            if _case_message(key, wanted):
                add(status, attempts, 1)
    counts["total"] = counts["sent"] + counts["failed"] + counts["pending"]
    return counts
