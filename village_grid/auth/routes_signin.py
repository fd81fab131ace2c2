"""Signing in without a password (on the auth blueprint): a one-time link opened on a
phone, its short code typed, and the code a person's own signed-in page shows for
another browser (a chat app's). The rules are ``auth/signin.py``'s."""

from __future__ import annotations

from flask import current_app, flash, make_response, redirect, render_template, request, url_for
from flask import session as cookie_session
from flask_babel import gettext as _
from flask_login import current_user, login_user

from village_grid.audit.service import request_addr
from village_grid.auth import signin, throttle
from village_grid.auth.blueprint import bp, safe_next
from village_grid.auth.forms import CodeForm
from village_grid.auth.guards import login_required, public
from village_grid.auth.labels import IN_APP_BROWSERS
from village_grid.auth.service import LoginLocked
from village_grid.database.transactions import committed
from village_grid.extensions import db, limiter


def in_app_browser() -> bool:
    agent = request.user_agent.string or ""
    return any(mark in agent for mark in IN_APP_BROWSERS)


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


def _refused(err: signin.SignInRefused):
    helpers = signin.whom_to_ask(db.session, err.person)
    return _no_store(
        make_response(
            render_template("auth/refused.html", err=err, helpers=helpers, person=err.person),
            err.status,
        )
    )


def _signed_in(person, token: str, target: str | None):
    """Log in ``person`` with the login ``token`` a committed redeem made."""
    person.login_token = token
    login_user(person, remember=True)
    cookie_session.permanent = True
    return redirect(safe_next(target) or url_for("field.home"))


def _redeem(**secret):
    return signin.redeem(
        db.session,
        secret_key=current_app.config["SECRET_KEY"],
        client_addr=request_addr(),
        user_agent=request.user_agent.string,
        rule=throttle.ThrottleRule.from_config(current_app.config),
        **secret,
    )


@bp.route("/in/<token>", methods=["GET", "POST"])
@limiter.limit("30/minute")
@public
def sign_in_link(token: str):
    """A one-time sign-in link. GET shows whose it is and one button (a chat app's
    link preview or a mail scanner fetching it uses nothing up); the tap signs in and
    lands on "my team". A used, replaced or expired link is refused, saying whom to ask."""
    if request.method == "GET":
        link, person = signin.peek(db.session, current_app.config["SECRET_KEY"], token)
        refused = signin.refusal(link, person)
        if refused is not None:
            return _refused(refused)
        return _no_store(
            make_response(render_template("auth/link.html", person=person, token=token))
        )
    try:
        with committed():
            person, login_token = _redeem(token=token)
    except signin.SignInRefused as err:
        return _refused(err)
    except LoginLocked as err:
        return render_template("errors/error.html", status=429, message=err.message), 429
    return _signed_in(person, login_token, None)


@bp.route("/login/code", methods=["GET", "POST"])
@limiter.limit("20/minute", methods=["POST"])
@public
def sign_in_code():
    """Type a sign-in code: the 8 characters under a printed QR code, or the code shown
    on one's own "my team" page (in a chat app's browser). No password."""
    form = CodeForm()
    status = 200
    if form.validate_on_submit():
        try:
            with committed():
                person, login_token = _redeem(code=form.code.data)
        except signin.SignInRefused as err:
            if err.reason == "unknown":
                flash(err.message, "error")
                form.code.errors = [""]
                status = 422
            else:
                return _refused(err)
        except LoginLocked as err:
            flash(err.message, "error")
            status = 429
        else:
            return _signed_in(person, login_token, request.args.get("next"))
    elif form.errors:
        flash(_("Type the 8 characters of your code."), "error")
        status = 422
    return render_template("auth/code.html", form=form, in_app=in_app_browser()), status


@bp.route("/account/sign-in-code", methods=["POST"])
@login_required
def own_code():
    """A fresh code on one's own page, to sign in the chat app's browser of this phone."""
    issued = signin.make_own_code(
        db.session,
        current_user,
        secret_key=current_app.config["SECRET_KEY"],
        minutes=current_app.config["SIGN_IN_CODE_MINUTES"],
    )
    db.session.commit()
    return _no_store(
        make_response(
            render_template(
                "auth/own_code.html",
                code=issued.code_display,
                minutes=current_app.config["SIGN_IN_CODE_MINUTES"],
            )
        )
    )
