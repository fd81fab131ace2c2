"""Tasks: dispatch down the tree, statuses and their append-only events,
escalation up the tree, read receipts and progress roll-ups.

Every function takes the session and the acting user explicitly, flushes and
never commits: the caller (route, API, CLI) owns the transaction. ``actor``
None means the system itself (CLI, demo data), except in
:func:`record_status`, where None is the household reporting from its
door-plate QR page.

Speed at county scale (100k households, ~10k teams): the unit tree lives in a
networkx graph cached per process and rebuilt only when the tree version
changes (one cheap query per call); dispatch writes assignments with one
INSERT ... SELECT; progress is one GROUP BY rolled up through the graph.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import datetime, timedelta
from typing import NamedTuple

import networkx as nx
from flask import current_app
from flask_babel import force_locale, format_datetime
from flask_babel import gettext as _
from sqlalchemy import bindparam, exists, false, func, insert, literal, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from village_grid.auth.scope import (
    load_unit,
    may,
    require_household,
    scope_clause,
    scope_paths,
    subtree_clause,
)
from village_grid.errors import Conflict, Forbidden, InvalidInput, NotFound, OutOfScope
from village_grid.hierarchy.service import tree_version
from village_grid.models import (
    HOUSEHOLD_FLAGS,
    Assignment,
    Escalation,
    Household,
    NoticeRead,
    RoleAssignment,
    StatusEvent,
    Task,
    TaskTeam,
    Unit,
    User,
)
from village_grid.models.base import utcnow
from village_grid.models.tasks import HELP_KINDS, STATUSES, SWEEP_KINDS, TASK_KINDS, VIA
from village_grid.notify import service as notify
from village_grid.tasks import routing

COUNT_KEYS = ("total", *STATUSES)
QUESTION_TYPES = ("choice", "number", "text")
MAX_DEADLINE_MINUTES = 60 * 24 * 90  # a campaign may run for a season
MAX_CASES_LISTED = 500

# --- the cached graph -------------------------------------------------------------

_graphs: dict[str, tuple[int, nx.DiGraph]] = {}
_graph_lock = threading.Lock()


def get_graph(session: Session) -> nx.DiGraph:
    """The unit tree with its responsible people, as a networkx graph.

    Built once per process and database; rebuilt when the tree version
    (bumped on unit changes, household moves, role and availability changes)
    differs. Costs one small query when nothing changed.
    """
    version = tree_version(session)  # read first: data read after is at least this new
    key = str(session.get_bind().url)
    cached = _graphs.get(key)
    if cached is not None and cached[0] == version:
        return cached[1]
    with _graph_lock:
        cached = _graphs.get(key)
        if cached is not None and cached[0] == version:
            return cached[1]
        units = session.execute(
            select(Unit.id, Unit.parent_id, Unit.kind, Unit.name, Unit.code, Unit.path)
        ).all()
        people = [
            (unit_id, role, uid, name or username, phone, available, active)
            for unit_id, role, uid, name, username, phone, available, active in session.execute(
                select(
                    RoleAssignment.unit_id,
                    RoleAssignment.role,
                    User.id,
                    User.name,
                    User.username,
                    User.phone,
                    User.available,
                    User.active,
                )
                .join(User, User.id == RoleAssignment.user_id)
                .where(
                    RoleAssignment.role.in_(routing.RESPONSIBLE_ROLES),
                    RoleAssignment.unit_id.is_not(None),
                )
            ).all()
        ]
        graph = routing.build_graph(units, people, version=version)
        _graphs[key] = (version, graph)
        return graph


def forget_graph() -> None:
    """Drop every cached graph (tests that wipe the database call this)."""
    with _graph_lock:
        _graphs.clear()


# --- small helpers ----------------------------------------------------------------


def _interval() -> timedelta:
    return timedelta(minutes=int(current_app.config["ESCALATION_INTERVAL_MINUTES"]))


def _default_locale() -> str:
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def _insert_ignore(session: Session, model, rows: list[dict], returning=None):
    """INSERT rows, skipping those that break a unique constraint (concurrent
    runs, replays). Returns the RETURNING rows when asked."""
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    stmt = dialect_insert(model.__table__).on_conflict_do_nothing()
    if returning is not None:
        return session.execute(stmt.returning(model.__table__.c[returning.key]), rows).all()
    session.execute(stmt, rows)
    return []


def _kind_label(task: Task) -> str:
    labels = {
        "flood": _("Flood check"),
        "typhoon": _("Typhoon check"),
        "fire": _("Fire check"),
        "heat": _("Heat check"),
        "other": _("Check"),
    }
    if task.kind == "sweep":
        return labels.get(task.subkind or "other", _("Check"))
    return {
        "campaign": _("Campaign"),
        "survey": _("Survey"),
        "notice": _("Notice"),
    }.get(task.kind, task.kind)


def _translator():
    """gettext that looks each message up once: dispatch words thousands of
    team decisions and messages from a handful of templates."""
    cache: dict[str, str] = {}

    def tr(message: str, **variables) -> str:
        template = cache.get(message)
        if template is None:
            template = cache[message] = _(message)
        return template % variables if variables else template

    return tr


def _task_link(task_id: int) -> str:
    return f"{current_app.config['BASE_URL']}/tasks/{task_id}"


# --- filters and preview ----------------------------------------------------------


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
    if not isinstance(unit_ids, list) or not all(
        isinstance(u, int) and not isinstance(u, bool) for u in unit_ids
    ):
        raise InvalidInput(_("Units must be a list of ids."), fields={"filter.unit_ids": "invalid"})
    try:
        paths = routing.filter_paths(g, target_id, unit_ids)
    except ValueError:
        raise InvalidInput(
            _("Some chosen units are not under the unit the task goes to."),
            fields={"filter.unit_ids": "outside_target"},
        ) from None
    conds = [subtree_clause(Unit.path, g.nodes[target_id]["path"])]
    if flags:
        conds.append(or_(*(getattr(Household, f).is_(True) for f in flags)))
    if paths:
        conds.append(or_(*(subtree_clause(Unit.path, p) for p in paths)))
    flags = [f for f in HOUSEHOLD_FLAGS if f in flags]
    return {"flags": flags, "unit_ids": sorted(set(unit_ids))}, conds


def _target(session: Session, actor: User | None, unit_id) -> Unit:
    if not isinstance(unit_id, int) or isinstance(unit_id, bool):
        raise InvalidInput(_("Choose a unit."), fields={"unit_id": "required"})
    return load_unit(session, actor, unit_id, "dispatch")


def _team_counts(session: Session, conds: list) -> dict[int, int]:
    return dict(
        session.execute(
            select(Household.team_id, func.count(Household.id))
            .join(Unit, Unit.id == Household.team_id)
            .where(*conds)
            .group_by(Household.team_id)
        ).all()
    )


def preview_dispatch(
    session: Session, actor: User | None, *, unit_id: int, filter: dict | None = None
) -> dict:
    """How many households and teams a task on ``unit_id`` with ``filter`` would reach."""
    target = _target(session, actor, unit_id)
    g = get_graph(session)
    _flt, conds = clean_filter(g, target.id, filter)
    households, teams = session.execute(
        select(func.count(Household.id), func.count(func.distinct(Household.team_id)))
        .join(Unit, Unit.id == Household.team_id)
        .where(*conds)
    ).one()
    return {"households": int(households or 0), "teams": int(teams or 0)}


# --- dispatch ---------------------------------------------------------------------


def _clean_questions(questions) -> list[dict]:
    if not isinstance(questions, list) or not questions:
        raise InvalidInput(
            _("A survey needs at least one question."), fields={"questions": "required"}
        )
    if len(questions) > 20:
        raise InvalidInput(_("At most 20 questions."), fields={"questions": "too_many"})
    out: list[dict] = []
    seen: set[str] = set()
    for i, q in enumerate(questions, 1):
        field = f"questions.{i - 1}"
        if not isinstance(q, dict):
            raise InvalidInput(_("Each question is an object."), fields={field: "invalid"})
        qid = str(q.get("id") or f"q{i}")[:20]
        qtype = q.get("type") or "text"
        text = (q.get("text") or "").strip() if isinstance(q.get("text"), str) else ""
        if qid in seen:
            raise InvalidInput(_("Question ids must differ."), fields={field: "duplicate_id"})
        if qtype not in QUESTION_TYPES:
            raise InvalidInput(
                _("A question is a choice, a number or a text."), fields={field: "bad_type"}
            )
        if not text or len(text) > 200:
            raise InvalidInput(
                _("Each question needs a text of at most 200 characters."),
                fields={field: "text"},
            )
        item = {"id": qid, "type": qtype, "text": text}
        if qtype == "choice":
            choices = q.get("choices")
            if (
                not isinstance(choices, list)
                or len(choices) < 2
                or not all(isinstance(c, str) and c.strip() for c in choices)
            ):
                raise InvalidInput(
                    _("A choice question needs at least two choices."),
                    fields={field: "choices"},
                )
            item["choices"] = [c.strip()[:100] for c in choices]
        seen.add(qid)
        out.append(item)
    return out


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
) -> Task:
    """Send a task to every household under ``unit_id`` that passes ``filter``.

    One assignment per household (status pending), one routing decision per
    team (who answers for it and why), one outbox message per person told.
    A notice reaches team leads only: teams and read receipts, no assignments.
    Raises InvalidInput (bad fields, nobody reached), OutOfScope/Forbidden.
    """
    now = now or utcnow()
    if kind not in TASK_KINDS:
        raise InvalidInput(_("Unknown task kind."), fields={"kind": "unknown"})
    subkind = (subkind or "").strip()
    if kind == "sweep":
        subkind = subkind or "other"
        if subkind not in SWEEP_KINDS:
            raise InvalidInput(_("Unknown kind of check."), fields={"subkind": "unknown"})
    elif len(subkind) > 20:
        raise InvalidInput(_("Unknown kind of check."), fields={"subkind": "unknown"})
    title = (title or "").strip() if isinstance(title, str) else ""
    if not title or len(title) > 200:
        raise InvalidInput(
            _("Give the task a title of at most 200 characters."), fields={"title": "required"}
        )
    body = (body or "").strip() if isinstance(body, str) else ""
    if len(body) > 5000:
        raise InvalidInput(_("The message is too long."), fields={"body": "too_long"})
    if deadline_minutes is not None and (
        not isinstance(deadline_minutes, int)
        or isinstance(deadline_minutes, bool)
        or not 1 <= deadline_minutes <= MAX_DEADLINE_MINUTES
    ):
        raise InvalidInput(
            _("The deadline is between 1 minute and 90 days."),
            fields={"deadline_minutes": "out_of_range"},
        )
    cleaned_questions = _clean_questions(questions) if kind == "survey" else []

    target = _target(session, actor, unit_id)
    g = get_graph(session)
    flt, conds = clean_filter(g, target.id, filter)
    per_team = _team_counts(session, conds)
    if not per_team:
        raise InvalidInput(
            _("No household matches: check the unit and the filter."),
            fields={"filter": "no_households"},
            code="no_households",
        )

    task = Task(
        kind=kind,
        subkind=subkind,
        title=title,
        body=body,
        unit_id=target.id,
        filter=flt,
        questions=cleaned_questions,
        deadline=now + timedelta(minutes=deadline_minutes) if deadline_minutes else None,
        created_by_id=actor.id if actor is not None else None,
        created_at=now,
        households_total=sum(per_team.values()),
        teams_total=len(per_team),
    )
    session.add(task)
    session.flush()

    if kind != "notice":
        # One statement: the database copies the households it already filtered.
        session.execute(
            insert(Assignment).from_select(
                [
                    "task_id",
                    "household_id",
                    "team_id",
                    "status",
                    "help_kind",
                    "note",
                    "updated_via",
                ],
                select(
                    literal(task.id),
                    Household.id,
                    Household.team_id,
                    literal("pending"),
                    literal(""),
                    literal(""),
                    literal(""),
                )
                .join(Unit, Unit.id == Household.team_id)
                .where(*conds),
            )
        )

    decisions = routing.route(g, per_team)
    with force_locale(_default_locale()):
        tr = _translator()
        rows = [
            {
                "task_id": task.id,
                "team_id": team_id,
                "assignee_id": d.assignee.id if d.assignee else None,
                "assignee_role": d.role,
                "reason": routing.describe(d, tr)[:300],
                "households": per_team[team_id],
            }
            for team_id, d in decisions.items()
        ]
        if rows:
            # Core insert of plain rows: no ORM bookkeeping for 10,000 teams.
            session.execute(insert(TaskTeam.__table__), rows)
        _enqueue_dispatch(session, task, decisions, per_team, g)
    session.flush()
    return task


def _enqueue_dispatch(session, task: Task, decisions, per_team, g) -> None:
    """One message per person told (all their teams in it), and one for teams nobody answers for."""
    by_person: dict[int | None, list[int]] = defaultdict(list)
    people: dict[int, routing.Person] = {}
    for team_id, d in decisions.items():
        key = d.assignee.id if d.assignee else None
        by_person[key].append(team_id)
        if d.assignee:
            people[d.assignee.id] = d.assignee
    deadline = (
        _("deadline %(t)s", t=format_datetime(task.deadline, "short")) if task.deadline else ""
    )
    messages = []
    tr = _translator()
    kind = _kind_label(task)
    link = _task_link(task.id)
    for uid, teams in by_person.items():
        names = [g.nodes[t]["name"] for t in sorted(teams)[:10]]
        if len(teams) > 10:
            names.append("…")
        text = tr(
            "[%(kind)s] %(title)s — %(teams)s teams, %(households)s households: %(names)s. %(deadline)s %(link)s",
            kind=kind,
            title=task.title,
            teams=len(teams),
            households=sum(per_team[t] for t in teams),
            names=", ".join(names),
            deadline=deadline,
            link=link,
        )
        if task.body:
            text += "\n" + task.body[:1000]
        if uid is None:
            messages.append(
                {
                    "event_key": f"dispatch:{task.id}:nobody",
                    "recipient_id": None,
                    "recipient_label": _("nobody on duty"),
                    "body": _("Nobody on duty for these teams!") + " " + text,
                }
            )
        else:
            p = people[uid]
            messages.append(
                {
                    "event_key": f"dispatch:{task.id}:user:{uid}",
                    "recipient_id": uid,
                    "recipient_label": p.name[:100],
                    "body": f"@{p.name} " + text,
                }
            )
    notify.enqueue_many(session, messages)


# --- reading tasks ----------------------------------------------------------------


def _task_visible(session: Session, actor: User | None, task: Task) -> bool:
    if actor is None:
        return True
    paths = scope_paths(actor, "view")
    if paths is None:
        return True
    if not paths:
        return False
    target_path = task.unit.path
    if any(target_path.startswith(p) for p in paths):
        return True
    # A task sent from above reaches the actor's teams.
    return bool(
        session.scalar(
            select(TaskTeam.id)
            .join(Unit, Unit.id == TaskTeam.team_id)
            .where(TaskTeam.task_id == task.id, scope_clause(actor, "view", Unit.path))
            .limit(1)
        )
    )


def get_task(session: Session, actor: User | None, task_id: int) -> Task:
    """A task the actor may see: one on a unit in their scope, or one that reached their teams."""
    task = session.get(Task, task_id) if isinstance(task_id, int) else None
    if task is None or not _task_visible(session, actor, task):
        raise OutOfScope(_("No such task."))
    return task


def visible_tasks(session: Session, actor: User | None, *, limit: int | None = None) -> list[Task]:
    """Tasks the actor may see, newest first."""
    q = (
        select(Task)
        .join(Unit, Unit.id == Task.unit_id)
        .order_by(Task.created_at.desc(), Task.id.desc())
    )
    if actor is not None and scope_paths(actor, "view") is not None:
        team_unit = Unit.__table__.alias("team_unit")
        reached = exists(
            select(TaskTeam.id)
            .join(team_unit, team_unit.c.id == TaskTeam.team_id)
            .where(TaskTeam.task_id == Task.id, scope_clause(actor, "view", team_unit.c.path))
        )
        q = q.where(or_(scope_clause(actor, "view", Unit.path), reached))
    if limit:
        q = q.limit(limit)
    return list(session.scalars(q))


def open_tasks_for_household(session: Session, household_id: int) -> list[tuple[Task, Assignment]]:
    """Tasks not closed that reached this household, newest first, with its assignment."""
    rows = session.execute(
        select(Task, Assignment)
        .join(Assignment, Assignment.task_id == Task.id)
        .where(Assignment.household_id == household_id, Task.closed_at.is_(None))
        .order_by(Task.created_at.desc(), Task.id.desc())
    ).all()
    return [(t, a) for t, a in rows]


def task_teams(session: Session, task_id: int) -> list[TaskTeam]:
    """The routing decisions of a task, one per team."""
    return list(
        session.scalars(select(TaskTeam).where(TaskTeam.task_id == task_id).order_by(TaskTeam.id))
    )


# --- statuses ---------------------------------------------------------------------


def _clean_answers(task: Task, answers) -> dict | None:
    if answers in (None, {}):
        return None
    if task.kind != "survey":
        raise InvalidInput(_("Only a survey takes answers."), fields={"answers": "not_survey"})
    if not isinstance(answers, dict):
        raise InvalidInput(_("Answers are given per question."), fields={"answers": "invalid"})
    questions = {q["id"]: q for q in task.questions or []}
    out = {}
    for qid, value in answers.items():
        q = questions.get(qid)
        field = f"answers.{qid}"
        if q is None:
            raise InvalidInput(_("No such question."), fields={field: "unknown"})
        if value in (None, ""):
            continue
        if q["type"] == "choice":
            if value not in q["choices"]:
                raise InvalidInput(_("Pick one of the choices."), fields={field: "not_a_choice"})
        elif q["type"] == "number":
            if isinstance(value, bool):
                raise InvalidInput(_("Give a number."), fields={field: "not_a_number"})
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise InvalidInput(_("Give a number."), fields={field: "not_a_number"}) from None
            if value != value or abs(value) > 1e12:  # NaN or absurd
                raise InvalidInput(_("Give a number."), fields={field: "not_a_number"})
            value = int(value) if value.is_integer() else value
        else:
            if not isinstance(value, str):
                raise InvalidInput(_("Give a text."), fields={field: "not_text"})
            value = value.strip()[:500]
        out[qid] = value
    return out or None


class TaskFacts(NamedTuple):
    """The columns of a task that a household's answer needs (read without the ORM)."""

    id: int
    kind: str
    closed_at: datetime | None
    questions: list | None


