"""How Flask-Login finds the user: session cookie on pages, bearer token on /api/."""

from __future__ import annotations

from flask import current_app, jsonify, redirect, request, url_for
from flask_babel import gettext as _

from village_grid.auth.guards import wants_json
from village_grid.auth.service import user_from_token
from village_grid.extensions import db, login_manager
from village_grid.models import User


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    try:
        return db.session.get(User, int(user_id))
    except (TypeError, ValueError):
        return None


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
