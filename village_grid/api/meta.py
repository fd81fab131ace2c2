"""Token issue and the OpenAPI document."""

from __future__ import annotations

from flask import current_app, jsonify
from flask_babel import gettext as _

from village_grid.api.openapi_doc import build
from village_grid.api.routes import bp
from village_grid.api.validation import document, json_body
from village_grid.auth import service
from village_grid.auth.guards import public
from village_grid.errors import DomainError
from village_grid.extensions import db, limiter

TOKEN_BODY = {
    "type": "object",
    "required": ["username", "password"],
    "additionalProperties": False,
    "properties": {
        "username": {"type": "string", "minLength": 1, "maxLength": 50},
        "password": {"type": "string", "minLength": 1, "maxLength": 200},
    },
}


TOKEN_OUT = {
    "type": "object",
    "required": ["token", "expires_in"],
    "properties": {
        "token": {"type": "string", "minLength": 1},
        "expires_in": {"type": "integer", "minimum": 1},
    },
}


class BadLogin(DomainError):
    status = 401
    code = "bad_login"


@bp.route("/auth/token", methods=["POST"])
@limiter.limit("20/minute")
@public
@document(
    "Exchange a username (or phone) and password for a bearer token",
    body=TOKEN_BODY,
    responses={
        "200": ("A bearer token for the Authorization header", TOKEN_OUT),
        "401": "Wrong login",
        "429": "too_many_attempts / rate_limited: wait before trying again",
    },
    tags=["auth"],
)
def token():
    data = json_body(TOKEN_BODY)
    user = service.authenticate(db.session, data["username"], data["password"])
    if user is None:
        raise BadLogin(_("Wrong phone number, username or password."))
    return jsonify(
        {
            "token": service.issue_token(current_app.config["SECRET_KEY"], user),
            "expires_in": current_app.config["API_TOKEN_MAX_AGE"],
        }
    )


@bp.route("/openapi.json")
@public
@document(
    "This document",
    responses={"200": ("OpenAPI 3.1", {"type": "object", "required": ["openapi", "paths"]})},
    tags=["meta"],
)
def openapi():
    return jsonify(build(current_app))
