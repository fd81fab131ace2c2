"""Static files under content-hashed names, cached for a year; no build step.

``url_for('static', filename='app.css')`` gives ``/static/app.1a2b3c4d5e.css``: the
name carries the first ten hex digits of the file's SHA-256, taken from the file
itself (remembered per file until its size or time changes). A request for that
name gets the file with ``Cache-Control: public, max-age=31536000, immutable`` —
a phone never asks for it again, and a changed file has a new name. A name without
a hash, or with an old one (a page from before a change), gets the current file
with ``no-cache`` (the browser revalidates it). Flask-Compress compresses them.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import threading

from flask import Flask, current_app, send_from_directory
from werkzeug.exceptions import NotFound
from werkzeug.security import safe_join

YEAR = 365 * 24 * 3600
DIGITS = 10
_HASHED = re.compile(rf"^(?P<stem>.+)\.(?P<digest>[0-9a-f]{{{DIGITS}}})(?P<ext>\.[A-Za-z0-9]+)$")

_lock = threading.Lock()
# filename -> (mtime_ns, size, digest)
_digests: dict[str, tuple[int, int, str]] = {}


def digest(filename: str) -> str | None:
    """The content hash of a static file (None if there is no such file)."""
    path = safe_join(current_app.static_folder or "", filename)
    if path is None:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    key = (st.st_mtime_ns, st.st_size)
    known = _digests.get(filename)
    if known is not None and known[:2] == key:
        return known[2]
    with open(path, "rb") as fh:
        value = hashlib.sha256(fh.read()).hexdigest()[:DIGITS]
    with _lock:
        _digests[filename] = (*key, value)
    return value


def hashed_name(filename: str) -> str:
    """``app.css`` → ``app.<hash>.css`` (unchanged when the file is missing)."""
    value = digest(filename)
    if value is None:
        return filename
    stem, dot, ext = filename.rpartition(".")
    return f"{stem}.{value}.{ext}" if dot else f"{filename}.{value}"


def _hash_static_urls(endpoint: str, values: dict) -> None:
    if endpoint == "static" and "filename" in values:
        values["filename"] = hashed_name(values["filename"])


def serve(filename: str):
    """The static view: a hashed name is cached for a year, anything else revalidated."""
    match = _HASHED.match(filename)
    if match is not None:
        plain = match["stem"] + match["ext"]
        current = digest(plain)
        if current is not None:
            response = send_from_directory(
                current_app.static_folder, plain, max_age=YEAR if current == match["digest"] else 0
            )
            if current == match["digest"]:
                response.cache_control.public = True
                response.cache_control.immutable = True
            else:
                response.cache_control.no_cache = True
            return response
    if digest(filename) is None:
        raise NotFound()
    response = send_from_directory(current_app.static_folder, filename, max_age=0)
    response.cache_control.no_cache = True
    return response


class _NoCookieOnStatic:
    """A static file is the same for everyone: its answer must not say ``Vary: Cookie``
    (Flask adds it when anything touched the session — Flask-Login does on every answer)
    nor set a cookie. With it, a browser or service worker holding the file under a
    cookie since refreshed (a session cookie is signed anew on each answer) would
    download it again."""

    def __init__(self, wsgi_app, prefix: str):
        self.wsgi_app = wsgi_app
        self.prefix = prefix

    def __call__(self, environ, start_response):
        if not environ.get("PATH_INFO", "").startswith(self.prefix):
            return self.wsgi_app(environ, start_response)

        def start(status, headers, exc_info=None):
            kept = []
            for name, value in headers:
                key = name.lower()
                if key == "set-cookie":
                    continue
                if key == "vary":
                    value = ", ".join(
                        v.strip() for v in value.split(",") if v.strip().lower() != "cookie"
                    )
                    if not value:
                        continue
                kept.append((name, value))
            return start_response(status, kept, exc_info)

        return self.wsgi_app(environ, start)


def init_app(app: Flask) -> None:
    app.url_defaults(_hash_static_urls)
    app.view_functions["static"] = serve
    app.wsgi_app = _NoCookieOnStatic(app.wsgi_app, (app.static_url_path or "/static") + "/")
