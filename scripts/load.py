"""scripts/load: a district deployment on one machine, under a bounded storm.

Two app servers (gunicorn with the scripts/run settings) on two loopback
addresses, 127.0.0.1 and 127.0.0.2, and two ``village-grid worker`` processes,
all sharing one PostgreSQL database and one Redis (queue and rate-limit
counters), as docs/deploy.md lays out with a proxy in front. A demo tree is
built, a sweep dispatched to its root through the API, then for ``--seconds``
``--clients`` clients send door-plate answers and team leads' offline syncs,
every request to the other server than the one before. Afterwards it checks:

- every 2xx door-plate answer is in ``status_events`` exactly once (each answer
  carries a note of its own), and no event is there that was not answered 2xx;
- every team's counts (moved by each report) agree with its households' rows;
- every sync operation answered "applied" has exactly one event with its op id,
  and batches sent again to the other server are "duplicate", adding nothing;
- no 5xx and no failed connection; the workers sent every queued message;
- the door-plate limits counted in Redis, and, in a short phase of its own
  with a low limit per plate, requests for one plate alternating between the
  servers are refused once the limit is reached in total (not per server).

Exits non-zero when a check fails. Every process it starts is stopped on the
way out (Ctrl-C and failures included).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from loadkit import ANSWERED, BIN, ROOT, ROW_COUNTS, demo_admin, free_port, gunicorn, reset_pg

HOSTS = ("127.0.0.1", "127.0.0.2")
KEY_PREFIX = "vg_load"  # RATELIMIT_KEY_PREFIX: this script's counters, and only these, are flushed
CHINA = timezone(timedelta(hours=8))
OPS_PER_SYNC = 5


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--households", type=int, default=3000)
    ap.add_argument("--seconds", type=float, default=30, help="length of the storm")
    ap.add_argument("--clients", type=int, default=16, help="clients sending at once")
    ap.add_argument(
        "--sync-share", type=float, default=0.25, help="share of requests that are syncs"
    )
    ap.add_argument(
        "--database-url",
        default=os.environ.get("LOAD_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/vg_load"),
        help="created when missing, and emptied",
    )
    ap.add_argument(
        "--redis-url",
        default=os.environ.get("LOAD_REDIS_URL", "redis://127.0.0.1:6379/11"),
        help="a database number of its own: the queue's and this script's limiter keys are flushed",
    )
    ap.add_argument("--limit", type=int, default=5, help="per-plate limit of the rate-limit phase")
    args = ap.parse_args()

    # SIGTERM ends the run like Ctrl-C does: through the finally that stops everything.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started ignoring it
    workdir = Path(tempfile.mkdtemp(prefix="vg-load-"))
    started = time.perf_counter()
    procs: list[subprocess.Popen] = []
    try:
        return run(args, workdir, procs)
    finally:
        stop(procs)
        print(f"logs: {workdir}; {time.perf_counter() - started:.0f} s in all")


def run(args, workdir: Path, procs: list) -> int:
    print(
        f"village_grid load — {date.today()} — {os.cpu_count()} cores — "
        f"Python {platform.python_version()}"
    )
    prepare_database(args.database_url)
    flush_redis(args.redis_url)
    env = dict(
        os.environ,
        SECRET_KEY=secrets.token_urlsafe(32),  # the same on every host
        ID_NUMBER_KEY=secrets.token_urlsafe(32),
        DATABASE_URL=args.database_url,
        REDIS_URL=args.redis_url,
        JOBS_QUEUE="redis",
        RATELIMIT_STORAGE_URI=args.redis_url,
        RATELIMIT_KEY_PREFIX=KEY_PREFIX,
        RATELIMIT_ENABLED="1",
        # Every client comes from 127.0.0.1: raised so that one address is not refused
        # by design, still counted in Redis.
        QR_WRITE_LIMIT_PER_TOKEN="1000000/minute",
        QR_WRITE_LIMIT_PER_ADDR="1000000/minute",
        NOTIFY_CHANNEL="log",
        INSTANCE_PATH=str(workdir),
    )
    env.pop("WEB_CONCURRENCY", None)  # gunicorn.conf.py's choice with a shared store
    print(f"database: {args.database_url.split('@')[-1]}   redis: {args.redis_url}")
    t0 = time.perf_counter()
    vg = str(BIN / "village-grid")
    for cmd in (["db", "upgrade"], ["demo", "--households", str(args.households)]):
        subprocess.run([vg, *cmd], env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    print(f"demo tree of {args.households:,} households built in {time.perf_counter() - t0:.1f} s")

    for n in (1, 2):
        log = open(workdir / f"worker{n}.log", "ab")  # noqa: SIM115
        procs.append(
            subprocess.Popen(
                [vg, "worker"], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
            )
        )
        log.close()
    servers = start_servers(env, workdir, procs, "storm")
    print("two app servers: " + ", ".join(f"{h}:{p}" for h, p in servers) + "; two workers")

    os.environ.update(env)
    from village_grid import create_app

    app = create_app()
    task_id, dispatch_s = dispatch(servers[0], app)
    print(
        f"sweep {task_id} dispatched to the root through POST /api/v1/tasks in {dispatch_s:.2f} s"
    )
    plates, leads, reserved = field(app, servers)

    checks: list[tuple[str, bool, str]] = []
    storm = Storm(servers, task_id, plates, leads, args)
    storm.run()
    report_storm(storm, checks)
    check_database(app, task_id, storm, checks)
    check_outbox(app, checks)
    check_redis_counted(args.redis_url, checks)

    # The rate-limit phase: the same two servers, started again with a low limit per plate.
    for proc in procs[2:]:
        stop([proc])
    del procs[2:]
    limited = dict(env, QR_WRITE_LIMIT_PER_TOKEN=f"{args.limit}/minute")
    servers = start_servers(limited, workdir, procs, "limits")
    check_shared_limit(servers, task_id, reserved, args.limit, checks)

    print()
    for label, ok, detail in checks:
        print(f"  {'PASS' if ok else 'FAIL'}  {label:<58} {detail}")
    failed = [c for c in checks if not c[1]]
    print("all checks passed" if not failed else f"{len(failed)} check(s) failed")
    return 1 if failed else 0


def prepare_database(url: str) -> None:
    """Create the database when missing, then empty it. The test suites' are refused."""
    from sqlalchemy import create_engine, text

    from village_grid.config import normalise_database_url

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not url.startswith("postgresql") or not name:
        raise SystemExit("--database-url must name a PostgreSQL database")
    if name == "test" or name.startswith("test_"):
        raise SystemExit(f"refusing to empty {name!r}: the test suites use it")
    server = urlunsplit(parts._replace(path="/postgres"))
    engine = create_engine(normalise_database_url(server), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    reset_pg(url)


def flush_redis(url: str) -> None:
    """Drop the queue's keys and this script's rate-limit counters, nothing else."""
    import redis

    client = redis.Redis.from_url(url)
    gone = 0
    for pattern in ("huey.*", f"*{KEY_PREFIX}*"):
        keys = list(client.scan_iter(match=pattern, count=1000))
        if keys:
            gone += client.delete(*keys)
    client.close()
    if gone:
        print(f"redis: {gone} keys of an earlier run removed")


def start_servers(env: dict, workdir: Path, procs: list, phase: str) -> list[tuple[str, int]]:
    servers = []
    for n, host in enumerate(HOSTS, 1):
        port = free_port(host)
        log = workdir / f"web{n}-{phase}.log"
        procs.append(gunicorn("village_grid:create_app()", port, env, ROOT, host=host, log=log))
        servers.append((host, port))
    return servers


def stop(procs: list) -> None:
    """SIGTERM to each process this script started, then SIGKILL to any still there after 15 s."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + 15
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# gunicorn closes a kept connection idle for 2 s (its keepalive): one idle longer than
# this is opened again before the next request, rather than race the server's close.
IDLE_SECONDS = 1.0


def request(conn, method: str, path: str, body=None, token: str | None = None):
    now = time.monotonic()
    if now - getattr(conn, "last_used", now) > IDLE_SECONDS:
        conn.close()
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    res = conn.getresponse()
    data = res.read()
    conn.last_used = time.monotonic()
    return res.status, (json.loads(data) if data else None), res


def dispatch(server: tuple[str, int], app) -> tuple[int, float]:
    """A sweep to the root, sent as a cadre's phone sends it (the admin, logged in by the API)."""
    from sqlalchemy import select

    from village_grid.extensions import db
    from village_grid.hierarchy.demo import DEMO_PASSWORD
    from village_grid.models import Unit

    with app.app_context():
        root = db.session.scalars(
            select(Unit.id).where(Unit.parent_id.is_(None)).order_by(Unit.id)
        ).first()
        username = demo_admin(db.session).username
    conn = http.client.HTTPConnection(*server, timeout=120)
    status, body, _ = request(
        conn, "POST", "/api/v1/auth/token", {"username": username, "password": DEMO_PASSWORD}
    )
    if status != 200:
        raise SystemExit(f"login failed: {status} {body}")
    t0 = time.perf_counter()
    status, out, _ = request(
        conn,
        "POST",
        "/api/v1/tasks",
        {
            "kind": "sweep",
            "subkind": "flood",
            "title": "防汛排查 load",
            "unit_id": root,
            "deadline_minutes": 60,
        },
        token=body["token"],
    )
    elapsed = time.perf_counter() - t0
    conn.close()
    if status != 201:
        raise SystemExit(f"dispatch failed: {status} {out}")
    return out["id"], elapsed


def field(app, servers) -> tuple[list[str], list[dict], str]:
    """The plates that answer, the team leads that sync (a bearer token each, and their
    households), and one plate kept out of the storm for the rate-limit phase."""
    from sqlalchemy import select

    from village_grid.auth.service import issue_token
    from village_grid.extensions import db
    from village_grid.hierarchy.demo import DEMO_PASSWORD
    from village_grid.models import Household, RoleAssignment, User
    from village_grid.models.households import unseal_plate_token

    with app.app_context():
        s = db.session
        households = s.execute(
            select(Household.id, Household.qr_token_sealed, Household.team_id).order_by(
                Household.id
            )
        ).all()
        lead_rows = s.execute(
            select(User, RoleAssignment.unit_id)
            .join(RoleAssignment)
            .where(RoleAssignment.role == "team_lead")
            .order_by(User.id)
        ).all()
        by_team: dict[int, list[int]] = {}
        for h in households:
            by_team.setdefault(h.team_id, []).append(h.id)
        key = app.config["SECRET_KEY"]
        leads = [
            {"token": issue_token(key, user), "households": by_team[team]}
            for user, team in lead_rows
            if by_team.get(team)
        ]
        first = lead_rows[0][0].username
        reserved, *plates = [unseal_plate_token(h.qr_token_sealed) for h in households]
    # One lead logs in on the second server: its token must serve on the first (one SECRET_KEY).
    conn = http.client.HTTPConnection(*servers[1], timeout=30)
    status, body, _ = request(
        conn, "POST", "/api/v1/auth/token", {"username": first, "password": DEMO_PASSWORD}
    )
    conn.close()
    if status != 200:
        raise SystemExit(f"a lead's login failed on {servers[1][0]}: {status} {body}")
    leads[0]["token"] = body["token"]
    return plates, leads, reserved


class Storm:
    """``clients`` threads, each with a kept connection to both servers, sending until the
    time is up; every answer is recorded (what was sent, what came back, how long)."""

    def __init__(self, servers, task_id: int, plates: list[str], leads: list[dict], args):
        self.servers, self.task_id, self.plates, self.leads = servers, task_id, plates, leads
        self.args = args
        self.lock = threading.Lock()
        self.plate_results: list[tuple[int, str, float, int]] = []  # status, note, seconds, server
        self.sync_results: list[
            tuple[int, list, float, int]
        ] = []  # status, results, seconds, server
        self.replays: list[tuple[int, list]] = []  # status, results of batches sent twice
        self.errors: Counter = Counter()
        self.elapsed = 0.0

    def run(self) -> None:
        threads = [
            threading.Thread(target=self.client, args=(n,), daemon=True)
            for n in range(self.args.clients)
        ]
        t0 = time.perf_counter()
        self.deadline = t0 + self.args.seconds
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.elapsed = time.perf_counter() - t0

    def client(self, n: int) -> None:
        rng = random.Random(n)
        conns = [http.client.HTTPConnection(h, p, timeout=60) for h, p in self.servers]
        turn, i = n % 2, 0
        while time.perf_counter() < self.deadline:
            turn, i = 1 - turn, i + 1
            try:
                if rng.random() < self.args.sync_share:
                    self.sync(conns, turn, rng)
                else:
                    self.answer(conns[turn], turn, f"load {n}-{i}", rng)
            except (OSError, http.client.HTTPException) as exc:
                with self.lock:
                    self.errors[type(exc).__name__] += 1
                conns[turn].close()  # reconnects on the next request
        for c in conns:
            c.close()

    def answer(self, conn, server: int, note: str, rng) -> None:
        help_ = rng.random() < 0.03
        body = {
            "task_id": self.task_id,
            "status": "needs_help" if help_ else "safe",
            "kind": "flooding" if help_ else "",
            "note": note,
        }
        t0 = time.perf_counter()
        status, _, _ = request(
            conn, "POST", f"/api/v1/public/{rng.choice(self.plates)}/reports", body
        )
        with self.lock:
            self.plate_results.append((status, note, time.perf_counter() - t0, server))

    def sync(self, conns, server: int, rng) -> None:
        lead = rng.choice(self.leads)
        at = datetime.now(CHINA).isoformat(timespec="seconds")
        ops = [
            {
                "op_id": str(uuid.uuid4()),
                "task_id": self.task_id,
                "household_id": hid,
                "status": rng.choice(("safe", "safe", "safe", "not_home")),
                "at": at,
            }
            for hid in rng.sample(lead["households"], min(OPS_PER_SYNC, len(lead["households"])))
        ]
        t0 = time.perf_counter()
        status, out, _ = request(
            conns[server], "POST", "/api/v1/field/sync", {"ops": ops}, lead["token"]
        )
        results = out.get("results", []) if isinstance(out, dict) else []
        with self.lock:
            self.sync_results.append((status, results, time.perf_counter() - t0, server))
        if status == 200 and rng.random() < 0.1:
            # The phone heard nothing back and sends the batch again, to the other host.
            status, out, _ = request(
                conns[1 - server], "POST", "/api/v1/field/sync", {"ops": ops}, lead["token"]
            )
            with self.lock:
                self.replays.append(
                    (status, out.get("results", []) if isinstance(out, dict) else [])
                )


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))] * 1000


