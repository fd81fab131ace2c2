"""A county sweep's messages through 77 villages' own work-group robots (scripts/bench).

About 10,000 team-lead notices (one county sweep), 77 villages, each village's own
robot: a local HTTP stub on 127.0.0.1 that behaves as a WeCom group robot — it
takes at most 20 posts in any 60 seconds per key (beyond that it answers errcode
45009, as WeCom does) and refuses text over 2,048 bytes. The app delivers them
with its own code (``notify.deliver_pending``: the budget per robot, packing).

Time: a clock shared by the delivery and the stubs. It runs as real time while the
app works; when every due message is sent and some wait for their robot, it jumps
to the moment the next is due instead of sleeping (a worker would sleep). So
"time to deliver" is what a county would wait — the app's real work plus the
robots' limits — measured in about the app's real work time (printed beside it). The same run sends the same
messages through one robot (one deployment-wide NOTIFY_WEBHOOK_URL, as before
work groups) as the baseline, and prints the floor the limits set on the posts the
app made: the slowest robot's 60 s × (⌈its posts ÷ 20⌉ − 1).

    .venv/bin/python scripts/bench_robots.py [--messages 10000] [--robots 77]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import tempfile
import threading
import time
from collections import defaultdict, deque
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

PER_MINUTE = 20
WECOM_TEXT_BYTES = 2048
PORT = int(os.environ.get("BENCH_ROBOT_PORT", "5142"))


class FakeClock:
    """Real time while the app works; a jump, instead of a sleep, to when the next
    waiting message is due."""

    def __init__(self, start):
        self.start = start
        self.real0 = time.perf_counter()
        self.jumped = 0.0

    def __call__(self):
        return self.start + timedelta(seconds=time.perf_counter() - self.real0 + self.jumped)

    def jump_to(self, when) -> None:
        ahead = (when - self()).total_seconds()
        if ahead > 0:
            self.jumped += ahead


class Stubs:
    """WeCom group robots, one per key, on one port: 20 posts in any 60 s of the fake
    clock, 2,048 bytes of text a post."""

    def __init__(self, clock: FakeClock):
        self.clock = clock
        self.lock = threading.Lock()
        self.times: dict[str, deque] = defaultdict(deque)
        self.posts = 0
        self.per_key: dict[str, int] = defaultdict(int)
        self.messages = 0
        self.refused = 0
        self.too_long = 0
        stubs = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                key = parse_qs(urlsplit(self.path).query).get("key", [""])[0]
                payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                content = payload["text"]["content"]
                now = stubs.clock().timestamp()
                with stubs.lock:
                    window = stubs.times[key]
                    while window and window[0] <= now - 60:
                        window.popleft()
                    if len(window) >= PER_MINUTE:
                        stubs.refused += 1
                        answer = {"errcode": 45009, "errmsg": "api freq out of limit"}
                    elif len(content.encode()) > WECOM_TEXT_BYTES:
                        stubs.too_long += 1
                        answer = {"errcode": 40058, "errmsg": "content exceed max length"}
                    else:
                        window.append(now)
                        stubs.posts += 1
                        stubs.per_key[key] += 1
                        stubs.messages += content.count("【")
                        answer = {"errcode": 0, "errmsg": "ok"}
                body = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, key: str) -> str:
        return f"http://127.0.0.1:{PORT}/cgi-bin/webhook/send?key={key}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def notice(i: int, village: int) -> str:
    """A dispatch notice as a team lead gets it (the default language's wording)."""
    return (
        f"@队长{i} 【台风排查】台风“格美”登陆前排查 — 1 个小队，10 户：{village + 1}村"
        f"{i % 9 + 1}网格{i % 13 + 1}小队。截止 12月6日 18:00 https://vg.example.cn/tasks/1"
    )


def deliver(app, clock: FakeClock, budget) -> tuple[float, float, dict]:
    """Deliver everything; (seconds to deliver on the clock, seconds of real work, counts)."""
    from village_grid.extensions import db
    from village_grid.notify import service as notify

    start, real = clock(), time.perf_counter()
    totals: dict = defaultdict(int)
    while True:
        counts = notify.deliver_pending(
            db.session, clock=clock, budget=budget, limit=1_000_000, batch=500
        )
        for k, v in counts.items():
            totals[k] += v
        due = notify.next_due(db.session)
        if due is None:
            break
        clock.jump_to(due)
    return (clock() - start).total_seconds(), time.perf_counter() - real, dict(totals)


def scenario(args, workdir: Path, robots: int) -> dict:
    """The messages through ``robots`` robots (1: the deployment's one robot)."""
    from flask_migrate import upgrade

    from village_grid import create_app
    from village_grid.extensions import db
    from village_grid.hierarchy import robots as unit_robots
    from village_grid.hierarchy import service
    from village_grid.models import OutboxMessage
    from village_grid.models.base import utcnow
    from village_grid.notify import service as notify
    from village_grid.notify.budget import MemoryBudget

    path = workdir / f"robots-{robots}.db"
    clock = FakeClock(utcnow())
    stubs = Stubs(clock)
    app = create_app(
        {
            "SECRET_KEY": "bench",
            "ID_NUMBER_KEY": "bench-data-key-0123456789abcdef0123",
            "DATABASE_URL": f"sqlite:///{path}",
            "INSTANCE_PATH": str(workdir),
            "JOBS_QUEUE": "off",
            "RATELIMIT_ENABLED": False,
            "NOTIFY_CHANNEL": "wecom",
            "NOTIFY_WEBHOOK_URL": stubs.url("county"),
        }
    )
    try:
        with app.app_context():
            upgrade()
            county = service.create_unit(db.session, None, kind="county", name="县", parent_id=None)
            villages = []
            for v in range(args.robots):
                if v % 11 == 0:
                    town = service.create_unit(
                        db.session, None, kind="township", name=f"镇{v // 11}", parent_id=county.id
                    )
                villages.append(
                    service.create_unit(
                        db.session, None, kind="village", name=f"村{v}", parent_id=town.id
                    )
                )
            if robots > 1:
                for v, village in enumerate(villages):
                    unit_robots.set_robot(db.session, None, village.id, stubs.url(f"village{v}"))
            db.session.commit()
            per_village = math.ceil(args.messages / len(villages))
            rows, i = [], 0
            for v, village in enumerate(villages):
                for _ in range(per_village):
                    if i == args.messages:
                        break
                    rows.append(
                        {
                            "event_key": f"dispatch:1:user:{i}",
                            "body": notice(i, v),
                            "unit_id": village.id,
                            "channel": "wecom",
                        }
                    )
                    i += 1
            notify.enqueue_many(db.session, rows, now=clock())
            db.session.commit()
            size = sum(len(r["body"].encode()) for r in rows) / len(rows)
            robot_s, real_s, counts = deliver(app, clock, MemoryBudget(PER_MINUTE))
            left = db.session.scalar(
                db.select(db.func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status != "sent")
            )
    finally:
        stubs.close()
    per_post = stubs.messages / max(stubs.posts, 1)
    return {
        "robots": robots,
        "messages": len(rows),
        "bytes_a_message": round(size),
        "posts": stubs.posts,
        "messages_a_post": round(per_post, 1),
        "deliver_seconds": round(robot_s, 1),
        "real_seconds": round(real_s, 1),
        "floor_seconds": limits_floor(stubs.per_key.values()),
        "refused_45009": stubs.refused,
        "too_long": stubs.too_long,
        "not_sent": left,
        "counts": counts,
    }


def limits_floor(posts_per_robot) -> float:
    """The least time the robots' limits alone impose on these posts: a robot's first 20
    go at once, each next 20 a minute later, so its last post waits 60 s × (⌈posts ÷
    20⌉ − 1); the slowest robot sets the floor (0 s: no robot needs a second minute,
    and the app's own work is all the time there is)."""
    return float(max((60 * (math.ceil(p / PER_MINUTE) - 1) for p in posts_per_robot), default=0))


def report(own: dict, one: dict) -> None:
    print(
        f"  county sweep: {own['messages']:,} notices of ≈{own['bytes_a_message']} bytes, "
        f"{own['robots']} village robots (stubs: 20 posts/min, 2,048 bytes, fake clock)"
    )
    for r, label in ((own, "each village's robot"), (one, "one robot for the county")):
        print(
            f"  {label:<26} time to deliver {r['deliver_seconds']:>7.1f} s   floor {r['floor_seconds']:>7.1f} s"
            f"   posts {r['posts']:>5} ({r['messages_a_post']} msgs/post)   real work "
            f"{r['real_seconds']:.1f} s   45009 answers {r['refused_45009']}   not sent {r['not_sent']}"
        )


def figures(messages: int = 10_000, robots: int = 77) -> tuple[dict, dict]:
    """(each village's robot, one robot for the county), in that order, same messages."""
    args = argparse.Namespace(messages=messages, robots=robots)
    workdir = Path(tempfile.mkdtemp(prefix="vg-bench-robots-"))
    try:
        return scenario(args, workdir, robots), scenario(args, workdir, 1)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--messages", type=int, default=10_000)
    ap.add_argument("--robots", type=int, default=77)
    args = ap.parse_args()
    own, one = figures(args.messages, args.robots)
    report(own, one)
    return 0 if own["not_sent"] == 0 and one["not_sent"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
