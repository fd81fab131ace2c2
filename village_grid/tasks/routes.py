"""Task pages: list, dispatch (with a live preview), live progress, the team
lead's one-tap status page, export, and the escalation queue.

Thin: parse, check scope (``village_grid.auth.scope``), call a service
(``dispatch``, ``statuses``, ``cases``) or a read (``queries``, ``progress``),
render.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from village_grid import edge
from village_grid.auth import scope
from village_grid.auth.guards import login_required
from village_grid.database.transactions import committed
from village_grid.errors import DomainError, Forbidden, InvalidInput, OutOfScope
from village_grid.extensions import db
from village_grid.files import service as files
from village_grid.files.routes import answer as file_answer
from village_grid.models import HOUSEHOLD_FLAGS, Escalation, Task, Unit
from village_grid.tasks import (
    case_queue,
    display,
    export,
    progress,
    progress_page,
    queries,
    statuses,
)
from village_grid.tasks import dispatch as dispatching
from village_grid.tasks.forms import (
    FLAG_LABELS,
    LONG_DEADLINES,
    PRESET_LABELS,
    PRESET_TITLES,
    PRESETS,
    SURVEY_QUESTION_ROWS,
    SWEEP_DEADLINES,
    DispatchForm,
    ResolveForm,
    parse_questions,
    tap_fields,
)
from village_grid.tasks.labels import (
    DISPATCH_UNIT_LIMIT,
    ESCALATION_REASON_LABELS,
    ESCALATION_STATUS_LABELS,
    ESCALATIONS_LISTED,
    QUESTION_TYPE_LABELS,
    TEAM_VIEW_LIMIT,
    status_label,
)

bp = Blueprint("tasks", __name__, url_prefix="/tasks")


# --- helpers ------------------------------------------------------------------


def _task_or_404(task_id: int) -> Task:
    """The task if the user may see it (``queries.get_task``); otherwise 404."""
    return queries.get_task(db.session, current_user, task_id)


def _int_arg(name: str) -> int | None:
    return edge.id_arg(name)


# --- task list ------------------------------------------------------------------


@bp.route("/")
@login_required
def index():
    """Open and recent tasks in the user's scope, with coverage."""
    tasks = queries.visible_tasks(db.session, current_user)
    ids = [t.id for t in tasks]
    covered = queries.covered_counts(db.session, ids)
    read = queries.tasks_read_by(db.session, current_user.id, ids)
    rows = []
    for t in tasks:
        done = covered.get(t.id, 0)
        rows.append(
            {
                "task": t,
                "done": done,
                "pct": display.percent(done, t.households_total),
                "heat": display.heat(done, t.households_total),
                "read": t.id in read,
            }
        )
    open_rows = [r for r in rows if r["task"].closed_at is None]
    closed_rows = [r for r in rows if r["task"].closed_at is not None][:30]
    return render_template(
        "tasks/index.html",
        drafts=queries.visible_tasks(db.session, current_user, limit=20, drafts=True),
        open_rows=open_rows,
        closed_rows=closed_rows,
        may_dispatch=scope.may_somewhere(current_user, "dispatch"),
        may_oversee=scope.may_somewhere(current_user, "handle_escalations"),
    )


# --- dispatch -------------------------------------------------------------------


def _dispatch_units() -> list[dict]:
    """Units the user may send a task to, as indented choices (teams only when few)."""
    units = queries.dispatch_units(db.session, current_user, limit=DISPATCH_UNIT_LIMIT)
    if not units:
        return []
    top = min(u.depth for u in units)
    by_parent: dict[int | None, list[Unit]] = {}
    ids = {u.id for u in units}
    for u in units:
        by_parent.setdefault(u.parent_id if u.parent_id in ids else None, []).append(u)
    out: list[dict] = []

    def walk(parent_id):
        for u in sorted(by_parent.get(parent_id, []), key=lambda x: x.sort_path):
            out.append({"unit": u, "indent": u.depth - top})
            walk(u.id)

    walk(None)
    return out


def _filter_from_args(args) -> dict | None:
    flt: dict = {}
    flags = [f for f in args.getlist("flags") if f]
    if flags:
        flt["flags"] = flags
    grid_ids = edge.id_list("grid_ids", source=args)
    if grid_ids:
        flt["unit_ids"] = sorted(set(grid_ids))
    return flt or None


