"""The JSON API blueprint (/api/v1).

Endpoint modules live beside this file (``units.py``, ``households.py``,
``tasks.py`` ...); each attaches its views to ``bp`` and is imported here.
Views parse, check scope, call the same services as the pages, and answer
JSON. Errors use the shape ``{"error": {"code", "message", "fields"}}``.
"""

from __future__ import annotations

import importlib
import pkgutil

from flask import Blueprint, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user

from village_grid.extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# Bearer-token clients send no CSRF token; cookie-authenticated writes are
# checked in ``_csrf_for_cookie_sessions`` below instead.
csrf.exempt(bp)


@bp.before_request
def _csrf_for_cookie_sessions():
    """A write that rides on the session cookie (the pages' own JS) must carry
    the CSRF token in ``X-CSRFToken``; bearer-token and public calls need not."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return None
    if request.headers.get("Authorization", "").lower().startswith("bearer "):
        return None
    view = bp_view(request.endpoint)
    if view is not None and getattr(view, "access", None) == "public":
        return None
    if current_user.is_authenticated:
        csrf.protect()
    return None


@bp.before_request
def _limited_tokens():
    """A token made for one use (a warnings feed forwarder's) reaches only the views
    that accept it (``auth.guards.accepts_token``)."""
    only = getattr(current_user, "token_only", None) if current_user.is_authenticated else None
    if only and getattr(bp_view(request.endpoint), "token_only", None) != only:
        return jsonify(
            {
                "error": {
                    "code": "forbidden",
                    "message": _("This token may only post official warnings."),
                }
            }
        ), 403
    return None


def bp_view(endpoint: str | None):
    from flask import current_app

    return current_app.view_functions.get(endpoint or "")


def _load_endpoint_modules() -> None:
    package = importlib.import_module("village_grid.api")
    for info in pkgutil.iter_modules(package.__path__):
        if info.name not in ("routes", "openapi_doc", "validation"):
            importlib.import_module(f"village_grid.api.{info.name}")


_load_endpoint_modules()