class AssignmentFacts(NamedTuple):
    """The columns of an assignment that a household's answer needs (read without the ORM)."""

    id: int
    household_id: int
    updated_at: datetime | None
    answers: dict | None


# Statements built once: on the hottest path (every tap, every scan) building
# and cache-keying a statement per call cost more than running it.
_INSERT_EVENT = insert(StatusEvent.__table__)
_assignments = Assignment.__table__
_UPDATE_ASSIGNMENT = (
    update(_assignments)
    .where(_assignments.c.id == bindparam("b_id"))
    .values(
        status=bindparam("b_status"),
        help_kind=bindparam("b_help_kind"),
        note=bindparam("b_note"),
        answers=bindparam("b_answers", type_=_assignments.c.answers.type),
        updated_at=bindparam("b_updated_at"),
        updated_via=bindparam("b_updated_via"),
        updated_by_id=bindparam("b_updated_by_id"),
    )
)
_escalations = Escalation.__table__
_RESOLVE_OVERDUE = (
    update(_escalations)
    .where(
        _escalations.c.assignment_id == bindparam("b_assignment_id"),
        _escalations.c.reason == "overdue",
        _escalations.c.status != "resolved",
    )
    .values(
        status="resolved",
        resolved_at=bindparam("b_resolved_at"),
        resolved_by_id=bindparam("b_resolved_by_id"),
        next_escalation_at=None,
        resolution_note=bindparam("b_resolution_note"),
    )
)


