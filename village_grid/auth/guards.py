"""Route guards. Every view carries one: ``@login_required`` (then a scope
check on the object it touches) or ``@public`` (the door-plate pages). The
meta-test in tests/test_route_guards.py fails for any route without one."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import current_app, request
from flask_login import current_user


def public(view: Callable) -> Callable:
    """Mark a view as deliberately reachable without logging in."""
    view.access = "public"  # type: ignore[attr-defined]
    return view


def login_required(view: Callable) -> Callable:
    """Logged-in users only (session cookie on pages, bearer token on the API).

    The view must still check scope on whatever object it touches
    (``village_grid.auth.scope``).
    """

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return current_app.login_manager.unauthorized()
        return view(*args, **kwargs)

    wrapped.access = "login"  # type: ignore[attr-defined]
    return wrapped


def accepts_token(use: str) -> Callable[[Callable], Callable]:
    """Let a bearer token made for ``use`` alone (``auth.service.TOKEN_USES``) reach
    this API view; such tokens reach no other (``api/routes.py``)."""

    def mark(view: Callable) -> Callable:
        view.token_only = use  # type: ignore[attr-defined]
        return view

    return mark


def anonymous_only(view: Callable) -> Callable:
    """The login page: public, but listed as such on purpose."""
    view.access = "public"  # type: ignore[attr-defined]
    return view


def wants_json(req=None) -> bool:
    """Is this a request to the JSON API: answered in JSON, its user found from a
    bearer token? (``req``: the request a Flask-Login loader is given.)"""
    return (req if req is not None else request).path.startswith("/api/")