def report_storm(storm: Storm, checks: list) -> None:
    t = storm.elapsed
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"\nstorm: {storm.args.clients} clients for {t:.1f} s, every request to the other server"
        f" (load average after: {load} on {os.cpu_count()} cores)"
    )
    print(f"  {'kind':<28} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}  statuses")
    kinds = (
        ("door-plate answer", storm.plate_results),
        (f"team-lead sync ({OPS_PER_SYNC} ops)", storm.sync_results),
    )
    everything = []
    for label, rows in kinds:
        times = [r[2] for r in rows]
        everything += times
        statuses = Counter(r[0] for r in rows)
        print(
            f"  {label:<28} {len(rows):>9,} {len(rows) / t:>8.0f} {pct(times, 0.5):>8.1f} "
            f"{pct(times, 0.99):>8.1f}  {dict(sorted(statuses.items()))}"
        )
    print(
        f"  {'all':<28} {len(everything):>9,} {len(everything) / t:>8.0f} "
        f"{pct(everything, 0.5):>8.1f} {pct(everything, 0.99):>8.1f}"
    )
    per_server = Counter(r[3] for rows in (storm.plate_results, storm.sync_results) for r in rows)
    print(
        "  per server: "
        + ", ".join(f"{storm.servers[k][0]} {v:,}" for k, v in sorted(per_server.items()))
        + f"; sync batches sent twice: {len(storm.replays)}"
    )
    all_statuses = [r[0] for r in storm.plate_results + storm.sync_results] + [
        r[0] for r in storm.replays
    ]
    fives = sum(1 for s in all_statuses if s >= 500)
    checks.append(("no 5xx", fives == 0, f"{fives} of {len(all_statuses):,}"))
    checks.append(("no failed connection", not storm.errors, dict(storm.errors) or "none"))
    checks.append(
        (
            "both servers served",
            len(per_server) == 2 and min(per_server.values()) > 0,
            ", ".join(f"{storm.servers[k][0]} {v:,}" for k, v in sorted(per_server.items())),
        )
    )
    other = Counter(s for s in all_statuses if not 200 <= s < 300 and s < 500)
    checks.append(("no 4xx in the storm (limits raised)", not other, str(dict(other) or "none")))