def record_status(
    session: Session,
    actor: User | None,
    *,
    task_id: int,
    household_id: int,
    status: str,
    help_kind: str = "",
    note: str = "",
    answers: dict | None = None,
    via: str,
    client_op_id: str | None = None,
    client_time: datetime | None = None,
    client_addr: str = "",
    now: datetime | None = None,
) -> StatusEvent:
    """Record one household's status on a task as an append-only event.

    The assignment keeps the latest by the time it happened (the phone's
    clock for offline reports, never later than now). "needs help" opens an
    escalation to the grid member and the village cadre at once. A replayed
    ``client_op_id`` returns the first event and changes nothing.
    ``actor`` None only for ``via="household_qr"`` (the caller checked the
    door-plate token). Raises InvalidInput, OutOfScope, Forbidden,
    Conflict ``task_closed``. (A household's own answers other than "needs
    help" take the lighter path in ``tasks/answers.py``.)
    """
    now = now or utcnow()
    if via not in VIA:
        raise InvalidInput(_("Unknown way of reporting."), fields={"via": "unknown"})
    if actor is None and via != "household_qr":
        raise Forbidden(_("Please log in."))
    if client_op_id is not None:
        client_op_id = str(client_op_id).strip()
        if not client_op_id or len(client_op_id) > 64:
            raise InvalidInput(
                _("The operation id has 1 to 64 characters."), fields={"client_op_id": "invalid"}
            )
        first = session.scalar(select(StatusEvent).where(StatusEvent.client_op_id == client_op_id))
        if first is not None:
            if first.task_id != task_id or first.household_id != household_id:
                raise Conflict(
                    _("This operation id was already used for another household."),
                    fields={"client_op_id": "reused"},
                    code="client_op_id_reused",
                )
            return first
    status, help_kind, note = _checked_status(status, help_kind, note)
    if actor is not None:
        require_household(session, actor, household_id, "report_status")
    task = session.get(Task, task_id) if isinstance(task_id, int) else None
    if task is None or (actor is not None and not _task_visible(session, actor, task)):
        raise OutOfScope(_("No such task."))
    assignment = session.scalar(
        select(Assignment).where(
            Assignment.task_id == task.id, Assignment.household_id == household_id
        )
    )
    if assignment is None:
        raise NotFound(_("This household is not part of this task."), code="not_in_task")
    if task.closed_at is not None:
        raise Conflict(_("This task is closed."), code="task_closed")
    clean_answers = _clean_answers(task, answers)

    happened = now
    if client_time is not None:
        happened = min(max(client_time.replace(tzinfo=None), task.created_at), now)
    actor_id = actor.id if actor is not None else None
    values = _event_row(
        task.id, assignment.id, household_id, status, help_kind, note, clean_answers, via,
        actor_id, client_addr, now, client_op_id=client_op_id, client_time=client_time,
    )  # fmt: skip
    # Writes go through the tables, not the unit of work: this runs for every
    # tap of every team lead and every door-plate scan, and the ORM's
    # bookkeeping cost more than the SQL itself. The ORM objects are kept in
    # step by hand below.
    conn = session.connection()
    if client_op_id is not None:
        # Two phones syncing the same operation at once: the second one loses
        # the race on the unique id and gets the first event back.
        from sqlalchemy.exc import IntegrityError

        try:
            with session.begin_nested():
                event_id = session.execute(_INSERT_EVENT, values).inserted_primary_key[0]
        except IntegrityError:
            first = session.scalar(
                select(StatusEvent).where(StatusEvent.client_op_id == client_op_id)
            )
            if first is None:
                raise
            return first
    else:
        event_id = conn.execute(_INSERT_EVENT, values).inserted_primary_key[0]
    event = StatusEvent(id=event_id, **values)
    make_transient_to_detached(event)
    session.add(event)

    if assignment.updated_at is None or happened >= assignment.updated_at:
        changes = _assignment_changes(assignment, values, happened)
        conn.execute(_UPDATE_ASSIGNMENT, _assignment_update(assignment.id, changes))
        for key, value in changes.items():
            set_committed_value(assignment, key, value)
        if status == "needs_help":
            _open_help_case(session, task, assignment, event, now)
        else:
            _resolve_overdue(conn, assignment.id, status, actor_id, now)
    return event


