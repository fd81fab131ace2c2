"""Log in and out, changing one's password, the language switch, and the
people/roles page (with an administrator's password reset)."""

from __future__ import annotations

from flask import (
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from village_grid.audit.service import request_addr
from village_grid.auth import (
    passwords,
    queries,
    routes_people,  # noqa: F401  (registers its pages on bp)
    routes_sheet,  # noqa: F401  (registers its pages on bp)
    routes_signin,  # noqa: F401  (registers its pages on bp)
    service,
    sessions,
)
from village_grid.auth.blueprint import bp, safe_next
from village_grid.auth.forms import LoginForm, PasswordChangeForm
from village_grid.auth.guards import anonymous_only, login_required, public
from village_grid.errors import DomainError
from village_grid.extensions import db, limiter


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("20/minute", methods=["POST"])
@anonymous_only
def login():
    if current_user.is_authenticated:
        return redirect(url_for("hierarchy.home"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = service.authenticate(db.session, form.login.data, form.password.data)
        except service.LoginLocked as err:
            flash(err.message, "error")
            return render_template("auth/login.html", form=form), err.status
        if user is None:
            flash(_("Wrong phone number, username or password."), "error")
        else:
            _start_login(user, remember=bool(form.remember.data))
            return redirect(safe_next(request.args.get("next")) or url_for("hierarchy.home"))
    return render_template("auth/login.html", form=form)


def _start_login(user, *, remember: bool) -> None:
    """A new login for this device: its own row and token (the session and the
    remember cookie carry it), committed before the cookies go out."""
    sessions.start_login(
        db.session,
        user,
        remember=remember,
        client_addr=request_addr(),
        user_agent=request.user_agent.string,
    )
    db.session.commit()
    login_user(user, remember=remember)
    session.permanent = True


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    # Ends the login on the server: a copy of the cookie is refused from now on.
    sessions.end_login(db.session, current_user.login_token)
    db.session.commit()
    logout_user()
    flash(_("You have logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    """Change one's own password. Every other login of this person ends (other
    phones, remember cookies, API tokens); this device gets a new one."""
    form = PasswordChangeForm()
    status = 200
    if form.validate_on_submit():
        remember = bool(queries.login_remembered(db.session, current_user.login_token))
        try:
            service.change_own_password(
                db.session, current_user, form.current_password.data, form.new_password.data
            )
        except DomainError as err:  # a wrong current password, a weak new one, a lock
            db.session.rollback()
            flash(err.message, "error")
            status = err.status
        else:
            user = current_user._get_current_object()
            _start_login(user, remember=remember)
            flash(
                _("Your password is changed. Other phones and computers are logged out."),
                "success",
            )
            return redirect(url_for("hierarchy.home"))
    elif form.errors:
        flash(_("Please correct the marked fields."), "error")
    return render_template(
        "auth/password.html", form=form, min_password=passwords.MIN_PASSWORD
    ), status


@bp.route("/lang/<code>")
@public
def set_language(code: str):
    """The language switch: remembered in the session, then back where we were."""
    from flask import current_app

    if code in current_app.config["LANGUAGES"]:
        session["lang"] = code
    return redirect(safe_next(request.args.get("next")) or url_for("auth.login"))