def check_database(app, task_id: int, storm: Storm, checks: list) -> None:
    from sqlalchemy import text

    from village_grid.extensions import db

    answered = Counter(note for status, note, _, _ in storm.plate_results if 200 <= status < 300)
    applied = Counter(
        r["op_id"]
        for status, results, _, _ in storm.sync_results
        if status == 200
        for r in results
        if r["result"] == "applied"
    )
    results = Counter(
        r["result"] for status, rs, _, _ in storm.sync_results if status == 200 for r in rs
    )
    replayed = Counter(r["result"] for status, rs in storm.replays if status == 200 for r in rs)
    with app.app_context():
        s = db.session
        notes = Counter(
            dict(
                s.execute(
                    text(
                        "SELECT note, count(*) FROM status_events WHERE task_id = :t "
                        "AND via = 'household_qr' GROUP BY note"
                    ),
                    {"t": task_id},
                ).all()
            )
        )
        op_ids = Counter(
            dict(
                s.execute(
                    text(
                        "SELECT client_op_id, count(*) FROM status_events WHERE task_id = :t "
                        "AND client_op_id IS NOT NULL GROUP BY client_op_id"
                    ),
                    {"t": task_id},
                ).all()
            )
        )
        # The teams' counts, moved by every report under its team's lock, against the
        # households' rows: a team whose counts drifted under the storm is listed.
        drifted = s.execute(
            text(
                f"SELECT tt.team_id FROM task_teams tt LEFT JOIN {ROW_COUNTS} r"
                " ON r.team_id = tt.team_id WHERE tt.task_id = :t AND ("
                " tt.households <> tt.pending + "
                + " + ".join(f"tt.{a}" for a in ANSWERED)
                + "".join(f" OR tt.{a} <> coalesce(r.{a}, 0)" for a in ANSWERED)
                + ")"
            ),
            {"t": task_id},
        ).all()
        teams = s.execute(
            text("SELECT count(*), sum(households - pending) FROM task_teams WHERE task_id = :t"),
            {"t": task_id},
        ).one()
    checks.append(
        (
            "every team's counts agree with its households' statuses",
            not drifted,
            f"{teams[0]:,} teams, {int(teams[1] or 0):,} households reached, "
            f"{len(drifted)} teams off",
        )
    )
    plate_ok = notes == answered and all(v == 1 for v in notes.values())
    checks.append(
        (
            "every 2xx door-plate answer in the database once",
            plate_ok,
            f"{sum(answered.values()):,} answered 2xx, {sum(notes.values()):,} events "
            f"({sum(1 for v in notes.values() if v > 1)} twice, "
            f"{len(set(answered) - set(notes))} missing, {len(set(notes) - set(answered))} unasked)",
        )
    )
    sync_ok = op_ids == applied and all(v == 1 for v in op_ids.values())
    checks.append(
        (
            "every applied sync op in the database once",
            sync_ok,
            f"{sum(applied.values()):,} applied, {sum(op_ids.values()):,} events with their op ids "
            f"({sum(1 for v in op_ids.values() if v > 1)} twice, "
            f"{len(set(applied) - set(op_ids))} missing, {len(set(op_ids) - set(applied))} unasked)",
        )
    )
    checks.append(
        (
            "no sync op rejected or duplicate on first sending",
            set(results) <= {"applied"},
            str(dict(results)),
        )
    )
    checks.append(
        (
            "batches sent again (other server): all duplicate",
            set(replayed) <= {"duplicate"},
            str(dict(replayed) or "none sent"),
        )
    )


