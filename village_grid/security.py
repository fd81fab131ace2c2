"""Security headers on every response, through flask-talisman.

- Content-Security-Policy: scripts only from this site (no inline script or
  handler anywhere: ``static/app.js`` binds what pages need from data
  attributes); styles from this site, plus inline ``style`` attributes (the
  progress bars' widths); no plugins; forms post only here; no framing
  (``frame-ancestors 'none'`` and ``X-Frame-Options: DENY``).
- ``X-Content-Type-Options: nosniff``.
- ``Referrer-Policy: same-origin`` everywhere, ``no-referrer`` on the door-plate
  pages (:func:`no_referrer`): a plate's token is in its URL and must never
  leave in a Referer.
- ``Cache-Control: no-store`` on every answer that does not say otherwise (static
  files say how they are cached, ``assets.py``): pages of a logged-in person, the
  login page and the door plates hold names, phone numbers and form tokens that no
  browser history, shared phone or proxy should keep.
- ``HTTPS=1`` (served over HTTPS, directly or behind a proxy counted in
  ``PROXY_COUNT``): plain HTTP is redirected, and HSTS tells browsers to keep
  to HTTPS for a year.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, current_app, request
from flask_talisman import Talisman

CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "style-src-attr": "'unsafe-inline'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def no_referrer(view: Callable) -> Callable:
    """Mark a view whose URL holds a secret (a door-plate token): its pages send
    ``Referrer-Policy: no-referrer``."""
    view.referrer_policy = "no-referrer"  # type: ignore[attr-defined]
    return view


def _view_referrer_policy(response):
    view = current_app.view_functions.get(request.endpoint or "")
    policy = getattr(view, "referrer_policy", None)
    if policy:
        response.headers["Referrer-Policy"] = policy
    return response


def _no_store_unless_said(response):
    if "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    app.after_request(_no_store_unless_said)
    # Registered before Talisman's own: after-request functions run last-registered
    # first, so this one runs after Talisman has set the app-wide policy.
    app.after_request(_view_referrer_policy)
    https = app.config["HTTPS"]
    # One Talisman per app: it keeps its settings on itself, not on the app.
    app.extensions["talisman"] = Talisman(
        app,
        force_https=https,
        strict_transport_security=https,
        content_security_policy=CONTENT_SECURITY_POLICY,
        frame_options="DENY",
        referrer_policy="same-origin",
        session_cookie_secure=app.config["SESSION_COOKIE_SECURE"],
        session_cookie_http_only=True,
        x_content_type_options=True,
    )
