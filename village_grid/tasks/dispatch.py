"""Sending a task down the tree, previewing whom it would reach, and closing it.

Speed at district scale (a million households, ~100k teams): the tree is the
cached graph (``tasks/graph.py``); no row is written per household — each team
of the task holds its counts, and a household gets its row when it is reported
on (``tasks/membership.py``); the teams are written by one INSERT … SELECT; the
people are told at once for a township, by the worker for more
(``tasks/telling.py``); the audit log gets one event per task whatever its size. Functions flush and never commit:
the caller owns the transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import networkx as nx
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, insert, literal, select
from sqlalchemy.orm import Session

from village_grid.audit.service import iso_time, record
from village_grid.auth import scope
from village_grid.errors import Forbidden, InvalidInput
from village_grid.models import (
    HOUSEHOLD_FLAGS,
    Escalation,
    Household,
    Task,
    TaskTeam,
    Unit,
    User,
)
from village_grid.models.base import utcnow
from village_grid.tasks import cases, events, labels, membership, routing, telling
from village_grid.tasks.graph import get_graph
from village_grid.tasks.labels import MINUTES_A_DAY
from village_grid.tasks.queries import get_task


def _is_id(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def clean_filter(g: nx.DiGraph, target_id: int, flt: dict | None) -> tuple[dict, list]:
    """Check a household filter ``{"flags": [...], "unit_ids": [...]}`` against
    the target; return it normalised and its SQL conditions on Household/Unit."""
    flt = flt or {}
    if not isinstance(flt, dict) or set(flt) - {"flags", "unit_ids"}:
        raise InvalidInput(
            _("The filter has flags and unit_ids only."), fields={"filter": "invalid"}
        )
    flags = flt.get("flags") or []
    unit_ids = flt.get("unit_ids") or []
    if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
        raise InvalidInput(_("Flags must be a list of names."), fields={"filter.flags": "invalid"})
    unknown = [f for f in flags if f not in HOUSEHOLD_FLAGS]
    if unknown:
        raise InvalidInput(
            _("Unknown flag: %(f)s.", f=", ".join(unknown)), fields={"filter.flags": "unknown"}
        )
    if not isinstance(unit_ids, list) or not all(_is_id(u) for u in unit_ids):
        raise InvalidInput(_("Units must be a list of ids."), fields={"filter.unit_ids": "invalid"})
    try:
        paths = routing.filter_paths(g, target_id, unit_ids)
    except ValueError:
        raise InvalidInput(
            _("Some chosen units are not under the unit the task goes to."),
            fields={"filter.unit_ids": "outside_target"},
        ) from None
    conds = [scope.subtree_clause(Unit.path, g.nodes[target_id]["path"])]
    if flags:
        conds.append(membership.flags_clause(flags))
    if paths:
        conds.append(scope.paths_clause(paths, Unit.path))
    flags = [f for f in HOUSEHOLD_FLAGS if f in flags]
    return {"flags": flags, "unit_ids": sorted(set(unit_ids))}, conds


def _target(session: Session, actor: User | None, unit_id, action: str = "dispatch") -> Unit:
    if not _is_id(unit_id):
        raise InvalidInput(_("Choose a unit."), fields={"unit_id": "required"})
    return scope.load_unit(session, actor, unit_id, action)


def preview_dispatch(
    session: Session, actor: User | None, *, unit_id: int, filter: dict | None = None
) -> dict:
    """How many households and teams a task on ``unit_id`` with ``filter`` would reach."""
    target = _target(session, actor, unit_id)
    _flt, conds = clean_filter(get_graph(session), target.id, filter)
    households, teams = session.execute(
        select(func.count(Household.id), func.count(func.distinct(Household.team_id)))
        .join(Unit, Unit.id == Household.team_id)
        .where(*conds)
    ).one()
    return {"households": int(households or 0), "teams": int(teams or 0)}


def clean_questions(questions) -> list[dict]:
    """A survey's questions checked and trimmed: ``{"id", "type", "text", "choices"}``."""
    if not isinstance(questions, list) or not questions:
        raise InvalidInput(
            _("A survey needs at least one question."), fields={"questions": "required"}
        )
    if len(questions) > labels.QUESTIONS_MAX:
        raise InvalidInput(
            _("At most %(n)s questions.", n=labels.QUESTIONS_MAX), fields={"questions": "too_many"}
        )
    out: list[dict] = []
    seen: set[str] = set()
    for i, q in enumerate(questions, 1):
        field = f"questions.{i - 1}"
        if not isinstance(q, dict):
            raise InvalidInput(_("Each question is an object."), fields={field: "invalid"})
        qid = str(q.get("id") or f"q{i}")[: labels.QUESTION_ID_MAX]
        qtype = q.get("type") or "text"
        text = (q.get("text") or "").strip() if isinstance(q.get("text"), str) else ""
        if qid in seen:
            raise InvalidInput(_("Question ids must differ."), fields={field: "duplicate_id"})
        if qtype not in labels.QUESTION_TYPES:
            raise InvalidInput(
                _("A question is a choice, a number or a text."), fields={field: "bad_type"}
            )
        if not text or len(text) > labels.QUESTION_TEXT_MAX:
            raise InvalidInput(
                _(
                    "Each question needs a text of at most %(n)s characters.",
                    n=labels.QUESTION_TEXT_MAX,
                ),
                fields={field: "text"},
            )
        item = {"id": qid, "type": qtype, "text": text}
        if qtype == "choice":
            choices = q.get("choices")
            if (
                not isinstance(choices, list)
                or not 2 <= len(choices) <= labels.CHOICES_MAX
                or not all(isinstance(c, str) and c.strip() for c in choices)
            ):
                raise InvalidInput(
                    _("A choice question needs at least two choices."),
                    fields={field: "choices"},
                )
            item["choices"] = [c.strip()[: labels.CHOICE_MAX] for c in choices]
        seen.add(qid)
        out.append(item)
    return out


