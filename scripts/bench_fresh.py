"""A server as a cadre meets it after a restart, measured from outside (scripts/bench).

gunicorn (two workers, the ``gunicorn.conf.py`` settings: app and tree graph loaded in
the master before it forks) and one ``village-grid worker`` are started on the bench's
database. Once the health check answers 200, a sweep is sent to the root through the
API, as a phone sends it, and then:

- the root's progress is read until it counts every household;
- the outbox is watched: when the first lead's message was sent, when every team's
  message was queued (the worker tells ``TELL_BATCH_TEAMS`` teams per transaction);
- each process's memory is read from ``/proc/<pid>/smaps_rollup``: RSS, PSS (shared
  pages divided among the processes sharing them) and USS (its private pages).

A second sweep on the now warm server is the same run's baseline.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

from loadkit import BIN, ROOT, demo_admin, free_port, gunicorn

HEALTH_WAIT = 150  # seconds: a fresh worker ticks within a minute


def _request(port: int, method: str, path: str, body=None, token: str | None = None):
    """One request on a connection of its own (gunicorn closes idle ones in seconds)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    res = conn.getresponse()
    data = res.read()
    conn.close()
    return res.status, (json.loads(data) if data else None)


def memory(pid: int) -> dict:
    """RSS, PSS and USS of ``pid`` in MB (smaps_rollup)."""
    fields = {}
    for row in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, rest = row.partition(":")
        fields[name.strip()] = int(rest.split()[0])
    uss = fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)
    return {
        k: round(v / 1024)
        for k, v in (("rss", fields["Rss"]), ("pss", fields["Pss"]), ("uss", uss))
    }


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def figures(env: dict, workdir: Path, households: int) -> dict:
    from sqlalchemy import func, select

    from village_grid import create_app
    from village_grid.extensions import db
    from village_grid.hierarchy.demo import DEMO_PASSWORD
    from village_grid.models import OutboxMessage, Task, Unit

    env = dict(env, WEB_CONCURRENCY="2", JOBS_QUEUE="sqlite", JOBS_QUEUE_NAME="vg_bench_fresh")
    app = create_app()
    with app.app_context():
        root = db.session.scalar(select(Unit.id).where(Unit.parent_id.is_(None)).order_by(Unit.id))
        admin = demo_admin(db.session).username
    port = free_port()
    worker_log = open(workdir / "fresh-worker.log", "ab")  # noqa: SIM115
    t_start = time.perf_counter()
    worker = subprocess.Popen(
        [str(BIN / "village-grid"), "worker"],
        env=env,
        cwd=ROOT,
        stdout=worker_log,
        stderr=worker_log,
    )
    server = gunicorn("village_grid:create_app()", port, env, ROOT, log=workdir / "fresh-web.log")
    out: dict = {}
    try:
        deadline = time.perf_counter() + HEALTH_WAIT
        while _request(port, "GET", "/healthz")[0] != 200:
            if time.perf_counter() > deadline:
                raise SystemExit("the health check never answered 200 (is the worker running?)")
            time.sleep(0.5)
        out["healthy_after_s"] = round(time.perf_counter() - t_start, 1)
        status, body = _request(
            port, "POST", "/api/v1/auth/token", {"username": admin, "password": DEMO_PASSWORD}
        )
        token = body["token"]
        sweeps = []
        for n in (1, 2):  # fresh, then warm: the same run's baseline
            sent_at = _utcnow()
            t0 = time.perf_counter()
            status, task = _request(
                port,
                "POST",
                "/api/v1/tasks",
                {
                    "kind": "sweep",
                    "subkind": "flood",
                    "title": f"防汛排查 fresh {n}",
                    "unit_id": root,
                    "deadline_minutes": 60,
                },
                token,
            )
            if status != 201:
                raise SystemExit(f"dispatch failed: {status} {task}")
            dispatched = time.perf_counter() - t0
            while True:
                status, prog = _request(
                    port, "GET", f"/api/v1/tasks/{task['id']}/progress", None, token
                )
                if status == 200 and prog["total"] >= households:
                    break
                time.sleep(0.05)
            counted = time.perf_counter() - t0
            first_sent = all_queued = messages = None
            # The warm sweep's messages wait behind the fresh one's in the outbox: only
            # its dispatch and counts are the baseline.
            deadline = time.perf_counter() + (120 if n == 1 else 0)
            with app.app_context():
                like = OutboxMessage.event_key.like(f"dispatch:{task['id']}:%")
                while time.perf_counter() < deadline and (first_sent is None or all_queued is None):
                    if first_sent is None:
                        at = db.session.scalar(select(func.min(OutboxMessage.sent_at)).where(like))
                        first_sent = at and (at - sent_at).total_seconds()
                    if all_queued is None and db.session.get(Task, task["id"]).told_at is not None:
                        at = db.session.scalar(
                            select(func.max(OutboxMessage.created_at)).where(like)
                        )
                        all_queued = (at - sent_at).total_seconds()
                        messages = db.session.scalar(select(func.count()).where(like))
                    db.session.rollback()
                    time.sleep(0.1)
            sweeps.append(
                {
                    "dispatch_s": dispatched,
                    "counted_s": counted,
                    "first_sent_s": first_sent,
                    "all_queued_s": all_queued,
                    "messages": messages,
                }
            )
            if n == 1:
                pids = {"master": server.pid, "worker": worker.pid}
                pids.update({f"web {i}": p for i, p in enumerate(_children(server.pid), 1)})
                out["memory"] = {name: memory(pid) for name, pid in pids.items()}
        out["fresh"], out["warm"] = sweeps
        return out
    finally:
        server.terminate(), server.wait()
        worker.terminate(), worker.wait()
        worker_log.close()