def check_outbox(app, checks: list, wait: float = 60) -> None:
    """The workers drain the outbox (the dispatch's messages, the calls for help)."""
    from sqlalchemy import text

    from village_grid.extensions import db

    deadline = time.monotonic() + wait
    while True:
        with app.app_context():
            rows = db.session.execute(
                text("SELECT status, claimed_by, count(*) FROM outbox GROUP BY status, claimed_by")
            ).all()
            db.session.rollback()
        pending = sum(n for status, _, n in rows if status != "sent")
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(1)
    by_worker = Counter({who or "?": n for status, who, n in rows if status == "sent"})
    checks.append(
        (
            "the workers sent every queued message",
            pending == 0,
            f"{sum(by_worker.values()):,} sent ({', '.join(f'{n:,}' for n in by_worker.values())} "
            f"by {len(by_worker)} workers), {pending} not",
        )
    )


def check_redis_counted(url: str, checks: list) -> None:
    import redis

    client = redis.Redis.from_url(url)
    keys = [k.decode() for k in client.scan_iter(match=f"*{KEY_PREFIX}*plate-write*", count=1000)]
    client.close()
    checks.append(
        (
            "door-plate limits counted in Redis",
            len(keys) > 1,
            f"{len(keys):,} counters under {KEY_PREFIX!r}",
        )
    )


