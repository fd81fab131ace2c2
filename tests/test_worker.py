"""It runs by itself: the app and its worker as scripts/run starts them (honcho,
Procfile) deliver a dispatch's messages and a call for help within seconds and
escalate an unconfirmed household after its deadline, with no CLI call; several
workers on PostgreSQL and Redis share the outbox and the tick; /healthz follows
the worker."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests
from sqlalchemy import func, select, update

from tests.conftest import TEST_DATABASE_URL
from tests.factories import PASSWORD, create_task, create_village
from village_grid.extensions import db
from village_grid.models import Escalation, OutboxMessage, Task, WorkerTick
from village_grid.models.base import utcnow
from village_grid.notify import service as notify

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.3).close()
        return True
    except OSError:
        return False


class Webhook:
    """A local HTTP server standing in for the WeCom robot: it keeps every JSON body."""

    def __init__(self):
        self.bodies: list[dict] = []
        self.lock = threading.Lock()
        self.delay = 0.0  # seconds each post takes to answer
        received = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                with received.lock:
                    received.bodies.append(body)
                time.sleep(received.delay)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def keys(self) -> list[str]:
        with self.lock:
            return [b.get("event_key", "") for b in self.bodies]

    def wait_for(self, condition, seconds: float) -> bool:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if condition(self.keys()):
                return True
            time.sleep(0.2)
        return condition(self.keys())

    def close(self):
        self.server.shutdown()


@pytest.fixture
def webhook():
    hook = Webhook()
    yield hook
    hook.close()


def _env(app, tmp_path, webhook: Webhook, **extra) -> dict:
    env = dict(
        os.environ,
        SECRET_KEY=app.config["SECRET_KEY"],
        DATABASE_URL=TEST_DATABASE_URL or app.config["DATABASE_URL"],
        INSTANCE_PATH=str(tmp_path),
        NOTIFY_CHANNEL="webhook",
        NOTIFY_WEBHOOK_URL=webhook.url,
        RATELIMIT_ENABLED="0",
        # A queue of this test's own: runs side by side on one Redis never take each other's jobs.
        JOBS_QUEUE_NAME=f"vg-test-{uuid.uuid4().hex[:12]}",
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        **extra,
    )
    for name in ("WEB_CONCURRENCY", "REDIS_URL", "JOBS_QUEUE", "BASE_URL", "PORT"):
        if name not in extra:
            env.pop(name, None)
    return env


def _start(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    out = open(log, "ab")  # noqa: SIM115 (the process keeps it)
    return subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )


def _sent() -> int:
    """Outbox messages recorded as sent (read afresh)."""
    db.session.expire_all()
    count = db.session.scalar(select(func.count()).where(OutboxMessage.status == "sent"))
    db.session.rollback()
    return count


def _stop(proc: subprocess.Popen, sig=signal.SIGTERM) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def _wait_for_port(port: int, seconds: float = 60) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"nothing listens on {port}")


def test_scripts_run_sends_and_escalates_by_itself(app, tmp_path, webhook):
    """Honcho with the Procfile, as scripts/run starts them: no CLI call anywhere."""
    village = create_village(grids=1, teams=2, households=2, leads=2)
    lead = village["lead"]
    household = village["households"][0]
    token, village_id = household.qr_token, village["village"].id
    db.session.commit()
    port = _free_port()
    log = tmp_path / "run.log"
    env = _env(
        app,
        tmp_path,
        webhook,
        PORT=str(port),
        BASE_URL=f"http://127.0.0.1:{port}",
        FILES_JOB_HOUSEHOLDS="1",
    )
    proc = _start([str(BIN / "honcho"), "start", "-f", "Procfile", "-p", str(port)], env, log)
    try:
        _wait_for_port(port)
        base = f"http://127.0.0.1:{port}"
        auth = requests.post(
            f"{base}/api/v1/auth/token",
            json={"username": village["cadre"].username, "password": PASSWORD},
            timeout=30,
        ).json()
        headers = {"Authorization": f"Bearer {auth['token']}"}
        started = time.monotonic()
        res = requests.post(
            f"{base}/api/v1/tasks",
            json={
                "kind": "sweep",
                "subkind": "flood",
                "title": "防汛排查",
                "unit_id": village_id,
                "deadline_minutes": 1,
            },  # fmt: skip
            headers=headers,
            timeout=30,
        )
        assert res.status_code == 201, res.text
        task_id = res.json()["id"]
        # Every team lead told within ten seconds.
        assert webhook.wait_for(lambda keys: f"dispatch:{task_id}:user:{lead.id}" in keys, 10), (
            webhook.keys(),
            log.read_text()[-3000:],
        )
        assert time.monotonic() - started < 10
        assert all(
            b["text"].find(base) >= 0 for b in webhook.bodies if "dispatch" in b["event_key"]
        )
        # A call for help from a door plate reaches the grid member and the cadre in ten seconds.
        started = time.monotonic()
        res = requests.post(
            f"{base}/api/v1/public/{token}/reports",
            json={"task_id": task_id, "status": "needs_help", "kind": "flooding"},
            timeout=30,
        )
        assert res.status_code == 201, res.text
        assert webhook.wait_for(lambda keys: sum(k.startswith("help:") for k in keys) >= 2, 10), (
            webhook.keys(),
            log.read_text()[-3000:],
        )
        # A big export (FILES_JOB_HOUSEHOLDS=1 here) is made by the worker, in a process
        # of its own (``village-grid job run file ID``), and downloaded when done.
        res = requests.get(f"{base}/api/v1/tasks/{task_id}/export.csv", headers=headers, timeout=30)
        assert res.status_code == 202, res.text
        poll = urljoin(base, res.headers["Location"])
        end = time.monotonic() + 30
        while (job := requests.get(poll, headers=headers, timeout=30).json())["state"] != "done":
            assert job["state"] in ("queued", "making") and time.monotonic() < end, (
                job,
                log.read_text()[-3000:],
            )
            time.sleep(0.3)
        got = requests.get(urljoin(base, job["download"]), headers=headers, timeout=30)
        assert got.status_code == 200 and got.text.count("\n") == 1 + 4  # heading, 4 households
        # The households nobody confirmed climb to the grid member once the deadline has
        # passed, on the worker's next tick (every minute). The minute is not waited out:
        # the deadline is moved to a moment ago.
        db.session.execute(
            update(Task).where(Task.id == task_id).values(deadline=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
        assert webhook.wait_for(
            lambda keys: any(k.startswith(f"overdue:{task_id}:") for k in keys), 75
        ), (webhook.keys(), log.read_text()[-3000:])
        assert requests.get(f"{base}/healthz", timeout=10).json()["ok"] is True
    finally:
        _stop(proc, signal.SIGINT)  # Ctrl-C stops everything scripts/run started
    assert proc.returncode is not None
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()


def test_healthz_follows_the_worker(app, tmp_path, webhook, client):
    env = _env(app, tmp_path, webhook)
    assert client.get("/healthz").status_code == 200  # JOBS_QUEUE=off in tests: nothing to wait for
    app.config["JOBS_QUEUE"] = "sqlite"
    try:
        res = client.get("/healthz")
        assert res.status_code == 503 and res.get_json()["worker"] is False  # no worker yet
        worker = _start([str(BIN / "village-grid"), "worker"], env, tmp_path / "worker.log")
        try:
            end = time.monotonic() + 60
            while client.get("/healthz").status_code != 200 and time.monotonic() < end:
                time.sleep(0.5)
            assert client.get("/healthz").status_code == 200
        finally:
            _stop(worker)
        # The worker stopped; two minutes later its last tick is too old.
        db.session.execute(update(WorkerTick).values(last_at=utcnow() - timedelta(minutes=3)))
        db.session.commit()
        res = client.get("/healthz")
        assert res.status_code == 503 and res.get_json() == {
            **res.get_json(),
            "database": True,
            "worker": False,
        }
    finally:
        app.config["JOBS_QUEUE"] = "off"


def test_a_worker_killed_mid_batch_resends_at_most_one_and_its_successor_goes_on_at_once(
    app, tmp_path, webhook
):
    """kill -9 of the worker while it sends (30 ms a post): each delivery was recorded as
    it happened, so only the post in flight can come twice (with its event_key); the
    worker started again takes up what the dead one had claimed at once, not after the
    claim runs out (NOTIFY_CLAIM_SECONDS, 120 s) and the next tick."""
    n = 80
    notify.enqueue_many(
        db.session,
        [{"event_key": f"crash:{i}", "body": f"第{i}条", "channel": "webhook"} for i in range(n)],
    )
    db.session.commit()
    webhook.delay = 0.03
    env = _env(app, tmp_path, webhook)
    command = [str(BIN / "village-grid"), "worker"]
    first = _start(command, env, tmp_path / "worker1.log")
    try:
        assert webhook.wait_for(lambda keys: len(keys) >= 10, 60), tmp_path / "worker1.log"
        _stop(first, signal.SIGKILL)  # mid-batch: it holds a claimed batch of 20
    finally:
        _stop(first)
    before = len(set(webhook.keys()))
    assert before < n
    second = _start(command, env, tmp_path / "worker2.log")
    try:
        # From the moment it runs (Python and the app take seconds to load on a busy machine).
        end = time.monotonic() + 60
        while "consumer started" not in (tmp_path / "worker2.log").read_text():
            assert time.monotonic() < end and second.poll() is None
            time.sleep(0.1)
        restarted = time.monotonic()
        assert webhook.wait_for(lambda keys: len(set(keys)) >= n, 10), (
            len(set(webhook.keys())),
            (tmp_path / "worker2.log").read_text()[-3000:],
        )
        took = time.monotonic() - restarted
        # The stub saw the last post before it answered; its outcome is committed after.
        end = time.monotonic() + 10
        while time.monotonic() < end and _sent() < n:
            time.sleep(0.1)
    finally:
        _stop(second)
    counts = Counter(webhook.keys())
    assert set(counts) == {f"crash:{i}" for i in range(n)}
    assert sum(c - 1 for c in counts.values()) <= 1, counts.most_common(3)
    assert took < 10
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).where(OutboxMessage.status == "sent")) == n


@pytest.mark.skipif(not (TEST_DATABASE_URL and _redis_up()), reason="needs PostgreSQL and Redis")
def test_two_workers_deliver_each_message_once_and_survive_a_kill(app, tmp_path, webhook):
    n = 2000
    notify.enqueue_many(
        db.session,
        [{"event_key": f"load:{i}", "body": f"第{i}条", "channel": "webhook"} for i in range(n)],
    )
    db.session.commit()
    env = _env(
        app, tmp_path, webhook, REDIS_URL="redis://127.0.0.1:6379/14", NOTIFY_CLAIM_SECONDS="5"
    )
    workers = [
        _start([str(BIN / "village-grid"), "worker"], env, tmp_path / f"worker{i}.log")
        for i in range(2)
    ]
    try:
        assert webhook.wait_for(lambda keys: len(keys) >= n // 4, 60), len(webhook.keys())
        _stop(workers[0], signal.SIGKILL)  # killed mid-delivery
        assert webhook.wait_for(lambda keys: len(set(keys)) >= n, 120), len(set(webhook.keys()))
    finally:
        for worker in workers:
            _stop(worker)
    counts = Counter(webhook.keys())
    assert set(counts) == {f"load:{i}" for i in range(n)}
    repeats = sum(c - 1 for c in counts.values())
    assert repeats <= 1, repeats  # at most the post in flight when killed; same event_key
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).where(OutboxMessage.status == "sent")) == n


@pytest.mark.skipif(not (TEST_DATABASE_URL and _redis_up()), reason="needs PostgreSQL and Redis")
def test_the_tick_opens_each_case_once_under_two_workers(app, tmp_path, webhook):
    village = create_village(grids=2, teams=2, households=3)
    task = create_task(
        village["village"],
        village["cadre"],
        deadline_minutes=1,
        now=utcnow() - timedelta(minutes=5),
    )
    db.session.commit()
    env = _env(app, tmp_path, webhook, REDIS_URL="redis://127.0.0.1:6379/14")
    workers = [
        _start([str(BIN / "village-grid"), "worker"], env, tmp_path / f"worker{i}.log")
        for i in range(2)
    ]
    try:
        assert webhook.wait_for(
            lambda keys: any(k.startswith(f"overdue:{task.id}:") for k in keys), 90
        )
        time.sleep(3)
    finally:
        for worker in workers:
            _stop(worker)
    db.session.expire_all()
    rows = db.session.execute(
        select(Escalation.task_team_id, Escalation.level).where(
            Escalation.task_id == task.id, Escalation.reason == "overdue"
        )
    ).all()
    assert len(rows) == len(village["teams"])  # one case a team, at level 1
    assert Counter(rows).most_common(1)[0][1] == 1
    assert Counter(webhook.keys()).most_common(1)[0][1] == 1
