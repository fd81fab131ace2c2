"""Tasks over JSON: dispatch, progress, statuses, closing; the escalation queue."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import jsonify, request
from flask_babel import gettext as _
from flask_login import current_user

from village_grid.api.routes import bp
from village_grid.api.validation import (
    EMPTY_BODY,
    PAGE_QUERY,
    document,
    empty_body,
    json_body,
    page_args,
)
from village_grid.auth import scope
from village_grid.auth.guards import login_required
from village_grid.auth.scope import require_household
from village_grid.edge import ID, id_arg
from village_grid.errors import InvalidInput
from village_grid.extensions import db
from village_grid.models import Task
from village_grid.models.base import iso_z
from village_grid.tasks import (
    case_queue,
    drafts,
    labels,
    levels,
    progress,
    queries,
    schemas,
    statuses,
)
from village_grid.tasks import dispatch as dispatching

# Checked against the tree and the task, which no schema can say.
TREE_CHECKED = (
    "invalid_input: fields name what is wrong; also filter.unit_ids outside_target (not under "
    "the unit), filter no_households (nobody matches), questions.N duplicate_id"
)
ANSWER_CHECKED = (
    "invalid_input: fields name what is wrong; also answers.* (checked against the task's "
    "questions) and answers not_survey"
)


def task_json(task: Task) -> dict:
    return {
        "id": task.id,
        "status": task.status,
        "kind": task.kind,
        "subkind": task.subkind,
        "title": task.title,
        "body": task.body,
        "unit_id": task.unit_id,
        "filter": task.filter or {},
        "questions": task.questions or [],
        "deadline": iso_z(task.deadline),
        "created_at": iso_z(task.created_at),
        "created_by_id": task.created_by_id,
        "closed_at": iso_z(task.closed_at),
        "households": task.households_total,
        "teams": task.teams_total,
    }


@bp.route("/tasks", methods=["GET"])
@login_required
@document(
    "Tasks you can see, newest first",
    responses={"200": ("The tasks", schemas.TASK_LIST_OUT)},
    tags=["tasks"],
)
def tasks_list():
    open_only = request.args.get("open") in ("1", "true")
    tasks = queries.visible_tasks(db.session, current_user, limit=500)
    if open_only:
        tasks = [t for t in tasks if t.closed_at is None]
    return jsonify({"tasks": [task_json(t) for t in tasks]})


@bp.route("/tasks", methods=["POST"])
@login_required
@document(
    "Dispatch a sweep, campaign, survey or notice to every household under a unit",
    body=schemas.DISPATCH,
    responses={
        "201": ("The task and whom it reached", schemas.DISPATCHED_OUT),
        "422": TREE_CHECKED,
    },
    tags=["tasks"],
)
def tasks_create():
    data = json_body(schemas.DISPATCH)
    task = dispatching.dispatch_task(
        db.session,
        current_user,
        kind=data["kind"],
        title=data["title"],
        unit_id=data["unit_id"],
        deadline_minutes=data.get("deadline_minutes"),
        filter=data.get("filter"),
        subkind=data.get("subkind", ""),
        body=data.get("body", ""),
        questions=data.get("questions"),
    )
    db.session.commit()  # the worker is woken to deliver what this queued
    return jsonify(
        {"id": task.id, "households": task.households_total, "teams": task.teams_total}
    ), 201


@bp.route("/tasks/<id:task_id>/send", methods=["POST"])
@login_required
@document(
    "Send a draft (made from an official warning): from then on it is a dispatched task",
    body=EMPTY_BODY,
    responses={
        "201": ("The task and whom it reached", schemas.DISPATCHED_OUT),
        "403": "You may not send tasks to its unit",
        "404": "No such task in your scope",
        "409": "not_draft: already sent or withdrawn",
        "422": "no_households: nobody matches any more",
    },
    tags=["tasks"],
)
def tasks_send(task_id: int):
    empty_body()
    task = drafts.send_draft(db.session, current_user, task_id)
    db.session.commit()  # the worker is woken to deliver what this queued
    return jsonify(
        {"id": task.id, "households": task.households_total, "teams": task.teams_total}
    ), 201


@bp.route("/tasks/preview", methods=["POST"])
@login_required
@document(
    "How many households and teams a task would reach, before sending it",
    body=schemas.PREVIEW,
    responses={"200": ("Whom it would reach", schemas.PREVIEW_OUT), "422": TREE_CHECKED},
    tags=["tasks"],
)
def tasks_preview():
    data = json_body(schemas.PREVIEW)
    return jsonify(
        dispatching.preview_dispatch(
            db.session, current_user, unit_id=data["unit_id"], filter=data.get("filter")
        )
    )


@bp.route("/tasks/<id:task_id>", methods=["GET"])
@login_required
@document("One task", responses={"200": ("The task", schemas.TASK_OUT)}, tags=["tasks"])
def tasks_get(task_id: int):
    task = queries.get_task(db.session, current_user, task_id)
    return jsonify(task_json(task))


# The 404 of a task's reads narrowed to a unit (progress, households).
NOT_REACHED = "not_found: no such task, or a unit the task did not reach or you may not see"


@bp.route("/tasks/<id:task_id>/progress", methods=["GET"])
@login_required
@document(
    "Coverage of a task at one unit (default: the unit it was sent to): that unit's counts, "
    "its direct children's (a team's with the person told and their phone), the path back "
    "up and the calls for help under it — your scope only. Drill down with unit_id; the "
    "full per-unit table is the task's export.",
    responses={
        "200": ("Counts of the unit and of its children", schemas.PROGRESS_OUT),
        "404": NOT_REACHED,
    },
    tags=["tasks"],
    query={"unit_id": ID},
)
def tasks_progress(task_id: int):
    task = queries.get_task(db.session, current_user, task_id)
    unit_id = id_arg("unit_id")
    return jsonify(levels.level(db.session, task.id, actor=current_user, unit_id=unit_id))


@bp.route("/tasks/<id:task_id>/households", methods=["GET"])
@login_required
@document(
    "A task's households in your scope, one page at a time, in tree order: each with its "
    "status, team and who answers for it. Narrow with status (e.g. pending: not reached yet) "
    "and unit_id (a unit under the task's).",
    responses={
        "200": ("One page of households", schemas.TASK_HOUSEHOLDS_OUT),
        "404": NOT_REACHED,
    },
    tags=["tasks"],
    query={
        "status": {"type": "string", "enum": list(labels.STATUSES)},
        "unit_id": ID,
        **PAGE_QUERY,
    },
)
def tasks_households(task_id: int):
    task = queries.get_task(db.session, current_user, task_id)
    status = request.args.get("status")
    if status is not None and status not in labels.STATUSES:
        raise InvalidInput(_("Unknown status."), fields={"status": "unknown"})
    unit_id = id_arg("unit_id")
    paths = scope.scope_paths(current_user, "view")
    if unit_id is not None:
        paths = [queries.focus_unit(db.session, current_user, task, unit_id).path]
    statuses = (status,) if status else None
    limit, offset = page_args()
    rows = progress.household_rows(
        db.session, task.id, paths=paths, statuses=statuses, limit=limit, offset=offset
    )
    return jsonify(
        {
            "households": [progress.case_json(r) for r in rows],
            "total": progress.count_rows(db.session, task.id, paths=paths, statuses=statuses),
            "limit": limit,
            "offset": offset,
        }
    )


@bp.route("/tasks/<id:task_id>/households/<id:household_id>/status", methods=["POST"])
@login_required
@document(
    "Report one household's status on a task (safe, needs help, not home, unreachable)",
    body=schemas.STATUS,
    responses={
        "200": ("The recorded event", schemas.STATUS_EVENT_OUT),
        "409": "task_closed / client_op_id_reused",
        "422": ANSWER_CHECKED,
    },
    tags=["tasks"],
)
def tasks_status(task_id: int, household_id: int):
    # Scope on the ids in the URL first: out of scope is 404 whatever the body.
    queries.get_task(db.session, current_user, task_id)
    require_household(db.session, current_user, household_id)
    data = json_body(schemas.STATUS)
    client_time = None
    if data.get("client_time"):
        try:
            client_time = datetime.fromisoformat(data["client_time"].replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput(
                _("The time is not an ISO 8601 date and time."),
                fields={"client_time": "invalid"},
            ) from None
        if client_time.tzinfo is not None:
            client_time = client_time.astimezone(UTC).replace(tzinfo=None)
    done = statuses.record_status(
        db.session,
        current_user,
        task_id=task_id,
        household_id=household_id,
        status=data["status"],
        help_kind=data.get("kind", ""),
        note=data.get("note", ""),
        answers=data.get("answers"),
        client_op_id=data.get("client_op_id"),
        client_time=client_time,
        client_addr=request.remote_addr or "",
    )
    db.session.commit()  # the worker is woken to deliver what this queued
    event = done.event
    return jsonify(
        {
            "event_id": event.id,
            "assignment_id": event.assignment_id,
            "task_id": event.task_id,
            "household_id": event.household_id,
            "status": event.status,
            "kind": event.help_kind,
            "note": event.note,
            "via": event.via,
            "client_op_id": event.client_op_id,
            "created_at": iso_z(event.created_at),
            "result": done.result,
            "clamped": done.clamped,
            "told": list(done.told),
        }
    )


@bp.route("/tasks/<id:task_id>/close", methods=["POST"])
@login_required
@document(
    "Close a task: its statuses are frozen",
    body=EMPTY_BODY,
    responses={"200": ("The closed task", schemas.TASK_OUT)},
    tags=["tasks"],
)
def tasks_close(task_id: int):
    queries.get_task(db.session, current_user, task_id)  # out of scope: 404 whatever the body
    empty_body()
    task = dispatching.close_task(db.session, current_user, task_id)
    db.session.commit()
    return jsonify(task_json(task))


@bp.route("/tasks/<id:task_id>/read", methods=["POST"])
@login_required
@document(
    "Read receipt for a notice",
    body=EMPTY_BODY,
    responses={"200": ("When you first read it", schemas.READ_OUT)},
    tags=["tasks"],
)
def tasks_read(task_id: int):
    queries.get_task(db.session, current_user, task_id)
    empty_body()
    receipt = statuses.mark_notice_read(db.session, current_user, task_id)
    db.session.commit()
    return jsonify({"task_id": task_id, "read_at": iso_z(receipt.read_at)})


# ?open= of the escalation queue: open cases only (the default) or every case.
OPEN_VALUES = ("1", "0", "true", "false")


@bp.route("/escalations", methods=["GET"])
@login_required
@document(
    "The escalation queue in your scope, one page at a time: calls for help first, then the "
    "newest case first (open=1, the default: not resolved yet; open=0: every case)",
    responses={"200": ("One page of cases", schemas.ESCALATION_LIST_OUT)},
    tags=["tasks"],
    query={"open": {"type": "string", "enum": list(OPEN_VALUES)}, **PAGE_QUERY},
)
def escalations_list():
    shown = request.args.get("open", "1")
    if shown not in OPEN_VALUES:
        raise InvalidInput(_("open is 1 or 0."), fields={"open": "invalid"})
    open_only = shown in ("1", "true")
    limit, offset = page_args()
    found = case_queue.list_escalations(
        db.session, current_user, open_only=open_only, limit=limit, offset=offset
    )
    return jsonify(
        {
            "escalations": case_queue.describe_escalations(db.session, found),
            "total": case_queue.count_escalations(db.session, current_user, open_only=open_only),
            "limit": limit,
            "offset": offset,
        }
    )


@bp.route("/escalations/<id:escalation_id>/ack", methods=["POST"])
@login_required
@document(
    "Acknowledge a case: someone is on it",
    body=EMPTY_BODY,
    responses={"200": ("The case", schemas.ESCALATION_OUT), "409": "already_resolved"},
    tags=["tasks"],
)
def escalations_ack(escalation_id: int):
    case_queue.require_escalation(db.session, current_user, escalation_id)
    empty_body()
    esc = case_queue.acknowledge_escalation(db.session, current_user, escalation_id)
    db.session.commit()
    return jsonify(case_queue.describe_escalations(db.session, [esc])[0])


@bp.route("/escalations/<id:escalation_id>/resolve", methods=["POST"])
@login_required
@document(
    "Resolve a case with a note",
    body=schemas.RESOLVE,
    responses={"200": ("The case", schemas.ESCALATION_OUT), "409": "already_resolved"},
    tags=["tasks"],
)
def escalations_resolve(escalation_id: int):
    case_queue.require_escalation(db.session, current_user, escalation_id)
    data = json_body(schemas.RESOLVE)
    esc = case_queue.resolve_escalation(db.session, current_user, escalation_id, data["note"])
    db.session.commit()
    return jsonify(case_queue.describe_escalations(db.session, [esc])[0])