class StatusReceipt(NamedTuple):
    """What a household is told back: its answer for the task was stored at ``created_at``."""

    event_id: int
    task_id: int
    status: str
    created_at: datetime


def _checked_status(status: str, help_kind: str, note) -> tuple[str, str, str]:
    """The status, help kind and note of a report, checked and trimmed."""
    if status not in STATUSES or status == "pending":
        raise InvalidInput(
            _("Status is safe, needs help, not home or unreachable."), fields={"status": "unknown"}
        )
    help_kind = (help_kind or "").strip()
    if status == "needs_help":
        help_kind = help_kind or "other"
        if help_kind not in HELP_KINDS:
            raise InvalidInput(_("Unknown kind of help."), fields={"kind": "unknown"})
    else:
        help_kind = ""
    note = (note or "").strip() if isinstance(note, str) else ""
    if len(note) > 500:
        raise InvalidInput(_("The note has at most 500 characters."), fields={"note": "too_long"})
    return status, help_kind, note


def _event_row(
    task_id: int,
    assignment_id: int,
    household_id: int,
    status: str,
    help_kind: str,
    note: str,
    answers: dict | None,
    via: str,
    actor_id: int | None,
    client_addr: str,
    now: datetime,
    *,
    client_op_id: str | None = None,
    client_time: datetime | None = None,
) -> dict:
    """The ``status_events`` row of one report."""
    return {
        "task_id": task_id,
        "assignment_id": assignment_id,
        "household_id": household_id,
        "status": status,
        "help_kind": help_kind,
        "note": note,
        "answers": answers,
        "via": via,
        "actor_id": actor_id,
        "client_op_id": client_op_id,
        "client_time": client_time.replace(tzinfo=None) if client_time else None,
        "client_addr": (client_addr or "")[:64],
        "created_at": now,
    }


def _assignment_changes(assignment, event_row: dict, happened: datetime) -> dict:
    """The assignment's columns once this report is its latest (answers kept unless new)."""
    answers = event_row["answers"]
    return {
        "status": event_row["status"],
        "help_kind": event_row["help_kind"],
        "note": event_row["note"],
        "answers": answers if answers is not None else assignment.answers,
        "updated_at": happened,
        "updated_via": event_row["via"],
        "updated_by_id": event_row["actor_id"],
    }


def _assignment_update(assignment_id: int, changes: dict) -> dict:
    """The parameters of ``_UPDATE_ASSIGNMENT`` for these changes."""
    return {"b_id": assignment_id, **{f"b_{k}": v for k, v in changes.items()}}


def _overdue_resolution(
    assignment_id: int, status: str, actor_id: int | None, now: datetime
) -> dict:
    """The parameters of ``_RESOLVE_OVERDUE``: the household was reached with ``status``."""
    return {
        "b_assignment_id": assignment_id,
        "b_resolved_at": now,
        "b_resolved_by_id": actor_id,
        "b_resolution_note": _status_note(status),
    }


def _resolve_overdue(
    conn: Connection, assignment_id: int, status: str, actor_id: int | None, now: datetime
) -> None:
    """The household was reached: cases about it being overdue are over."""
    conn.execute(_RESOLVE_OVERDUE, _overdue_resolution(assignment_id, status, actor_id, now))


