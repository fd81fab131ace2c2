"""Test set-up: one app per session on the real engine, a clean database per test.

SQLite always; PostgreSQL when TEST_DATABASE_URL is set. The schema comes from
the Alembic migrations (never create_all), so every run also proves they apply
from empty. Factories live in tests/factories.py.
"""

from __future__ import annotations

import contextvars
import os
import threading

import pytest
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import create_engine, make_url, text
from werkzeug.serving import make_server

from village_grid import create_app
from village_grid.config import normalise_database_url
from village_grid.extensions import db, limiter


def per_worker_database(url: str | None) -> str | None:
    """Under pytest-xdist each worker gets its own PostgreSQL database beside the one
    named (``test`` → ``test_gw0``), created when missing: the tests reset whole schemas."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker:
        return url
    given = make_url(url)
    name = f"{given.database}_{worker}"
    admin = create_engine(normalise_database_url(url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return given.set(database=name).render_as_string(hide_password=False)


TEST_DATABASE_URL = per_worker_database(os.environ.get("TEST_DATABASE_URL"))


def reset_schema(engine) -> None:
    """Drop everything so the migrations start from empty."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        else:
            for (name,) in conn.execute(
                text("SELECT name FROM sqlite_master WHERE type='table'")
            ).all():
                if not name.startswith("sqlite_"):
                    conn.execute(text(f'DROP TABLE IF EXISTS "{name}"'))


def truncate_all(engine) -> None:
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        return
    with engine.connect() as conn:
        # SQLite ignores PRAGMA foreign_keys inside a transaction: switch it off
        # before, and back on after the commit (or the pooled connection would
        # run the next tests without foreign keys).
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        for t in tables:
            conn.execute(text(f'DELETE FROM "{t}"'))
        if conn.execute(text("SELECT 1 FROM sqlite_master WHERE name='sqlite_sequence'")).first():
            conn.execute(text("DELETE FROM sqlite_sequence"))
        conn.commit()
        conn.exec_driver_sql("PRAGMA foreign_keys=ON")
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def make_config(tmp_dir, **extra) -> dict:
    url = TEST_DATABASE_URL or f"sqlite:///{tmp_dir / 'test.db'}"
    cfg = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        # The station's ID numbers (encrypted, looked up by keyed hash): a fixed test key.
        "ID_NUMBER_KEY": "test-id-number-key-0123456789abcdef",
        "DATABASE_URL": url,
        "WTF_CSRF_ENABLED": False,
        "BASE_URL": "http://vg.test",
        "RATELIMIT_STORAGE_URI": "memory://",
        # Background work runs only where a test starts a worker.
        "JOBS_QUEUE": "off",
    }
    cfg.update(extra)
    return cfg


class IsolatedClient(FlaskClient):
    """Each request runs in a fresh context, as in a real server: it does not
    share the test's app context (session, ``g``, cached locale, logged-in user)."""

    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    app = create_app(make_config(tmp_path_factory.mktemp("db")))
    app.test_client_class = IsolatedClient
    with app.app_context():
        reset_schema(db.engine)
        upgrade()
    return app


def _forget_process_caches() -> None:
    """The database was wiped: caches keyed on the tree version must not survive it."""
    from village_grid.tasks.graph import forget_graph

    forget_graph()


@pytest.fixture(autouse=True)
def _app_context(app):
    """Each test runs inside an app context and leaves an empty database behind."""
    with app.app_context():
        yield
        db.session.remove()
        truncate_all(db.engine)
        _forget_process_caches()
    limiter.reset()
    app.extensions.pop("notify_budget", None)  # the robots' budgets (notify/budget.py)


@pytest.fixture
def client(app):
    return app.test_client()


# --- browser tests ------------------------------------------------------------
# Debian's chromium, driven by Playwright's Python package (a browser download
# by the test tool fails on these machines).
CHROMIUM = "/usr/bin/chromium"
requires_chromium = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is missing (apt-get install chromium)"
)


@pytest.fixture
def live_server(app, monkeypatch):
    """The app served on a free loopback port from a thread; plates point at it."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    monkeypatch.setitem(app.config, "BASE_URL", base)
    try:
        yield base
    finally:
        server.shutdown()
        thread.join(timeout=5)


def _launched_chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def browser():
    """Chromium for one test."""
    yield from _launched_chromium()


@pytest.fixture(scope="module")
def chromium():
    """Chromium shared by a module's tests (each opens its own contexts): a launch is
    seconds on a busy machine."""
    yield from _launched_chromium()


@pytest.fixture
def page(browser):
    """A phone-sized page (360 px) with a Chinese locale."""
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="zh-CN")
    yield context.new_page()
    context.close()