@bp.route("/preview")
@login_required
def preview():
    """How many households and teams a dispatch would reach (JSON, for the dispatch page)."""
    try:
        unit_id = edge.id_arg("unit_id")
        if unit_id is None:
            raise InvalidInput(_("Choose a unit."), fields={"unit_id": "required"})
        flt = _filter_from_args(request.args)
        result = dispatching.preview_dispatch(db.session, current_user, unit_id=unit_id, filter=flt)
    except DomainError as err:
        db.session.rollback()
        return jsonify(err.to_dict()), err.status
    return jsonify({"households": result["households"], "teams": result["teams"]})


@bp.route("/new", methods=["GET", "POST"])
@login_required
def dispatch():
    """Send a sweep, campaign, survey or notice down the tree."""
    if not scope.may_somewhere(current_user, "dispatch"):
        raise OutOfScope(_("Not found."))
    units = _dispatch_units()
    grids = [u["unit"] for u in units if u["unit"].kind == "grid"][:100]
    form = DispatchForm()
    if request.method == "GET":
        if units and not form.unit_id.data:
            form.unit_id.data = units[0]["unit"].id
        if not form.title.data:
            form.title.data = str(PRESET_TITLES[form.preset.data or "flood"])
    preview_result = None
    errors: list[str] = []
    if form.validate_on_submit():
        kind, subkind = form.kind_and_subkind()
        questions = parse_questions(request.form) if kind == "survey" else None
        try:
            with committed():
                task = dispatching.dispatch_task(
                    db.session,
                    current_user,
                    kind=kind,
                    subkind=subkind,
                    title=form.title.data.strip(),
                    body=(form.body.data or "").strip(),
                    unit_id=form.unit_id.data,
                    deadline_minutes=form.deadline_minutes(),
                    filter=form.task_filter(),
                    questions=questions,
                )
        except (OutOfScope, Forbidden):
            errors.append(_("You may not send tasks there: choose a unit from the list."))
        except DomainError as err:
            errors.append(err.message)
        else:
            flash(
                _(
                    "Sent to %(households)s households in %(teams)s teams.",
                    households=task.households_total,
                    teams=task.teams_total,
                ),
                "success",
            )
            return redirect(url_for("tasks.show", task_id=task.id))
    elif request.method == "POST":
        for field in form:
            for message in field.errors:
                errors.append(f"{field.label.text}: {message}")
    if form.unit_id.data and not errors:
        try:
            preview_result = dispatching.preview_dispatch(
                db.session, current_user, unit_id=form.unit_id.data, filter=form.task_filter()
            )
        except DomainError:
            db.session.rollback()
            preview_result = None
    status = 422 if errors else 200
    return render_template(
        "tasks/dispatch.html",
        form=form,
        units=units,
        grids=grids,
        errors=errors,
        preview=preview_result,
        presets=PRESETS,
        preset_labels=PRESET_LABELS,
        preset_titles={k: str(v) for k, v in PRESET_TITLES.items()},
        flag_labels=FLAG_LABELS,
        flags=HOUSEHOLD_FLAGS,
        sweep_deadlines=SWEEP_DEADLINES,
        long_deadlines=LONG_DEADLINES,
        question_types=list(QUESTION_TYPE_LABELS.items()),
        question_rows=SURVEY_QUESTION_ROWS,
    ), status


# --- progress -------------------------------------------------------------------


def _progress_context(task: Task) -> dict:
    """The progress page at the unit asked for (``?unit=``, in the reader's scope and
    under the task's target: else 404), ``?page=`` of the households not reached."""
    focus = queries.focus_unit(db.session, current_user, task, _int_arg("unit"))
    return progress_page.context(
        db.session,
        current_user,
        task,
        focus,
        page=edge.int_arg("page", 1, low=1) or 1,
        silent_minutes=current_app.config["LEAD_SILENT_MINUTES"],
        refresh_seconds=current_app.config.get("TASK_PROGRESS_REFRESH_SECONDS", 10),
    )