_status_notes: dict[tuple[str, str], str] = {}


def _status_note(status: str) -> str:
    """Resolution note for overdue cases once reached, in the default language
    (memoised: it is computed on every report and switching locale is not free)."""
    key = (_default_locale(), status)
    if key not in _status_notes:
        with force_locale(key[0]):
            _status_notes[key] = _("Reached: %(s)s", s=status_words(status))
    return _status_notes[key]


def status_words(status: str) -> str:
    return {
        "pending": _("pending"),
        "safe": _("safe"),
        "needs_help": _("needs help"),
        "not_home": _("not home"),
        "unreachable": _("unreachable"),
    }.get(status, status)


def help_words(kind: str) -> str:
    return {
        "flooding": _("flooding"),
        "medical": _("medical"),
        "evacuation": _("evacuation"),
        "supplies": _("supplies"),
        "other": _("other help"),
    }.get(kind, kind)


# --- escalation -------------------------------------------------------------------


def _case_stops(g: nx.DiGraph, team_id: int, level: int) -> routing.Stop | None:
    return routing.escalation_stop(g, team_id, level) if team_id in g else None


def _open_help_case(
    session: Session, task: Task, assignment: Assignment, event: StatusEvent, now: datetime
) -> None:
    """A call for help goes at once to the first two levels above the team
    (grid member and village cadre), and climbs further if nobody acknowledges."""
    g = get_graph(session)
    team_id = assignment.team_id
    stops = [s for s in (_case_stops(g, team_id, 1), _case_stops(g, team_id, 2)) if s]
    parent = g.nodes[team_id]["parent"] if team_id in g else None
    interval = _interval()
    has_next = _case_stops(g, team_id, len(stops) + 1) is not None
    targets = [(i + 1, s.unit_id, s.person.id) for i, s in enumerate(stops)] or [(1, parent, None)]
    rows = [
        {
            "task_id": task.id,
            "assignment_id": assignment.id,
            "household_id": assignment.household_id,
            "reason": "needs_help",
            "level": level,
            "unit_id": unit_id,
            "assignee_id": assignee_id,
            "status": "open",
            "opened_at": now,
            "next_escalation_at": now + interval if level == len(targets) and has_next else None,
            "resolution_note": "",
        }
        for level, unit_id, assignee_id in targets
    ]
    _insert_ignore(session, Escalation, rows)
    cases = list(
        session.scalars(
            select(Escalation)
            .where(Escalation.assignment_id == assignment.id, Escalation.reason == "needs_help")
            .order_by(Escalation.level)
        )
    )
    for esc in cases:
        if esc.status != "open":  # asked again after it was handled: open it again
            esc.status = "open"
            esc.opened_at = now
            esc.acknowledged_at = esc.acknowledged_by_id = None
            esc.resolved_at = esc.resolved_by_id = None
        if esc.level == len(targets) and has_next and esc.next_escalation_at is None:
            esc.next_escalation_at = now + interval
    session.flush()
    household = session.get(Household, assignment.household_id)
    with force_locale(_default_locale()):
        messages = [
            _escalation_message(esc, task, household, g, key=f"help:{esc.id}:{event.id}")
            for esc in cases
            if esc.level <= len(targets)
        ]
    notify.enqueue_many(session, messages)


def _escalation_message(
    esc: Escalation, task: Task, household: Household, g: nx.DiGraph, *, key: str
) -> dict:
    team_id = household.team_id
    team_name = g.nodes[team_id]["name"] if team_id in g else ""
    lead = routing.responsible(g, team_id).assignee if team_id in g else None
    if esc.reason == "needs_help":
        what = _("needs help (%(kind)s)", kind=help_words(_assignment_help_kind(esc)))
    else:
        what = _("not reached by the deadline")
    text = _(
        "[%(kind)s] %(title)s: household %(code)s %(name)s %(phone)s %(what)s. Team %(team)s, %(lead)s. %(link)s",
        kind=_kind_label(task),
        title=task.title,
        code=household.code,
        name=household.head_name,
        phone=household.phone,
        what=what,
        team=team_name,
        lead=f"{lead.name} {lead.phone}".strip() if lead else _("no team lead"),
        link=f"{current_app.config['BASE_URL']}/tasks/escalations",
    )
    assignee = session_user_name(esc)
    return {
        "event_key": key,
        "recipient_id": esc.assignee_id,
        "recipient_label": assignee[:100],
        "body": (f"@{assignee} " if esc.assignee_id else "") + text,
        "priority": notify.URGENT if esc.reason == "needs_help" else notify.SOON,
    }


def _assignment_help_kind(esc: Escalation) -> str:
    from sqlalchemy.orm import object_session

    session = object_session(esc)
    if session is None:
        return "other"
    return (
        session.scalar(select(Assignment.help_kind).where(Assignment.id == esc.assignment_id))
        or "other"
    )


def session_user_name(esc: Escalation) -> str:
    from sqlalchemy.orm import object_session

    if esc.assignee_id is None:
        return _("nobody on duty")
    session = object_session(esc)
    user = session.get(User, esc.assignee_id) if session is not None else None
    return user.display_name if user else ""


