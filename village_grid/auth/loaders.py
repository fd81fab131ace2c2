"""How Flask-Login finds the user: session cookie on pages, bearer token on /api/.

The session and remember cookies carry a login's token, not a user id
(``auth/sessions.py``): the user loader accepts it only while that login has not
ended (logout, a password change, a reset) or expired.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, jsonify, redirect, request, url_for
from flask_babel import gettext as _
from flask_login.config import COOKIE_DURATION

from village_grid.auth.guards import wants_json
from village_grid.auth.service import user_from_token
from village_grid.auth.sessions import user_for_login
from village_grid.extensions import db, login_manager
from village_grid.models import User


def _seconds(value) -> timedelta:
    return value if isinstance(value, timedelta) else timedelta(seconds=int(value))


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    config = current_app.config
    return user_for_login(
        db.session,
        user_id,
        lifetime=_seconds(config["PERMANENT_SESSION_LIFETIME"]),
        remember_lifetime=_seconds(config.get("REMEMBER_COOKIE_DURATION", COOKIE_DURATION)),
    )


@login_manager.request_loader
def load_user_from_token(req) -> User | None:
    if not wants_json(req):
        return None
    header = req.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        return None
    return user_from_token(
        db.session,
        current_app.config["SECRET_KEY"],
        header[7:].strip(),
        current_app.config["API_TOKEN_MAX_AGE"],
    )


@login_manager.unauthorized_handler
def unauthorized():
    if wants_json():
        return jsonify(
            {
                "error": {
                    "code": "unauthorized",
                    "message": _("Log in or send a valid bearer token."),
                }
            }
        ), 401
    return redirect(
        url_for("auth.login", next=request.full_path if request.query_string else request.path)
    )
