"""Cases in a report (``tasks/cases.py`` keeps one row per level a case reached): calls
for help — when raised, who was told, when and how each was closed, the longest open —
and escalations — what climbed, how far, how long each level held it — and the messages
the task's events queued (notify's outbox): sent, failed, sent after a retry, waiting."""

from __future__ import annotations

import math
from datetime import datetime

import networkx as nx
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from village_grid.auth import scope
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
from village_grid.tasks.graph import team_label

# Outbox keys that name the task (``<kind>:<task>:…``) and those that name a case of it.
TASK_KEYS = ("dispatch", "overdue", "report")
CASE_KEYS = ("help", "climb", "unread", "silent")


def _minutes(start: datetime, end: datetime | None) -> int | None:
    if end is None:
        return None
    return max(0, math.ceil((end - start).total_seconds() / 60))


def _cases(session: Session, task_id: int, paths: list[str] | None, end: datetime) -> list:
    """Every level of every case of the task about a team within ``paths``, opened by
    ``end``, oldest first."""
    return session.scalars(
        select(Escalation)
        .join(Unit, Unit.id == Escalation.team_id)
        .where(
            Escalation.task_id == task_id,
            Escalation.opened_at <= end,
            scope.paths_clause(paths, Unit.path),
        )
        .order_by(Escalation.opened_at, Escalation.id)
    ).all()


def _grouped(levels: list[Escalation]) -> list[list[Escalation]]:
    """The levels of each case (subject and reason), in the order the cases opened."""
    out: dict[tuple, list[Escalation]] = {}
    for e in levels:
        key = (e.assignment_id, e.task_team_id, e.reason)
        out.setdefault(key, []).append(e)
    return [sorted(v, key=lambda e: e.level) for v in out.values()]


def casework(
    session: Session, g: nx.DiGraph, task_id: int, paths: list[str] | None, end: datetime
) -> dict:
    """The report's calls for help and escalations (up to CASES_LISTED of each)."""
    levels = _cases(session, task_id, paths, end)
    people = case_rules.names(
        session, [e.assignee_id for e in levels] + [e.resolved_by_id for e in levels]
    )
    who = {uid: u.display_name for uid, u in people.items()}
    groups = _grouped(levels)
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
    leads = dict(
        session.execute(
            select(TaskTeam.team_id, TaskTeam.assignee_id).where(TaskTeam.task_id == task_id)
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
                    "unit": g.nodes[e.unit_id]["name"] if e.unit_id in g else "",
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
            "team": team_label(g, first.team_id),
            "opened_at": first.opened_at,
            "closed_at": closed_at,
            "closed_by": who.get(resolved.resolved_by_id, "") if resolved else "",
            "how": resolved.resolution_note if resolved else "",
            "open_minutes": _minutes(first.opened_at, closed_at or end),
            "still_open": closed_at is None,
            "levels": level_rows(case),
            "top_level": top.level,
            "top_unit": g.nodes[top.unit_id]["name"] if top.unit_id in g else "",
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
        "escalations_total": len(climbed),
        "case_ids": [e.id for e in levels],
        "assignment_ids": assignment_ids,
        "task_team_ids": sorted({e.task_team_id for e in levels if e.task_team_id}),
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
        ):
            if _case_message(key, wanted):
                add(status, attempts, 1)
    counts["total"] = counts["sent"] + counts["failed"] + counts["pending"]
    return counts