@bp.route("/<id:task_id>")
@login_required
def show(task_id: int):
    """The live progress page (team leads without oversight go to their households)."""
    task = _task_or_404(task_id)
    if task.draft:  # made from an official warning: its page shows the warning and Send
        return redirect(url_for("warnings.draft", task_id=task.id))
    oversees = scope.may_somewhere(current_user, "handle_escalations") or scope.may_somewhere(
        current_user, "dispatch"
    )
    if not oversees:  # a team lead: their "my team" page (a survey's answers: the team page)
        if task.kind == "survey":
            return redirect(url_for("tasks.team", task_id=task.id))
        return redirect(url_for("field.home") + f"#t{task.id}")
    return render_template("tasks/progress.html", **_progress_context(task))


@bp.route("/<id:task_id>/progress.json")
@login_required
def progress_data(task_id: int):
    """What the progress page redraws every few seconds, at the unit and page it shows:
    counts, the live sections (one page of households not reached), the chart."""
    task = _task_or_404(task_id)
    ctx = _progress_context(task)
    html = render_template("tasks/_progress_live.html", **ctx)
    return jsonify(
        {
            "id": task.id,
            "closed": ctx["closed"],
            **ctx["totals"],
            "done": ctx["done"],
            "pct": ctx["pct"],
            "eta_minutes": ctx["eta"],
            "unit_id": ctx["unit_id"],
            "page": ctx["page"],
            "pages": ctx["pages"],
            "timeline": ctx["timeline"],
            "chart_total": ctx["chart_total"],
            "html": html,
        }
    )


@bp.route("/<id:task_id>/close", methods=["POST"])
@login_required
def close(task_id: int):
    task = _task_or_404(task_id)
    if _commit(lambda: dispatching.close_task(db.session, current_user, task.id)):
        flash(_("The task is closed. Its result is frozen."), "success")
    return redirect(url_for("tasks.show", task_id=task.id))


@bp.route("/<id:task_id>/export.<fmt>")
@login_required
def export_result(task_id: int, fmt: str):
    """The result, one row per household in the user's part of the task (under
    ``?unit=`` when given: a grid's view exports that grid): CSV or XLSX. A large one
    is made by the worker: the answer is then the file's page."""
    task = _task_or_404(task_id)
    if fmt not in export.FORMATS:
        raise OutOfScope(_("Not found."))
    focus = queries.focus_unit(db.session, current_user, task, _int_arg("unit"))
    params = {"task_id": task.id}
    if focus is not None:
        params["unit_id"] = focus.id
    result = files.ask(db.session, current_user, export.HOUSEHOLDS.name, fmt, params)
    db.session.commit()
    return file_answer(result)


# --- team lead's page -------------------------------------------------------------


@bp.route("/<id:task_id>/team")
@login_required
def team(task_id: int):
    """A team lead's households for this task with one-tap status buttons.

    Grid members and cadres with many households first pick a team.
    """
    task = _task_or_404(task_id)
    paths = scope.scope_paths(current_user, "report_status")
    team_id = _int_arg("team")
    chosen = None
    if team_id:
        chosen = scope.require_unit(db.session, current_user, team_id, "report_status")
        paths = [chosen.path]
    rows: list[dict] = []
    teams: list[dict] = []
    if paths != [] and task.kind != "notice":
        total = progress.count_rows(db.session, task.id, paths=paths)
        if chosen is None and total > TEAM_VIEW_LIMIT:
            teams = queries.team_summaries(db.session, task.id, paths)
        else:
            rows = progress.household_rows(
                db.session, task.id, paths=paths, limit=TEAM_VIEW_LIMIT * 4
            )
    answers = {}
    if task.kind == "survey" and rows:
        answers = queries.survey_answers(db.session, task.id, [r["household_id"] for r in rows])
    read = None
    if task.kind == "notice":
        read = queries.read_at(db.session, task.id, current_user.id)
    return render_template(
        "tasks/team.html",
        task=task,
        rows=rows,
        teams=teams,
        chosen=chosen,
        answers=answers,
        read=read,
        closed=task.closed_at is not None,
        may_oversee=scope.may_somewhere(current_user, "handle_escalations"),
    )


