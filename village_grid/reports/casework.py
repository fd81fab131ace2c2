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


def _team_cases(session: Session, where: tuple) -> tuple[list[list[Escalation]], int, dict]:
    """The cases about a team (not a call for help: overdue, unread, silent), counted by
    the database — a district's sweep past its deadline has one per team, a hundred
    thousand: the first CASES_LISTED of them as levels; how many in all; the ids the
    outbox's keys name (the cases' levels and task teams), read as plain numbers."""
    not_help = Escalation.reason != "needs_help"
    key = (Escalation.task_team_id, Escalation.reason)
    total = session.scalar(
        select(func.count()).select_from(
            select(*key)
            .join(Unit, Unit.id == Escalation.team_id)
            .where(*where, not_help)
            .group_by(*key)
            .subquery()
        )
    )
    first = session.execute(
        select(*key)
        .join(Unit, Unit.id == Escalation.team_id)
        .where(*where, not_help)
        .group_by(*key)
        .order_by(func.min(Escalation.opened_at), func.min(Escalation.id))
        .limit(CASES_LISTED)
    ).all()
    wanted = set(first)
    levels = []
    for chunk in case_rules.chunks(sorted({tt for tt, _r in wanted if tt is not None})):
        levels += [
            e
            for e in _levels(session, where, not_help, Escalation.task_team_id.in_(chunk))
            if (e.task_team_id, e.reason) in wanted
        ]
    ids: dict[str, set[int]] = {"cases": set(), "task_teams": set()}
    for case_id, task_team_id in session.execute(
        select(Escalation.id, Escalation.task_team_id)
        .join(Unit, Unit.id == Escalation.team_id)
        .where(*where, not_help)
        .execution_options(yield_per=5000)
    ):
        ids["cases"].add(case_id)
        if task_team_id is not None:
            ids["task_teams"].add(task_team_id)
    return _grouped(levels), int(total or 0), ids


def casework(session: Session, task_id: int, paths: list[str] | None, end: datetime) -> dict:
    """The report's calls for help and escalations (up to CASES_LISTED of each). Calls for
    help are read whole (the longest open is among them); the cases about a team are
    counted by the database and only those listed are read."""
    where = _within(task_id, paths, end)
    help_levels = _levels(session, where, Escalation.reason == "needs_help")
    team_groups, team_total, team_ids = _team_cases(session, where)
    team_levels = [e for case in team_groups for e in case]
    levels = [*help_levels, *team_levels]
    # The teams (with their grid) and the units each level reached, as people say them.
    names = labels_of(session, [e.team_id for e in levels] + [e.unit_id for e in levels])
    people = case_rules.names(
        session, [e.assignee_id for e in levels] + [e.resolved_by_id for e in levels]
    )
    who = {uid: u.display_name for uid, u in people.items()}
    groups = sorted([*_grouped(help_levels), *team_groups], key=lambda c: (c[0].opened_at, c[0].id))
    assignment_ids = [c[0].assignment_id for c in groups if c[0].assignment_id]
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
    help_teams = sorted({e.team_id for e in help_levels})
    leads: dict[int, int | None] = {}
    for chunk in case_rules.chunks(help_teams):
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

    help_rows, climbed = [], []
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
            help_rows.append(
                {
                    **row,
                    "household": code,
                    "door_no": door_no,
                    "help_kind": help_kind,
                    "note": note,
                    "told": list(dict.fromkeys(told)),
                }
            )
        # A call for help opens at two levels at once: it climbed if a level came later.
        if first.reason != "needs_help" or any(e.opened_at > first.opened_at for e in case):
            climbed.append(row)
    longest = max(help_rows, key=lambda r: r["open_minutes"] or 0, default=None)
    return {
        "help": help_rows[:CASES_LISTED],
        "help_total": len(help_rows),
        "help_open": sum(1 for r in help_rows if r["still_open"]),
        "longest": longest,
        "escalations": climbed[:CASES_LISTED],
        # The calls for help that climbed, and every case about a team.
        "escalations_total": len(climbed) - len(team_groups) + team_total,
        "case_ids": team_ids["cases"] | {e.id for e in help_levels},
        "assignment_ids": assignment_ids,
        "task_team_ids": team_ids["task_teams"]
        | {e.task_team_id for e in help_levels if e.task_team_id},
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


def messages(session: Session, task: Task, found: dict) -> dict:
    """What the outbox holds for the task's events (its dispatch, teams overdue, the
    report's own message, and the cases ``found`` by :func:`casework`): sent, failed,
    waiting; sent after a retry. The outbox keys are ``tasks/messages.py``'s and
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
    wanted = {
        "cases": set(found["case_ids"]),
        "assignments": set(found["assignment_ids"]),
        "task_teams": set(found["task_team_ids"]),
    }
    if any(wanted.values()):
        for key, status, attempts in session.execute(
            select(OutboxMessage.event_key, OutboxMessage.status, OutboxMessage.attempts).where(
                OutboxMessage.created_at >= task.created_at,
                or_(*(OutboxMessage.event_key.like(f"{kind}:%") for kind in CASE_KEYS)),
            )
            .execution_options(yield_per=5000)
        ):
            if _case_message(key, wanted):
                add(status, attempts, 1)
    counts["total"] = counts["sent"] + counts["failed"] + counts["pending"]
    return counts
