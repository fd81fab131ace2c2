"""The auth blueprint and what its page modules share: a safe place to go next and an
id posted in a form.

``routes.py`` (log in and out, one's password, the language), ``routes_people.py``
(the people page and a person's page), ``routes_sheet.py`` (a grid's sign-in sheet) and
``routes_signin.py`` (sign-in links and codes) each register their pages on :data:`bp`;
none imports another (``routes.py`` loads the others).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, request

from village_grid.edge import to_id

bp = Blueprint("auth", __name__)


def safe_next(target: str | None) -> str | None:
    """Only a path on this site: never send someone to another host after login."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def form_id(name: str) -> int:
    """An id posted in a form field; ValueError unless it is one the database can hold."""
    value = to_id(request.form[name])
    if value is None:
        raise ValueError(name)
    return value