def run_escalations(session: Session, now: datetime | None = None) -> int:
    """Deadline checks; safe to run every minute from cron, any number of times.

    A household still pending at its task's deadline escalates one level (to
    the grid member); an open case nobody acknowledged climbs one more level
    every ``ESCALATION_INTERVAL_MINUTES`` after that. The unique
    (assignment, reason, level) makes a second run with the same clock a
    no-op. Returns the number of escalations created.
    """
    now = now or utcnow()
    interval = _interval()
    g = get_graph(session)
    created: list[int] = []

    # 1. Households still pending at the deadline.
    overdue_tasks = list(
        session.scalars(
            select(Task).where(
                Task.closed_at.is_(None),
                Task.deadline.is_not(None),
                Task.deadline <= now,
                Task.kind != "notice",
            )
        )
    )
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
                first = _case_stops(g, team_id, 1)
                stops[team_id] = (
                    first.unit_id
                    if first
                    else (g.nodes[team_id]["parent"] if team_id in g else None),
                    first.person.id if first else None,
                    _case_stops(g, team_id, 2) is not None,
                )
            unit_id, assignee_id, has_next = stops[team_id]
            rows.append(
                {
                    "task_id": task.id,
                    "assignment_id": assignment_id,
                    "household_id": household_id,
                    "reason": "overdue",
                    "level": 1,
                    "unit_id": unit_id,
                    "assignee_id": assignee_id,
                    "status": "open",
                    "opened_at": now,
                    "next_escalation_at": task.deadline + interval if has_next else None,
                    "resolution_note": "",
                }
            )
        created += [r[0] for r in _insert_ignore(session, Escalation, rows, Escalation.id)]

    # 2. Open cases nobody acknowledged climb, one level per interval.
    # Plain columns and set-based updates: this may touch every household of a county.
    conn = session.connection()
    stops_cache: dict[tuple[int, int], routing.Stop | None] = {}

    def stop_at(team_id: int, level: int) -> routing.Stop | None:
        key = (team_id, level)
        if key not in stops_cache:
            stops_cache[key] = _case_stops(g, team_id, level)
        return stops_cache[key]

    for _round in range(12):
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
            _esc_id,
            task_id,
            assignment_id,
            household_id,
            reason,
            level,
            next_at,
            team_id,
            status,
            closed_at,
        ) in due:
            stop = stop_at(team_id, level + 1)
            still = not (reason == "overdue" and (status != "pending" or closed_at))
            if stop is not None and still:
                rows.append(
                    {
                        "task_id": task_id,
                        "assignment_id": assignment_id,
                        "household_id": household_id,
                        "reason": reason,
                        "level": level + 1,
                        "unit_id": stop.unit_id,
                        "assignee_id": stop.person.id,
                        "status": "open",
                        "opened_at": now,
                        "next_escalation_at": next_at + interval
                        if stop_at(team_id, level + 2)
                        else None,
                        "resolution_note": "",
                    }
                )
        due_ids = [row[0] for row in due]
        for chunk in range(0, len(due_ids), 5000):
            session.execute(
                update(Escalation)
                .where(Escalation.id.in_(due_ids[chunk : chunk + 5000]))
                .values(next_escalation_at=None)
                .execution_options(synchronize_session=False)
            )
        created += [r[0] for r in _insert_ignore(session, Escalation, rows, Escalation.id)]

    if created:
        _enqueue_escalations(session, created, g)
    session.flush()
    return len(created)


def _enqueue_escalations(session: Session, ids: list[int], g: nx.DiGraph) -> None:
    """Messages for new escalations: one per call for help; overdue households
    grouped per task, level and person (one message listing them). Reads plain
    columns: a county-wide sweep can escalate 100,000 households at once."""
    messages = []
    help_ids: list[int] = []
    # (task, level, assignee) -> [count, first id, up to 20 "code name" strings]
    groups: dict[tuple, list] = {}
    conn = session.connection()
    for chunk in range(0, len(ids), 5000):
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
            .where(Escalation.id.in_(ids[chunk : chunk + 5000]))
        ).all()
        for esc_id, reason, level, assignee_id, task_id, code, head_name in rows:
            if reason == "needs_help":
                help_ids.append(esc_id)
                continue
            group = groups.get((task_id, level, assignee_id))
            if group is None:
                group = groups[(task_id, level, assignee_id)] = [0, esc_id, []]
            group[0] += 1
            group[1] = min(group[1], esc_id)
            if len(group[2]) < 20:
                group[2].append(f"{code} {head_name}")
    with force_locale(_default_locale()):
        for esc_id in help_ids:
            esc = session.get(Escalation, esc_id)
            household = session.get(Household, esc.household_id)
            task = session.get(Task, esc.task_id)
            messages.append(_escalation_message(esc, task, household, g, key=f"climb:{esc.id}"))
        link = f"{current_app.config['BASE_URL']}/tasks/escalations"
        for (task_id, level, assignee_id), (n, first, listed) in groups.items():
            task = session.get(Task, task_id)
            user = session.get(User, assignee_id) if assignee_id else None
            name = user.display_name if user else _("nobody on duty")
            text = _(
                "[%(kind)s] %(title)s: %(n)s households not reached by the deadline (level %(level)s): %(list)s. %(link)s",
                kind=_kind_label(task),
                title=task.title,
                n=n,
                level=level,
                list=", ".join(listed) + (" …" if n > len(listed) else ""),
                link=link,
            )
            messages.append(
                {
                    "event_key": f"overdue:{task_id}:{level}:{assignee_id}:{first}",
                    "recipient_id": assignee_id,
                    "recipient_label": name[:100],
                    "body": (f"@{name} " if assignee_id else "") + text,
                    "priority": notify.SOON,
                }
            )
    notify.enqueue_many(session, messages)


def _escalation_scope(actor: User | None):
    if actor is None:
        return None
    paths = scope_paths(actor, "handle_escalations")
    if paths is None:
        return None
    if not paths:
        return false()
    return or_(*(subtree_clause(Unit.path, p) for p in paths))


def list_escalations(
    session: Session, actor: User | None, *, open_only: bool = True, task_id: int | None = None
) -> list[Escalation]:
    """Cases in the actor's scope, one row per case (its highest level): calls
    for help first, then open before acknowledged, newest first."""
    q = (
        select(Escalation)
        .join(Household, Household.id == Escalation.household_id)
        .join(Unit, Unit.id == Household.team_id)
    )
    clause = _escalation_scope(actor)
    if clause is not None:
        q = q.where(or_(clause, Escalation.assignee_id == actor.id))
    if open_only:
        q = q.where(Escalation.status != "resolved")
    if task_id is not None:
        q = q.where(Escalation.task_id == task_id)
    top: dict[tuple[int, str], Escalation] = {}
    for esc in session.scalars(q.order_by(Escalation.level.desc())):
        top.setdefault((esc.assignment_id, esc.reason), esc)
    order = {"open": 0, "acknowledged": 1, "resolved": 2}
    return sorted(
        top.values(),
        key=lambda e: (
            e.reason != "needs_help",
            order.get(e.status, 3),
            -e.opened_at.timestamp(),
            -e.id,
        ),
    )


def require_escalation(session: Session, actor: User | None, escalation_id: int) -> Escalation:
    """An escalation the actor may handle (assigned to them, or in their
    ``handle_escalations`` scope); OutOfScope (404) otherwise."""
    esc = session.get(Escalation, escalation_id) if isinstance(escalation_id, int) else None
    if esc is None:
        raise OutOfScope(_("No such escalation."))
    if actor is not None and esc.assignee_id != actor.id:
        household = session.get(Household, esc.household_id)
        if household is None or not may(actor, "handle_escalations", household.team):
            raise OutOfScope(_("No such escalation."))
    return esc


_require_escalation = require_escalation  # the pages used the first name


def _case(session: Session, esc: Escalation) -> list[Escalation]:
    return list(
        session.scalars(
            select(Escalation).where(
                Escalation.assignment_id == esc.assignment_id, Escalation.reason == esc.reason
            )
        )
    )


