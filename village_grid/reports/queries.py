"""A task's after-action report as data: one read for the page, the PDF and a job.

Read-only. The counts are the progress page's (``tasks/levels.py: level`` for the unit,
in the reader's scope: the task's teams' counts), so the report, the progress page and
the export agree at the same moment; the rest comes from the task's teams, status
events, cases and outbox. It reads the tables, not the cached tree graph (a district's
is 400 MB): a subtree is a path range (``auth/scope.py``), a unit's ancestors and
children are read by path and parent, names by ``hierarchy/queries.labels_of``.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from village_grid.auth import scope
from village_grid.errors import OutOfScope
from village_grid.hierarchy import queries as hierarchy
from village_grid.models import OfficialWarning, Task, Unit, User, WarningDraft
from village_grid.models.base import utcnow
from village_grid.reports import casework, coverage, teams
from village_grid.tasks import progress
from village_grid.tasks.labels import COUNT_KEYS


def report_scope(
    session: Session, actor: User | None, task: Task, unit_id: int | None
) -> tuple[Unit, list[str] | None]:
    """The unit a report is about (``unit_id`` under the task's target, default the
    target) and the subtrees of it the reader may see (None: all of it, for the worker).
    Not found when the unit is outside the task or the reader sees none of it, and for
    a draft."""
    if task.draft:  # not sent: nothing happened yet (its page is the warning's draft)
        raise OutOfScope(_("A draft has no report: it was not sent."))
    unit = task.unit
    if unit_id is not None:
        if actor is not None:
            unit = scope.require_unit(session, actor, unit_id, "view")
        else:
            unit = session.get(Unit, unit_id)
        if unit is None or not scope.is_under(unit.path, task.unit.path):
            raise OutOfScope(_("This task did not reach that unit."))
    if actor is None:
        return unit, [unit.path]
    paths = scope.narrow(scope.scope_paths(actor, "view"), unit.path)
    if not paths:
        raise OutOfScope(_("This task did not reach that unit."))
    return unit, paths


def warning_of(session: Session, task_id: int) -> OfficialWarning | None:
    """The official warning that drafted the task, if one did."""
    return session.scalars(
        select(OfficialWarning)
        .join(WarningDraft, WarningDraft.warning_id == OfficialWarning.id)
        .where(WarningDraft.task_id == task_id, WarningDraft.change.in_(("drafted", "amended")))
        .order_by(WarningDraft.id)
        .limit(1)
    ).first()


def report(
    session: Session,
    actor: User | None,
    task: Task,
    unit_id: int | None = None,
    *,
    now: datetime | None = None,
) -> dict:
    """Everything the report shows about ``task`` in ``unit_id`` (default: its target),
    as ``actor`` may see it (None: everything, for the worker), at ``now`` (a closed
    task: when it closed). Read from the tables alone, never the cached tree graph."""
    unit, paths = report_scope(session, actor, task, unit_id)
    end = task.closed_at or now or utcnow()
    counted = coverage.counts(session, task, paths)
    totals = {k: counted[k] for k in (*COUNT_KEYS, "covered")}
    totals["percent"] = int(totals["covered"] * 100 // totals["total"]) if totals["total"] else 0
    trail = [
        {"id": u.id, "kind": u.kind, "name": u.name}
        for u in hierarchy.breadcrumb(session, unit)
        if u.depth >= task.unit.depth
    ]
    data: dict = {
        "task": task,
        "unit": unit,
        "trail": trail,
        "at": end,
        "closed": task.closed_at is not None,
        "totals": totals,
        "teams_reached": counted["teams"],
        "sender": task.created_by,
        "warning": warning_of(session, task.id),
    }
    if task.kind == "notice":
        reads = progress.notice_reads(
            session, task.id, paths=None if unit.id == task.unit_id else paths
        )
        told = [p for p in reads["people"] if p["told"]]
        data["reads"] = {**reads, "people": sorted(told, key=lambda p: p["read_at"] or "~")}
        return data
    kids = coverage.children(session, task, unit, paths)
    data["child_kind"] = kids[0]["kind"] if kids else ""
    data["coverage"] = coverage.coverage(session, task, counted, kids, paths, end)
    data["teams"] = teams.teams(session, task, paths, end)
    data["unreached"] = teams.unreached(session, task, paths)
    data["cases"] = casework.casework(session, task.id, paths, end)
    data["messages"] = casework.messages(session, task, paths, end)
    data["earlier"] = coverage.earlier(session, task, unit, paths)
    return data
