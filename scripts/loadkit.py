"""Helpers shared by scripts/bench.py and scripts/load.py: a fresh PostgreSQL
database, a free port, gunicorn served with the settings of scripts/run, the
demo's administrator, the teams' counts taken from a task's rows."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

from village_grid.tasks.labels import REPORTED_STATUSES as ANSWERED

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# SQL: per team of task :t, its rows (``n``) and how many are at each answered status;
# the bench sets the teams' counts from it, the load test checks them against it.
ROW_COUNTS = (
    "(SELECT team_id, count(*) AS n, "
    + ", ".join(f"sum(CASE WHEN status = '{s}' THEN 1 ELSE 0 END) AS {s}" for s in ANSWERED)
    + " FROM assignments WHERE task_id = :t GROUP BY team_id)"
)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def reset_pg(url: str) -> None:
    """Empty the database at ``url``: its public schema dropped and made again."""
    from sqlalchemy import create_engine, text

    from village_grid.config import normalise_database_url

    engine = create_engine(normalise_database_url(url))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def gunicorn(
    app_spec: str,
    port: int,
    env: dict,
    chdir: Path,
    host: str = "127.0.0.1",
    log: Path | None = None,
) -> subprocess.Popen:
    """``app_spec`` under gunicorn with the settings scripts/run uses (gunicorn.conf.py),
    on ``host``:``port``; returns once the port answers. Its output goes to ``log``
    (nowhere by default)."""
    out = open(log, "ab") if log is not None else subprocess.DEVNULL  # noqa: SIM115
    try:
        proc = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "--config",
                str(ROOT / "gunicorn.conf.py"),
                "--bind",
                f"{host}:{port}",
                "--chdir",
                str(chdir),
                app_spec,
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT if log is not None else subprocess.DEVNULL,
        )
    finally:
        if log is not None:
            out.close()  # the child holds its own copy
    for _ in range(300):
        if proc.poll() is not None:
            break
        try:
            socket.create_connection((host, port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    proc.wait()
    raise RuntimeError(f"gunicorn {app_spec} did not start on {host}:{port}")


def demo_admin(session):
    """The demo's administrator (dispatches and prints for the whole county)."""
    from sqlalchemy import select

    from village_grid.models import RoleAssignment, User

    return session.scalars(
        select(User).join(RoleAssignment).where(RoleAssignment.role == "admin")
    ).first()
