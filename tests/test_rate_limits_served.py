"""Rate limits count once per request on the set-up scripts/run serves
(gunicorn.conf.py), not once per worker: one worker process by default with
limits in memory; several workers when a shared store (Redis) is configured."""

from __future__ import annotations

import http.client
import os
import re
import runpy
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import TEST_DATABASE_URL

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"
LIMIT = 5


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


def _all_at_once(port: int, n: int, token: str) -> list[int]:
    """``n`` door-plate reads sent at the same moment, each on a connection of its own,
    so that every worker takes some."""
    start = threading.Barrier(n)
    statuses: list[int] = []

    def one() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        start.wait(10)
        conn.request("GET", f"/h/{token}", headers={"Connection": "close"})
        statuses.append(conn.getresponse().status)
        conn.close()

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return statuses


def _serve_and_count(app, tmp_path, batches: int = 1, **env_extra) -> tuple[list[list[int]], str]:
    """Serve the app as scripts/run does; for each batch, send 3 × LIMIT reads of one
    door plate (a new one each batch) at the same moment, each on a connection of its
    own so that several workers take some; the statuses of each batch, and the log."""
    port = _free_port()
    env = dict(
        os.environ,
        SECRET_KEY="test-secret-key",
        DATABASE_URL=TEST_DATABASE_URL or app.config["DATABASE_URL"],
        INSTANCE_PATH=str(tmp_path),
        QR_READ_LIMIT_PER_TOKEN=f"{LIMIT}/minute",
        **env_extra,
    )
    if "WEB_CONCURRENCY" not in env_extra:
        env.pop("WEB_CONCURRENCY", None)  # the default set-up
    log = tmp_path / "gunicorn.log"
    with open(log, "w") as out:
        server = subprocess.Popen(
            [
                str(GUNICORN),
                "-c",
                str(ROOT / "gunicorn.conf.py"),
                "--bind",
                f"127.0.0.1:{port}",
                "--access-logformat",
                "served-by %(p)s %(U)s",
                "village_grid:create_app()",
            ],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=out,
        )
        try:
            for _ in range(300):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            time.sleep(1.0)  # every worker up, not just the first
            statuses = [_all_at_once(port, 3 * LIMIT, f"{b:032d}") for b in range(batches)]
        finally:
            server.terminate()
            server.wait(30)
    return statuses, log.read_text()


def test_the_default_set_up_counts_each_limit_once(app, tmp_path):
    (statuses,), log = _serve_and_count(app, tmp_path)
    assert log.count("Booting worker") == 1, log[-2000:]
    assert statuses.count(429) == 2 * LIMIT, (statuses, log[-2000:])
    assert statuses.count(404) == LIMIT  # an unknown plate, counted all the same


@pytest.mark.skipif(not _redis_up(), reason="Redis not running on 127.0.0.1:6379")
def test_several_workers_count_each_limit_once_in_redis(app, tmp_path):
    # Which worker accepts a connection is the kernel's choice: on a busy machine one
    # worker can take a whole batch, so enough batches that several workers serve one.
    batches, log = _serve_and_count(
        app,
        tmp_path,
        batches=12,
        RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/15",
        RATELIMIT_KEY_PREFIX=f"vgtest-{uuid.uuid4().hex}",
        WEB_CONCURRENCY="3",
    )
    assert log.count("Booting worker") == 3
    for statuses in batches:
        assert statuses.count(429) == 2 * LIMIT, (statuses, log[-2000:])
    # At least one batch was served by several workers, and still counted exactly.
    served = re.findall(r"served-by <(\d+)> /h/(\d+)", log)
    workers_per_batch = [
        len({pid for pid, token in served if int(token) == b}) for b in range(len(batches))
    ]
    assert max(workers_per_batch) >= 2, workers_per_batch


def _gunicorn_settings(monkeypatch, **env) -> dict:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def test_each_instance_has_its_control_socket_and_the_log_no_query_strings(tmp_path, monkeypatch):
    a = _gunicorn_settings(monkeypatch, INSTANCE_PATH=str(tmp_path / "a"), PORT="8001")
    b = _gunicorn_settings(monkeypatch, INSTANCE_PATH=str(tmp_path / "b"), PORT="8001")
    c = _gunicorn_settings(monkeypatch, INSTANCE_PATH=str(tmp_path / "a"), PORT="8002")
    sockets = {a["control_socket"], b["control_socket"], c["control_socket"]}
    assert len(sockets) == 3 and not any(".gunicorn" in s for s in sockets)  # not the user's
    short = _gunicorn_settings(monkeypatch, INSTANCE_PATH="/srv/vg/instance", PORT="8001")
    assert short["control_socket"] == "/srv/vg/instance/gunicorn-127.0.0.1-8001.ctl"
    fmt = a["access_log_format"]
    assert "%(U)s" in fmt  # the path
    assert not any(atom in fmt for atom in ("%(r)s", "%(q)s", "%(f)s"))  # no query, no Referer
