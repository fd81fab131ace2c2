"""The county roster import beside the demo writer, in the same run (scripts/bench).

For N households: ``village-grid demo --households N`` into an empty database (the
demo writer: the same tree, households, members and people, made up in Python and
written in bulk), ``village-grid export`` of it as CSV (with its leads and grid
members), then ``village-grid import`` of that file into another empty database,
and once more into the same one (it must change nothing). Each command runs in a
process of its own; its wall time and peak memory (ru_maxrss) are printed.

    .venv/bin/python scripts/bench_import.py [--households 100000] [--database-url postgresql://...]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from loadkit import BIN, ROOT, reset_pg


def timed(cmd: list[str], env: dict) -> tuple[float, float, str]:
    """(seconds, peak MB, what it printed) of one command in a process of its own."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    out = proc.stdout.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{out[-3000:]}")
    return seconds, usage.ru_maxrss / 1024, out


def fresh(env: dict, url: str | None, path: Path) -> dict:
    env = dict(env)
    if url:
        reset_pg(url)
        env["DATABASE_URL"] = url
    else:
        path.unlink(missing_ok=True)
        env["DATABASE_URL"] = f"sqlite:///{path}"
    vg = str(BIN / "village-grid")
    subprocess.run([vg, "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True)
    return env


def figures(households: int, url: str | None) -> dict:
    vg = str(BIN / "village-grid")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = {**os.environ, "SECRET_KEY": "bench", "JOBS_QUEUE": "off"}
        env_a = fresh(env, url, work / "demo.db")
        demo_s, demo_mb, _ = timed([vg, "demo", "--households", str(households)], env_a)
        roster = work / "roster.csv"
        export_s, _mb, _ = timed([vg, "export", str(roster)], env_a)
        env_b = fresh(env, url, work / "import.db")
        import_s, import_mb, first = timed([vg, "import", str(roster)], env_b)
        again_s, again_mb, second = timed([vg, "import", str(roster)], env_b)
        people = people_page_ms(env_b)
    return {
        "households": households,
        "engine": "postgresql" if url else "sqlite",
        "file_mb": round(roster.stat().st_size / 2**20, 1) if roster.exists() else None,
        "demo_s": round(demo_s, 1),
        "demo_mb": round(demo_mb),
        "export_s": round(export_s, 1),
        "import_s": round(import_s, 1),
        "import_mb": round(import_mb),
        "ratio": round(import_s / demo_s, 2),
        "first": first.strip().splitlines()[-1],
        "again_s": round(again_s, 1),
        "again_mb": round(again_mb),
        "again": second.strip().splitlines()[-1],
        "people_page_ms": people,
    }


PEOPLE_PAGE = """
import json, time
from village_grid import create_app
from village_grid.auth.queries import PeopleFilter, people_page
from village_grid.extensions import db
from village_grid.models import User
app = create_app()
with app.app_context():
    admin = User(id=0, username="bench", password_hash="", active=True)
    from village_grid.models import RoleAssignment
    admin.roles = [RoleAssignment(role="admin", unit_id=None)]
    admin.login_token = "x"
    out = {}
    for name, f, offset in (
        ("first page", PeopleFilter(), 0),
        ("page 200", PeopleFilter(), 9950),
        ("never signed in, leads", PeopleFilter(role="team_lead", never_signed_in=True), 0),
        ("search by phone", PeopleFilter(q="1390000"), 0),
    ):
        best = None
        for _ in range(5):
            t = time.perf_counter()
            rows, total = people_page(db.session, admin, f, offset=offset)
            ms = (time.perf_counter() - t) * 1000
            best = ms if best is None else min(best, ms)
        out[name] = (round(best, 1), total)
        db.session.expunge_all()
    print(json.dumps(out, ensure_ascii=False))
"""


def people_page_ms(env: dict) -> dict:
    """The people list's query at the county's 11,000 people (best of five, in ms)."""
    out = subprocess.run(
        [str(BIN / "python"), "-c", PEOPLE_PAGE],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    import json

    return json.loads(out.strip().splitlines()[-1])


def report(f: dict) -> None:
    n = f"{f['households']:,}"
    print(f"county roster import ({n} households, {f['engine']})")
    print(f"  demo writer, same rows     {f['demo_s']:>7.1f} s  {f['demo_mb']:>5} MB")
    print(
        f"  import of its export       {f['import_s']:>7.1f} s  {f['import_mb']:>5} MB"
        f"   = {f['ratio']}x the demo writer (goal: at most 3x)"
    )
    print(f"    {f['first']}")
    print(f"  the same file again        {f['again_s']:>7.1f} s  {f['again_mb']:>5} MB")
    print(f"    {f['again']}")
    for name, (ms, total) in f["people_page_ms"].items():
        print(f"  people list: {name:<24} {ms:>7.1f} ms  ({total:,} people)")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--households", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    report(figures(args.households, args.database_url))
    return 0


if __name__ == "__main__":
    sys.exit(main())