def checked_fields(kind, subkind, title, body, deadline_minutes) -> tuple[str, str, str]:
    """The kind of check, title and body of a new task, checked and trimmed."""
    if kind not in labels.TASK_KINDS:
        raise InvalidInput(_("Unknown task kind."), fields={"kind": "unknown"})
    subkind = (subkind or "").strip() if isinstance(subkind, str) else ""
    if kind == "sweep":
        subkind = subkind or "other"
        if subkind not in labels.SWEEP_KINDS:
            raise InvalidInput(_("Unknown kind of check."), fields={"subkind": "unknown"})
    elif len(subkind) > labels.SUBKIND_MAX:
        raise InvalidInput(_("Unknown kind of check."), fields={"subkind": "unknown"})
    title = (title or "").strip() if isinstance(title, str) else ""
    if not title or len(title) > labels.TITLE_MAX:
        raise InvalidInput(
            _("Give the task a title of at most %(n)s characters.", n=labels.TITLE_MAX),
            fields={"title": "required"},
        )
    body = (body or "").strip() if isinstance(body, str) else ""
    if len(body) > labels.BODY_MAX:
        raise InvalidInput(_("The message is too long."), fields={"body": "too_long"})
    if deadline_minutes is not None and (
        not _is_id(deadline_minutes)
        or not labels.DEADLINE_MINUTES_MIN <= deadline_minutes <= labels.DEADLINE_MINUTES_MAX
    ):
        raise InvalidInput(
            _(
                "The deadline is between %(low)s minute and %(days)s days.",
                low=labels.DEADLINE_MINUTES_MIN,
                days=labels.DEADLINE_MINUTES_MAX // MINUTES_A_DAY,
            ),
            fields={"deadline_minutes": "out_of_range"},
        )
    return subkind, title, body


def dispatch_task(
    session: Session,
    actor: User | None,
    *,
    kind: str,
    title: str,
    unit_id: int,
    deadline_minutes: int | None,
    filter: dict | None = None,
    subkind: str = "",
    body: str = "",
    questions: list | None = None,
    now: datetime | None = None,
    action: str = "dispatch",
) -> Task:
    """Send a task to every household under ``unit_id`` that passes ``filter``.

    One row per team, its households counted as pending (``tasks/membership.py``);
    who answers for each team and one outbox message per person told
    (``tasks/telling.py``: at once for up to a township's teams, by the worker
    seconds later for more). A notice reaches team leads only: teams and read
    receipts, no household counts.
    ``action`` is the right the actor needs on the unit (the migrant-worker
    station broadcasts its notices with ``station``).
    Raises InvalidInput (bad fields, nobody reached), OutOfScope/Forbidden.
    """
    now = now or utcnow()
    subkind, title, body = checked_fields(kind, subkind, title, body, deadline_minutes)
    cleaned_questions = clean_questions(questions) if kind == "survey" else []

    target = _target(session, actor, unit_id, action)
    task = Task(
        kind=kind,
        subkind=subkind,
        title=title,
        body=body,
        unit_id=target.id,
        questions=cleaned_questions,
        deadline=now + timedelta(minutes=deadline_minutes) if deadline_minutes else None,
        created_by_id=actor.id if actor is not None else None,
        created_at=now,
    )
    return launch(session, actor, task, target=target, filter=filter, now=now)


