"""The warnings pages: the list (newest first, with their drafts) and an upload; one
warning; a draft made from a warning, with its Send button."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from village_grid.auth import scope
from village_grid.auth import service as auth_service
from village_grid.auth.guards import login_required
from village_grid.database.transactions import committed
from village_grid.errors import DomainError
from village_grid.extensions import db
from village_grid.models.base import utcnow
from village_grid.tasks import dispatch, drafts
from village_grid.tasks.labels import TASK_STATUS_LABELS, kind_label
from village_grid.tasks.queries import get_task
from village_grid.warnings import autosend, cap, intake, labels, queries
from village_grid.warnings.forms import ActionForm, UploadForm

bp = Blueprint("warnings", __name__, url_prefix="/warnings")


def _list_page(form: UploadForm, status: int = 200, token: str = ""):
    rows = queries.warnings_in_scope(db.session, current_user)
    return (
        render_template(
            "warnings/index.html",
            rows=[(w, queries.drafts_in_scope(w, current_user)) for w in rows],
            draft_state=queries.draft_state,
            form=form,
            action_form=ActionForm(),
            may_upload=scope.may_somewhere(current_user, "dispatch"),
            is_admin=scope.has_role(current_user, "admin"),
            token=token,
            max_kb=cap.max_bytes() // 1024,
        ),
        status,
    )


@bp.route("/")
@login_required
def index():
    return _list_page(UploadForm(formdata=None))


@bp.route("/upload", methods=["POST"])
@login_required
def upload():
    """A CAP file a cadre was sent (by e-mail, in a chat): the same as one posted to the API."""
    form = UploadForm()
    if not scope.may_somewhere(current_user, "dispatch"):
        flash(_("Only someone who may send tasks can add a warning."), "error")
        return _list_page(form, 403)
    if not form.validate_on_submit() or not form.file.data or not form.file.data.filename:
        flash(_("Choose a CAP file to upload."), "error")
        return _list_page(form, 422)
    document = form.file.data.stream.read(cap.max_bytes() + 1)
    try:
        with committed():
            warning, new = intake.receive(db.session, current_user, document, via="upload")
    except DomainError as err:
        flash(err.message, "error")
        return _list_page(form, err.status)
    if not new:
        flash(_("This warning was received before; nothing new was drafted."), "info")
    else:
        flash(str(labels.OUTCOME_LABELS.get(warning.outcome, warning.outcome)), "success")
    return redirect(url_for("warnings.show", warning_id=warning.id))


@bp.route("/token", methods=["POST"])
@login_required
def token():
    """An administrator makes a token that may post warnings and nothing else."""
    form = ActionForm()
    if not form.validate_on_submit():
        return redirect(url_for("warnings.index"))
    try:
        made = auth_service.issue_warnings_token(
            db.session, current_app.config["SECRET_KEY"], current_user
        )
        db.session.commit()
    except DomainError as err:
        flash(err.message, "error")
        return redirect(url_for("warnings.index"))
    return _list_page(UploadForm(formdata=None), token=made)


@bp.route("/<id:warning_id>")
@login_required
def show(warning_id: int):
    warning = queries.get_warning(db.session, current_user, warning_id)
    return render_template(
        "warnings/show.html",
        warning=warning,
        drafts=queries.drafts_in_scope(warning, current_user),
        draft_state=queries.draft_state,
    )


@bp.route("/drafts/<id:task_id>")
@login_required
def draft(task_id: int):
    """A sweep drafted from a warning: the warning, what the sweep would do, Send."""
    task = get_task(db.session, current_user, task_id)
    found = queries.warning_of_task(db.session, task.id)
    if found is None:  # not from a warning: the task's own page
        return redirect(url_for("tasks.show", task_id=task.id))
    warning, row = found
    reach = None
    if task.status == "draft":
        try:
            reach = dispatch.preview_dispatch(
                db.session, None, unit_id=task.unit_id, filter=task.filter
            )
        except DomainError:
            reach = {"households": 0, "teams": 0}
    return render_template(
        "warnings/draft.html",
        task=task,
        warning=warning,
        row=row,
        reach=reach,
        state=queries.draft_state(task, warning),
        kind=kind_label("sweep", task.subkind),
        status_label=TASK_STATUS_LABELS.get(task.status, task.status),
        autosend=queries.autosend_pending(db.session, task.id),
        sent_deadline=drafts.sent_deadline(task.deadline, utcnow()),
        may_send=scope.may(current_user, "dispatch", task.unit),
        form=ActionForm(),
    )


def _act(task_id: int, act, done: str):
    get_task(db.session, current_user, task_id)  # 404 outside the person's scope
    form = ActionForm()
    if not form.validate_on_submit():
        flash(_("The form expired; try again."), "error")
        return redirect(url_for("warnings.draft", task_id=task_id))
    try:
        with committed():
            act()
        flash(done, "success")
    except DomainError as err:
        flash(err.message, "error")
    return None


@bp.route("/drafts/<id:task_id>/send", methods=["POST"])
@login_required
def send(task_id: int):
    """One tap: the draft goes out as a dispatch does; then its progress page."""
    failed = _act(
        task_id,
        lambda: drafts.send_draft(db.session, current_user, task_id),
        _("Sent: the team leads are being told."),
    )
    if failed is not None:
        return failed
    task = get_task(db.session, current_user, task_id)
    if task.status == "draft":
        return redirect(url_for("warnings.draft", task_id=task_id))
    return redirect(url_for("tasks.show", task_id=task_id))


@bp.route("/drafts/<id:task_id>/hold", methods=["POST"])
@login_required
def hold(task_id: int):
    _act(
        task_id,
        lambda: autosend.hold(db.session, current_user, task_id),
        _("Held: it will not send itself."),
    )
    return redirect(url_for("warnings.draft", task_id=task_id))


@bp.route("/drafts/<id:task_id>/withdraw", methods=["POST"])
@login_required
def withdraw(task_id: int):
    def act():
        drafts.withdraw_draft(db.session, current_user, get_task(db.session, current_user, task_id))

    _act(task_id, act, _("The draft is withdrawn; nobody was told."))
    return redirect(url_for("warnings.draft", task_id=task_id))