def acknowledge_escalation(
    session: Session, actor: User | None, escalation_id: int, *, now: datetime | None = None
) -> Escalation:
    """Someone is on it: the case (every level of it) stops climbing."""
    now = now or utcnow()
    esc = require_escalation(session, actor, escalation_id)
    if esc.status == "resolved":
        raise Conflict(_("This case is already resolved."), code="already_resolved")
    for e in _case(session, esc):
        if e.status == "open":
            e.status = "acknowledged"
            e.acknowledged_at = now
            e.acknowledged_by_id = actor.id if actor is not None else None
        e.next_escalation_at = None
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
    if len(note) > 500:
        raise InvalidInput(_("The note has at most 500 characters."), fields={"note": "too_long"})
    esc = require_escalation(session, actor, escalation_id)
    for e in _case(session, esc):
        if e.status != "resolved":
            e.status = "resolved"
            e.resolved_at = now
            e.resolved_by_id = actor.id if actor is not None else None
            e.resolution_note = note
            if e.acknowledged_at is None:
                e.acknowledged_at = now
                e.acknowledged_by_id = e.resolved_by_id
        e.next_escalation_at = None
    session.flush()
    return esc


def describe_escalations(session: Session, escalations: list[Escalation]) -> list[dict]:
    """What the escalation queue shows: the household, its team and lead with
    phones, the task, who holds the case. One query per kind of thing."""
    if not escalations:
        return []
    g = get_graph(session)
    households = {
        h.id: h
        for h in session.scalars(
            select(Household).where(Household.id.in_({e.household_id for e in escalations}))
        )
    }
    tasks = {
        t.id: t
        for t in session.scalars(select(Task).where(Task.id.in_({e.task_id for e in escalations})))
    }
    assignments = {
        a.id: a
        for a in session.scalars(
            select(Assignment).where(Assignment.id.in_({e.assignment_id for e in escalations}))
        )
    }
    user_ids = {e.assignee_id for e in escalations if e.assignee_id}
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(user_ids)))}
    out = []
    for e in escalations:
        h = households.get(e.household_id)
        t = tasks.get(e.task_id)
        a = assignments.get(e.assignment_id)
        team_id = h.team_id if h else None
        lead = None
        if team_id in g:
            for p in g.nodes[team_id]["people"]:
                if p.role == "team_lead":
                    lead = p
                    break
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
                "household": {
                    "id": e.household_id,
                    "code": h.code if h else "",
                    "head_name": h.head_name if h else "",
                    "phone": h.phone if h else "",
                    "door_no": h.door_no if h else "",
                    "address": h.address if h else "",
                },
                "team": {
                    "id": team_id,
                    "name": g.nodes[team_id]["name"] if team_id in g else "",
                    "lead_name": lead.name if lead else "",
                    "lead_phone": lead.phone if lead else "",
                    "lead_available": lead.on_duty if lead else False,
                },
                "unit": {
                    "id": e.unit_id,
                    "name": g.nodes[e.unit_id]["name"] if e.unit_id in g else "",
                },
                "assignee": {
                    "id": e.assignee_id,
                    "name": assignee.display_name if assignee else "",
                    "phone": assignee.phone or "" if assignee else "",
                },
                "opened_at": e.opened_at.isoformat() + "Z",
                "acknowledged_at": e.acknowledged_at.isoformat() + "Z"
                if e.acknowledged_at
                else None,
                "resolved_at": e.resolved_at.isoformat() + "Z" if e.resolved_at else None,
                "resolution_note": e.resolution_note,
            }
        )
    return out


# --- closing and notices ----------------------------------------------------------


def _require_dispatcher(session: Session, actor: User | None, task_id: int) -> Task:
    task = get_task(session, actor, task_id)
    if (
        actor is not None
        and task.created_by_id != actor.id
        and not may(actor, "dispatch", task.unit)
    ):
        raise Forbidden(_("Only who sent the task, or someone above, may close it."))
    return task


def close_task(
    session: Session, actor: User | None, task_id: int, *, now: datetime | None = None
) -> Task:
    """Freeze a task: no more statuses, no more deadline escalations. Calls for
    help already open stay open until someone resolves them."""
    now = now or utcnow()
    task = _require_dispatcher(session, actor, task_id)
    if task.closed_at is not None:
        return task
    task.closed_at = now
    session.execute(
        update(Escalation)
        .where(
            Escalation.task_id == task.id,
            Escalation.reason == "overdue",
            Escalation.status != "resolved",
        )
        .values(
            status="resolved",
            resolved_at=now,
            resolved_by_id=actor.id if actor is not None else None,
            next_escalation_at=None,
            resolution_note=_closed_note(),
        )
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return task


def _closed_note() -> str:
    with force_locale(_default_locale()):
        return _("Task closed.")


def mark_notice_read(
    session: Session, actor: User, task_id: int, *, now: datetime | None = None
) -> NoticeRead:
    """Record that ``actor`` read the task (a notice's read receipt). Reading twice keeps the first time."""
    task = get_task(session, actor, task_id)
    _insert_ignore(
        session, NoticeRead, [{"task_id": task.id, "user_id": actor.id, "read_at": now or utcnow()}]
    )
    return session.scalar(
        select(NoticeRead).where(NoticeRead.task_id == task.id, NoticeRead.user_id == actor.id)
    )


def notice_reads(session: Session, task_id: int) -> dict:
    """Who was told about a notice and who has read it."""
    teams = task_teams(session, task_id)
    told = {t.assignee_id for t in teams if t.assignee_id}
    reads = {
        r.user_id: r.read_at
        for r in session.scalars(select(NoticeRead).where(NoticeRead.task_id == task_id))
    }
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(told | set(reads))))}
    people = [
        {
            "id": uid,
            "name": users[uid].display_name,
            "phone": users[uid].phone or "",
            "read_at": reads[uid].isoformat() + "Z" if uid in reads else None,
        }
        for uid in sorted(told | set(reads))
        if uid in users
    ]
    return {"told": len(told), "read": len(told & set(reads)), "people": people}


# --- progress ---------------------------------------------------------------------


def _in_paths(path: str, paths: list[str] | None) -> bool:
    return paths is None or any(path.startswith(p) for p in paths)