def launch(
    session: Session,
    actor: User | None,
    task: Task,
    *,
    target: Unit,
    filter: dict | None,
    now: datetime,
    after: dict | None = None,
) -> Task:
    """Send ``task`` (a new one, or a draft being sent: ``tasks/drafts.py``) to every
    household under ``target`` that passes ``filter``: its teams with their counts, its
    people told, one audit event (``after`` adds to it). Raises InvalidInput when
    nobody matches (nothing is written)."""
    g = get_graph(session)
    flt, conds = clean_filter(g, target.id, filter)
    reached = select(Household.id).join(Unit, Unit.id == Household.team_id).where(*conds)
    if session.scalar(select(reached.exists())) is not True:
        raise InvalidInput(
            _("No household matches: check the unit and the filter."),
            fields={"filter": "no_households"},
            code="no_households",
        )
    kind = task.kind
    task.filter = flt
    session.add(task)
    session.flush()
    # One statement: a row per team, its households counted as pending (a notice
    # reaches the lead only: no household counts, nothing to freeze).
    n = func.count(Household.id)
    session.execute(
        insert(TaskTeam.__table__).from_select(
            ["task_id", "team_id", "assignee_role", "reason", "households", *labels.STATUSES]
            + ["frozen"],
            select(
                literal(task.id),
                Household.team_id,
                literal(""),
                literal(""),
                n,
                n if kind != "notice" else literal(0),
                *(literal(0) for _s in labels.STATUSES[1:]),
                literal(kind == "notice"),
            )
            .join(Unit, Unit.id == Household.team_id)
            .where(*conds)
            .group_by(Household.team_id),
        )
    )
    teams, households = session.execute(
        select(func.count(TaskTeam.id), func.sum(TaskTeam.households)).where(
            TaskTeam.task_id == task.id
        )
    ).one()
    task.teams_total, task.households_total = teams, int(households or 0)
    if teams <= labels.TELL_INLINE_TEAMS:
        telling.tell(session, task, g=g, now=now)
    else:  # a county or a district: the worker tells them, seconds after this commits
        telling.tell_later(session)
    audited = {"kind": kind, "subkind": task.subkind, "title": task.title, "unit": target.name}
    audited["deadline"] = iso_time(task.deadline)
    if flt["flags"]:
        audited["flags"] = flt["flags"]
    if flt["unit_ids"]:
        audited["units"] = [g.nodes[u]["name"] for u in flt["unit_ids"] if u in g]
    audited.update(households=task.households_total, teams=task.teams_total, **(after or {}))
    record(
        session,
        actor,
        "task.dispatch",
        object_type="task",
        object_id=task.id,
        unit_path=target.path,
        after=audited,
    )
    session.flush()
    return task


def close_task(
    session: Session,
    actor: User | None,
    task_id: int,
    *,
    now: datetime | None = None,
    action: str = "dispatch",
) -> Task:
    """Freeze a task: no more statuses, no more deadline escalations (open ones
    about households not reached, a notice not read or a silent lead are resolved). Calls for
    help already open stay open until someone resolves them. Only who sent the
    task, or someone who may dispatch above it, may close it."""
    now = now or utcnow()
    task = get_task(session, actor, task_id)
    if (
        actor is not None
        and task.created_by_id != actor.id
        and not scope.may(actor, action, task.unit)
    ):
        raise Forbidden(_("Only who sent the task, or someone above, may close it."))
    if task.closed_at is not None:
        return task
    task.closed_at = now
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        note = str(labels.CLOSED_NOTE)
    # The deadline's cases end with the task: households not reached, a notice not
    # read, a silent lead. Calls for help stay open until a person closes them.
    cases_resolved = cases.resolve(
        session,
        actor,
        Escalation.task_id == task.id,
        Escalation.reason.in_(labels.ENDED_BY_CLOSING),
        note=note,
        now=now,
        audit=False,
    )
    after = {"closed_at": iso_time(now)}
    if cases_resolved:
        after["cases_resolved"] = cases_resolved
    record(
        session,
        actor,
        "task.close",
        object_type="task",
        object_id=task.id,
        unit_path=task.unit.path,
        before={"closed_at": None},
        after=after,
    )
    session.flush()
    events.closed(session, task, now)  # its report is made and its sender told
    return task