@bp.route("/<id:task_id>/households/<id:household_id>/status", methods=["POST"])
@login_required
def set_status(task_id: int, household_id: int):
    """One tap from the team lead's page: safe / needs help / not home / unreachable."""
    task = _task_or_404(task_id)
    household = scope.require_household(db.session, current_user, household_id, "report_status")
    tap = tap_fields(request.form, task.kind)
    back = url_for("tasks.team", task_id=task.id, team=request.form.get("team") or None)

    def record():
        statuses.record_status(
            db.session,
            current_user,
            task_id=task.id,
            household_id=household.id,
            client_addr=request.remote_addr or "",
            **tap,
        )

    if _commit(record, place=f"@h{household.id}"):
        label = status_label(tap["status"], task.kind)
        flash(
            _("%(head)s: %(status)s", head=household.head_name, status=label),
            f"success@h{household.id}",
        )
    return redirect(f"{back}#h{household.id}")


@bp.route("/<id:task_id>/read", methods=["POST"])
@login_required
def mark_read(task_id: int):
    """A team lead's read receipt for a notice."""
    task = _task_or_404(task_id)
    if _commit(lambda: statuses.mark_notice_read(db.session, current_user, task.id)):
        flash(_("Marked as read."), "success")
    return redirect(url_for("tasks.team", task_id=task.id))


# --- escalation queue ---------------------------------------------------------------


@bp.route("/escalations")
@login_required
def escalations():
    """Open cases climbing the tree: who asked for help or was not reached, and whom to call."""
    if not scope.may_somewhere(current_user, "handle_escalations"):
        raise OutOfScope(_("Not found."))
    show_all = request.args.get("all") == "1"
    page = edge.int_arg("page", 1, low=1, high=edge.ID_MAX)
    found = case_queue.list_escalations(
        db.session,
        current_user,
        open_only=not show_all,
        limit=ESCALATIONS_LISTED,
        offset=(page - 1) * ESCALATIONS_LISTED,
    )
    total = case_queue.count_escalations(db.session, current_user, open_only=not show_all)
    rows = display.case_times(case_queue.describe_escalations(db.session, found))
    return render_template(
        "tasks/escalations.html",
        rows=rows,
        page=page,
        more=max(0, total - page * ESCALATIONS_LISTED),
        show_all=show_all,
        reason_labels=ESCALATION_REASON_LABELS,
        state_labels=ESCALATION_STATUS_LABELS,
    )


def _escalation_or_404(escalation_id: int) -> Escalation:
    """Scope first, before the form is read: out of scope is 404 whatever was sent."""
    # The service's own check (the one rule for who may handle a case).
    return case_queue.require_escalation(db.session, current_user, escalation_id)


@bp.route("/escalations/<id:escalation_id>/acknowledge", methods=["POST"])
@login_required
def acknowledge(escalation_id: int):
    esc = _escalation_or_404(escalation_id)
    place = f"@e{esc.id}"  # said in the case's card, where the page opens
    if _commit(lambda: case_queue.acknowledge_escalation(db.session, current_user, esc.id), place):
        flash(_("Acknowledged: the others can see you are on it."), "success" + place)
    return redirect(url_for("tasks.escalations") + f"#e{esc.id}")


@bp.route("/escalations/<id:escalation_id>/resolve", methods=["POST"])
@login_required
def resolve(escalation_id: int):
    esc = _escalation_or_404(escalation_id)
    form = ResolveForm()
    if not form.validate_on_submit():
        for message in form.note.errors:
            flash(message, f"error@e{esc.id}")
        return redirect(url_for("tasks.escalations") + f"#e{esc.id}")
    note = form.note.data.strip()
    if not _commit(
        lambda: case_queue.resolve_escalation(db.session, current_user, esc.id, note), f"@e{esc.id}"
    ):
        return redirect(url_for("tasks.escalations") + f"#e{esc.id}")
    flash(_("Resolved."), "success")
    return redirect(url_for("tasks.escalations"))


def _commit(action: Callable[[], object], place: str = "") -> bool:
    """Run one service call and commit. A domain error is rolled back and shown
    to the user instead (in the part of the page ``place`` names, e.g. "@e12"); False then."""
    try:
        with committed():
            action()
    except DomainError as err:
        flash(err.message, "error" + place)
        return False
    return True