def progress(session: Session, task_id: int, *, actor: User | None = None) -> dict:
    """Coverage of a task: totals and the same counts for every unit from the
    target down to each team (only units it reached), in tree order.

    One GROUP BY (team, status) over the task's assignments, rolled up through
    the cached graph. With ``actor``, only what lies in their scope is counted.
    Also ``needs_help_cases`` (every call for help, newest first).
    """
    task = session.get(Task, task_id)
    if task is None:
        raise NotFound(_("No such task."))
    g = get_graph(session)
    flat = routing.flat_tree(g)
    pos = flat["pos"]
    paths = None if actor is None else scope_paths(actor, "view")
    # One GROUP BY (team, status) over the task's assignments (Core execution
    # on the session's connection: plain tuples, no ORM row loading).
    rows = (
        session.connection()
        .execute(
            select(Assignment.team_id, Assignment.status, func.count())
            .where(Assignment.task_id == task.id)
            .group_by(Assignment.team_id, Assignment.status)
        )
        .all()
    )
    # Each (team, status) count goes into one packed vector per unit position
    # (fields in COUNT_KEYS order: the total and the status at once), so the
    # roll-up below is one integer addition per unit.
    width = len(COUNT_KEYS)
    inc = {k: routing.pack_unit(0) + routing.pack_unit(i) for i, k in enumerate(COUNT_KEYS) if i}
    packed = [0] * len(flat["rows"])
    if paths is None:
        for team_id, status, n in rows:
            i = pos.get(team_id)
            if i is not None:
                packed[i] += n * inc[status]
    else:
        team_paths = flat["paths"]
        for team_id, status, n in rows:
            i = pos.get(team_id)
            if i is not None and _in_paths(team_paths[i], paths):
                packed[i] += n * inc[status]
    overall = routing.unpack(sum(packed), width)
    units = []
    start = pos.get(task.unit_id)
    if start is not None and overall[0]:
        routing.rollup_flat(flat, start, packed)
        unit_rows, unit_paths = flat["rows"], flat["paths"]
        append = units.append
        for i, (total, pending, safe, needs_help, not_home, unreachable) in routing.unpack_reached(
            flat, start, packed, width
        ):
            if paths is not None and not _in_paths(unit_paths[i], paths):
                continue
            unit_id, kind, name, parent_id, depth = unit_rows[i]
            append(
                {
                    "id": unit_id,
                    "kind": kind,
                    "name": name,
                    "parent_id": parent_id,
                    "depth": depth,
                    "total": total,
                    "pending": pending,
                    "safe": safe,
                    "needs_help": needs_help,
                    "not_home": not_home,
                    "unreachable": unreachable,
                }
            )
    overall = dict(zip(COUNT_KEYS, overall, strict=True))
    result = {
        "id": task.id,
        "kind": task.kind,
        "closed": task.closed_at is not None,
        **overall,
        "covered": overall["total"] - overall["pending"],
        "units": units,
        "needs_help_cases": _household_rows(
            session, task.id, Assignment.status == "needs_help", actor, MAX_CASES_LISTED, g=g
        ),
    }
    if task.kind == "notice":
        result["reads"] = notice_reads(session, task.id)
    return result


def _household_rows(
    session: Session, task_id: int, status_clause, actor, limit, g: nx.DiGraph | None = None
) -> list[dict]:
    if g is None:
        g = get_graph(session)
    # Plain columns on the session's connection (no ORM objects or ORM result
    # layer; flushed first, as session.execute would) and one routing decision
    # per team, remembered with the graph.
    session.flush()
    q = (
        select(
            Household.id,
            Household.code,
            Household.head_name,
            Household.phone,
            Household.door_no,
            Household.address,
            Assignment.team_id,
            Assignment.status,
            Assignment.help_kind,
            Assignment.note,
            Assignment.updated_at,
            Assignment.updated_via,
        )
        .join(Household, Household.id == Assignment.household_id)
        .where(Assignment.task_id == task_id, status_clause)
    )
    if actor is not None and scope_paths(actor, "view") is not None:
        q = q.join(Unit, Unit.id == Assignment.team_id).where(
            scope_clause(actor, "view", Unit.path)
        )
    q = q.order_by(Assignment.updated_at.desc(), Assignment.team_id, Household.seq).limit(limit)
    out = []
    info = g.graph["info"]
    for (
        household_id,
        code,
        head_name,
        phone,
        door_no,
        address,
        team_id,
        status,
        help_kind,
        note,
        updated_at,
        updated_via,
    ) in session.connection().execute(q).all():
        node = info.get(team_id)
        d = routing.responsible_cached(g, team_id) if node is not None else None
        person = d.assignee if d is not None else None
        out.append(
            {
                "household_id": household_id,
                "code": code,
                "head_name": head_name,
                "phone": phone,
                "door_no": door_no,
                "address": address,
                "team_id": team_id,
                "team_name": node["name"] if node is not None else "",
                "responsible_name": person.name if person else "",
                "responsible_phone": person.phone if person else "",
                "responsible_role": d.role if d else "",
                "status": status,
                "help_kind": help_kind,
                "note": note,
                "updated_at": updated_at.isoformat() + "Z" if updated_at else None,
                "updated_via": updated_via,
            }
        )
    return out


def needs_help_cases(
    session: Session, task_id: int, *, actor: User | None = None, limit: int = MAX_CASES_LISTED
) -> list[dict]:
    """Every household of the task whose latest status is "needs help", newest first."""
    return _household_rows(session, task_id, Assignment.status == "needs_help", actor, limit)


def pending_households(
    session: Session, task_id: int, *, actor: User | None = None, limit: int = MAX_CASES_LISTED
) -> list[dict]:
    """Households not reached yet, with who answers for their team and a phone to call."""
    return _household_rows(session, task_id, Assignment.status == "pending", actor, limit)


def coverage_timeline(
    session: Session, task_id: int, *, points: int = 24, now: datetime | None = None
) -> dict:
    """Coverage over time since dispatch, and an estimate of when every
    household will be reached at the pace of the last quarter hour (or since dispatch)."""
    task = session.get(Task, task_id)
    if task is None:
        raise NotFound(_("No such task."))
    now = now or utcnow()
    end = min(now, task.closed_at) if task.closed_at else now
    total = session.scalar(select(func.count()).where(Assignment.task_id == task.id)) or 0
    times = sorted(
        t
        for (t,) in session.execute(
            select(Assignment.updated_at).where(
                Assignment.task_id == task.id,
                Assignment.status != "pending",
                Assignment.updated_at.is_not(None),
            )
        ).all()
    )
    start = task.created_at
    span = max((end - start).total_seconds(), 1.0)
    series = []
    i = 0
    for k in range(points + 1):
        at = start + timedelta(seconds=span * k / points)
        while i < len(times) and times[i] <= at:
            i += 1
        series.append(
            {
                "at": at.isoformat() + "Z",
                "covered": i,
                "percent": round(100 * i / total, 1) if total else 0,
            }
        )
    covered = len(times)
    eta = None
    rate = 0.0
    if covered and covered < total and not task.closed_at:
        window_start = max(start, end - timedelta(minutes=15))
        recent = sum(1 for t in times if t >= window_start)
        minutes = max((end - window_start).total_seconds() / 60, 0.5)
        if recent == 0:
            recent, minutes = covered, max(span / 60, 0.5)
        rate = recent / minutes
        eta = (end + timedelta(minutes=(total - covered) / rate)).isoformat() + "Z"
    return {
        "total": total,
        "covered": covered,
        "points": series,
        "rate_per_minute": round(rate, 2),
        "eta": eta,
    }


__all__ = [
    "acknowledge_escalation",
    "close_task",
    "coverage_timeline",
    "describe_escalations",
    "dispatch_task",
    "get_graph",
    "get_task",
    "list_escalations",
    "mark_notice_read",
    "needs_help_cases",
    "notice_reads",
    "open_tasks_for_household",
    "pending_households",
    "preview_dispatch",
    "progress",
    "record_status",
    "resolve_escalation",
    "run_escalations",
    "task_teams",
    "visible_tasks",
]
