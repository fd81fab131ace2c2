"""Wiring used by the app factory: extensions, blueprints, error pages, template helpers."""

from __future__ import annotations

import importlib
import logging

from flask import Flask, jsonify, make_response, render_template, request
from flask.logging import default_handler
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from village_grid import assets, database, edge, security
from village_grid.auth.guards import wants_json
from village_grid.errors import DomainError
from village_grid.extensions import babel, compress, csrf, db, limiter, login_manager, migrate
from village_grid.i18n import APP_NAME, DOMAINS, catalogue_dirs, select_locale
from village_grid.jobs import queue as jobs

log = logging.getLogger(__name__)


def init_extensions(app: Flask) -> None:
    from village_grid.i18n import PACKAGE_DIR

    if app.config["PROXY_COUNT"]:
        # Client addresses (logged with every door-plate report, and rate
        # limited) come from X-Forwarded-For only when we trust that many proxies.
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

    db.init_app(app)
    with app.app_context():
        database.configure(db.engine)
    migrate.init_app(app, db, directory=str(PACKAGE_DIR / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(str(p) for p in catalogue_dirs())
    babel.init_app(app, locale_selector=select_locale)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in.")
    login_manager.session_protection = "basic"
    limiter.init_app(app)
    # Flask-Limiter says in its own log when its store fails and it counts in
    # memory meanwhile: that belongs in the server's log with the app's own lines.
    limiter_log = logging.getLogger("flask-limiter")
    if default_handler not in limiter_log.handlers:
        limiter_log.addHandler(default_handler)

    security.init_app(app)
    compress.init_app(app)  # after the security headers: it sees the final response
    assets.init_app(app)  # static files under content-hashed names, cached for a year
    jobs.init_app(app)
    edge.init_app(app)  # the id converter and the bad-character check, before the blueprints

    from village_grid.auth import loaders  # noqa: F401  (user and token loaders)
    from village_grid.reports import closing  # noqa: F401  (tells a closed task's sender)
    from village_grid.tasks import membership  # noqa: F401  (receives the registry's changes)


def register_blueprints(app: Flask) -> None:
    """Each domain with a ``routes.py`` exposes ``bp``; the API collects its own modules."""
    for domain in DOMAINS:
        try:
            module = importlib.import_module(f"village_grid.{domain}.routes")
        except ModuleNotFoundError as exc:
            if exc.name == f"village_grid.{domain}.routes" or exc.name == f"village_grid.{domain}":
                continue
            raise
        app.register_blueprint(module.bp)


def _json_error(status: int, code: str, message: str, fields: dict | None = None):
    body: dict = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return jsonify({"error": body}), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(err: DomainError):
        db.session.rollback()
        if wants_json():
            return jsonify(err.to_dict()), err.status
        return render_template(
            "errors/error.html", status=err.status, message=err.message
        ), err.status

    @app.errorhandler(CSRFError)
    def csrf_error(err: CSRFError):
        message = _(
            "This form has expired or was not sent from this site. Please go back, reload and try again."
        )
        if wants_json():
            return _json_error(400, "csrf", message)
        return render_template("errors/error.html", status=400, message=message), 400

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        status = err.code or 500
        codes = {
            400: "bad_request",
            401: "unauthorized",
            403: "forbidden",
            404: "not_found",
            405: "method_not_allowed",
            413: "too_large",
            429: "rate_limited",
        }
        messages = {
            400: _("The request could not be understood."),
            401: _("Please log in."),
            403: _("You may not do this."),
            404: _("Not found."),
            405: _("This address does not accept that method."),
            413: _("The upload is too large."),
            429: _("Too many requests. Please wait a minute and try again."),
        }
        message = messages.get(status, err.description or "")
        if wants_json():
            response = make_response(_json_error(status, codes.get(status, "http_error"), message))
        else:
            template = "errors/429.html" if status == 429 else "errors/error.html"
            response = make_response(
                render_template(template, status=status, message=message), status
            )
        # Keep what the error says about when to come back (429, 503) or what is allowed (405).
        for name, value in err.get_headers():
            if name in ("Retry-After", "Allow"):
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def unexpected(err: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        db.session.rollback()
        message = _("Something went wrong on our side. Please try again.")
        if wants_json():
            return _json_error(500, "server_error", message)
        return render_template("errors/error.html", status=500, message=message), 500


# The main menu: (endpoint, label, action needed somewhere), the pages used most first.
# Entries for pages a domain has not registered are skipped. The first MAIN_MENU_ITEMS a
# person has stand in the menu's one row; the rest are under "More" (a <details>).
NAV = [
    ("field.home", _l("My team"), "report_status"),
    ("station.home", _l("Station"), "station"),
    ("tasks.index", _l("Tasks"), "view"),
    ("tasks.escalations", _l("Escalations"), "handle_escalations"),
    ("warnings.index", _l("Warnings"), "dispatch"),
    ("hierarchy.tree", _l("Units"), "view"),
    ("qr.mailbox", _l("Mailbox"), "mailbox"),
    ("auth.people", _l("People"), "sign_in_links"),
    ("hierarchy.import_export", _l("Import / export"), "import"),
    ("audit.index", _l("Audit log"), "audit"),
    ("jobs.status", _l("Background work"), "operate"),
]
MAIN_MENU_ITEMS = 3
# Who sends tasks sees these first; everyone else their own page (a lead's team, the
# station's counter), as NAV has it.
DISPATCHER_FIRST = ("tasks.index", "tasks.escalations", "warnings.index")


def register_template_helpers(app: Flask) -> None:
    """Every helper the templates share, registered here once: the app's own, and each
    domain's words and filters (its ``display.template_context``)."""
    from village_grid.auth import scope
    from village_grid.auth.labels import role_label
    from village_grid.hierarchy import display as hierarchy_display
    from village_grid.station import display as station_display
    from village_grid.tasks import display as tasks_display
    from village_grid.warnings import display as warnings_display

    for context in (
        hierarchy_display.template_context,
        tasks_display.template_context,
        station_display.template_context,
        warnings_display.template_context,
    ):
        app.context_processor(context)
    app.template_filter("iso_time")(tasks_display.iso_time)
    app.template_filter("deadline_left")(tasks_display.deadline_left)

    def nav_items() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """Menu entries whose page exists and for which the user holds a right somewhere:
        those of the menu's row, and those under "More"."""
        items = []
        for endpoint, label, action in NAV:
            if endpoint in app.view_functions and scope.may_somewhere(current_user, action):
                items.append((endpoint, str(label)))
        if scope.may_somewhere(current_user, "dispatch"):
            items.sort(key=lambda item: item[0] not in DISPATCHER_FIRST)  # stable
        return items[:MAIN_MENU_ITEMS], items[MAIN_MENU_ITEMS:]

    def team_name(team_id: int | None) -> str:
        """A team named with its grid (tasks.graph.team_label); the tree read once a request."""
        from flask import g

        from village_grid.extensions import db
        from village_grid.tasks.graph import get_graph, team_label

        if "unit_graph" not in g:
            g.unit_graph = get_graph(db.session)
        return team_label(g.unit_graph, team_id)

    @app.context_processor
    def helpers():
        from flask_babel import get_locale

        return {
            "nav_items": nav_items,
            "may": lambda action, unit: scope.may(current_user, action, unit),
            "has_role": lambda *roles: scope.has_role(current_user, *roles),
            "role_label": role_label,
            "team_name": team_name,
            "app_name": APP_NAME,
            "current_lang": str(get_locale() or "zh"),
        }