def check_shared_limit(servers, task_id: int, plate: str, limit: int, checks: list) -> None:
    """``3 × limit`` answers for one plate, alternating between the servers: ``limit``
    accepted in total, the rest refused (429) by both servers."""
    conns = [http.client.HTTPConnection(h, p, timeout=30) for h, p in servers]
    seen = []
    for i in range(3 * limit):
        body = {"task_id": task_id, "status": "safe", "note": f"limit {i}"}
        status, _, res = request(conns[i % 2], "POST", f"/api/v1/public/{plate}/reports", body)
        seen.append((i % 2, status, res.getheader("Retry-After")))
    for c in conns:
        c.close()
    accepted = [s for s in seen if 200 <= s[1] < 300]
    refused = [s for s in seen if s[1] == 429]
    line = " ".join(f"{HOSTS[srv][-1]}:{status}" for srv, status, _ in seen)
    print(f"\nrate limit {limit}/minute per plate, {len(seen)} answers alternating: {line}")
    ok = (
        len(accepted) == limit
        and len(refused) == len(seen) - limit
        and all(200 <= s[1] < 300 for s in seen[:limit])
        and {s[0] for s in refused} == {0, 1}
        and all(s[2] for s in refused)
    )
    checks.append(
        (
            "rate limit counted across both servers",
            ok,
            f"{len(accepted)} accepted (limit {limit} in total, not {2 * limit}), "
            f"{len(refused)} refused by both, with Retry-After",
        )
    )


if __name__ == "__main__":
    sys.exit(main())
