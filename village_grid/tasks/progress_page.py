"""What the live progress page shows, at the unit looked at.

A cadre drills from the village to a grid to a team (``/tasks/<id>?unit=``): the
headline, the counts, the chart, the households not reached yet, the calls for
help, the silent leads and the export links all describe that unit (within the
reader's scope), and the trail goes back up. The households not reached come a
page at a time (``PENDING_PAGE``), grouped by team with whom to call, so neither
the page nor what it polls grows with the village (``progress.json`` sends the
page in view, and the script keeps what did not change).

Read-only; the reads are :mod:`tasks.levels`, :mod:`tasks.progress`,
:mod:`tasks.silent`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from village_grid.auth import scope
from village_grid.models import Task, Unit, User
from village_grid.models.base import utcnow
from village_grid.tasks import display, levels, progress, queries
from village_grid.tasks.graph import get_graph, team_label
from village_grid.tasks.labels import COUNT_KEYS, PENDING, PENDING_PAGE
from village_grid.tasks.silent import silent_leads

# People listed under a notice (read, not read yet).
NOTICE_PEOPLE_LISTED = 300


def unit_rows(lvl: dict) -> list[dict]:
    """The unit looked at and its direct children (from ``levels.level``), with heat
    colours and, for a team, the person told and their phone."""
    rows = []
    for depth, u in [(0, {**lvl["unit"], **{k: lvl[k] for k in COUNT_KEYS}})] + [
        (1, c) for c in lvl["children"]
    ]:
        done = u["total"] - u["pending"]
        told = u.get("told") or {}
        rows.append(
            {
                **u,
                "level": depth,
                "done": done,
                "pct": display.percent(done, u["total"]),
                "heat": display.heat(done, u["total"]),
                "lead": told.get("name", ""),
                "lead_phone": told.get("phone", ""),
            }
        )
    return rows


def chart(session: Session, task: Task, paths: list[str]) -> dict:
    """Coverage over time within ``paths``, as seconds since dispatch for the chart,
    and the minutes left to full coverage at the recent rate."""
    if task.kind == "notice":
        return {"points": [], "total": 0, "eta_minutes": None}
    tl = progress.coverage_timeline(session, task.id, points=48, paths=paths)
    points = []
    for p in tl["points"]:
        at = display.parse_iso(p["at"])
        points.append({"t": max(0, int((at - task.created_at).total_seconds())), "n": p["covered"]})
    eta = display.parse_iso(tl.get("eta"))
    eta_minutes = None
    if eta is not None:
        eta_minutes = max(1, round((eta - utcnow()).total_seconds() / 60))
    return {"points": points, "total": tl["total"], "eta_minutes": eta_minutes}


def pages_of(count: int) -> int:
    """How many pages ``count`` households not reached make (at least one)."""
    return max(1, -(-count // PENDING_PAGE))


def pending_groups(
    session: Session, task: Task, paths: list[str], pending: int, page: int
) -> tuple[list[dict], int, int]:
    """One page of the households not reached within ``paths``, in tree order, grouped
    by team — each team named with its grid, with whom to call (its lead, or whom
    routing falls back to) — and the page shown (``page`` kept within the pages)
    and how many pages there are."""
    pages = pages_of(pending)
    page = min(max(page, 1), pages)
    if not pending:
        return [], page, pages
    rows = progress.household_rows(
        session,
        task.id,
        paths=paths,
        statuses=(PENDING,),
        limit=PENDING_PAGE,
        offset=(page - 1) * PENDING_PAGE,
    )
    g = get_graph(session)
    groups: list[dict] = []
    for r in rows:
        if not groups or groups[-1]["team_id"] != r["team_id"]:
            groups.append(
                {
                    "team_id": r["team_id"],
                    "label": team_label(g, r["team_id"]),
                    "lead": r["responsible_name"],
                    "phone": r["responsible_phone"],
                    "role": r["responsible_role"],
                    "households": [],
                }
            )
        groups[-1]["households"].append(r)
    return groups, page, pages


def _notice(session: Session, task: Task, lvl: dict) -> dict:
    reads = lvl.get("reads") or progress.notice_reads(session, task.id)
    told = [{**p, "read_at": display.parse_iso(p["read_at"])} for p in reads["people"] if p["told"]]
    return {
        "told": reads["told"],
        "read": reads["read"],
        "unread": [p for p in told if not p["read_at"]][:NOTICE_PEOPLE_LISTED],
        "readers": sorted((p for p in told if p["read_at"]), key=lambda p: p["read_at"])[
            :NOTICE_PEOPLE_LISTED
        ],
        "all_read_at": display.parse_iso(reads["all_read_at"]),
        "all_read_after_minutes": reads["all_read_after_minutes"],
    }


def context(
    session: Session,
    actor: User,
    task: Task,
    focus: Unit | None,
    *,
    page: int,
    silent_minutes: int,
    refresh_seconds: int,
    now: datetime | None = None,
) -> dict:
    """Everything the progress page and its poll show at ``focus`` (None: the task's
    target), for ``actor``; ``page`` of the households not reached."""
    now = now or utcnow()
    here = levels.level(
        session, task.id, actor=actor, unit_id=focus.id if focus is not None else None
    )
    paths = queries.focus_paths(actor, task, focus)
    totals = {k: here[k] for k in COUNT_KEYS}
    done = totals["total"] - totals["pending"]
    drawn = chart(session, task, paths)
    groups, page, pages = pending_groups(session, task, paths, totals["pending"], page)
    closed = task.closed_at is not None
    return {
        "task": task,
        "focus": focus,
        "unit_id": focus.id if focus is not None else None,
        "trail": here["trail"],
        "totals": totals,
        "done": done,
        "pct": display.percent(done, totals["total"]),
        "heat": display.heat(done, totals["total"]),
        "units": unit_rows(here),
        "needs_help": here.get("needs_help_cases", []),
        "pending_groups": groups,
        "page": page,
        "pages": pages,
        "timeline": drawn["points"],
        "chart_total": drawn["total"],
        "eta": None if closed else drawn["eta_minutes"],
        "overdue": task.deadline is not None and not closed and now > task.deadline,
        "notice": _notice(session, task, here) if task.kind == "notice" else None,
        "closed": closed,
        "may_close": not closed and scope.may(actor, "dispatch", task.unit),
        "may_report": scope.may_somewhere(actor, "report_status"),
        "silent": silent_leads(
            session,
            task,
            actor=actor,
            now=now,
            unit_path=focus.path if focus is not None else None,
        ),
        "silent_minutes": silent_minutes,
        "refresh_seconds": refresh_seconds,
    }
