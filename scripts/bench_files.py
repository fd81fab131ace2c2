"""The household export of a task as a file the worker makes (village_grid/files),
beside a bare ``COPY … TO STDOUT`` of the same rows in the same order, same run; the
request that asks for it; and the task's after-action report (its PDF), made the same way.

- request: the page's ``GET /tasks/<id>/export.csv`` of the whole task, as its sender
  (the demo's administrator): it must answer (a redirect to the file's page) in < 1 s;
- worker: a fresh process that makes the file (``files.service.run``, what the huey
  job calls): its time and its peak RSS (VmHWM), < 60 s and < 300 MB at a million;
- baseline: the same rows with their team, grid and status, bare SQL to a file
  (PostgreSQL's COPY; on SQLite, a plain SELECT written with the csv module);
- report: ``GET /tasks/<id>/report.pdf`` of the whole task answers at once (a redirect
  to the file's page), and a fresh process makes the PDF as the worker's job does: its
  time and peak RSS, < 60 s and < 300 MB at a million (it never loads the tree graph).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

from loadkit import ROOT, demo_admin

WORKER = """
import re, sys, time
from village_grid import create_app
from village_grid.extensions import db
from village_grid.files import service
app = create_app()
with app.app_context():
    t0 = time.perf_counter()
    state = service.run(db.session, int(sys.argv[1]))
    took = time.perf_counter() - t0
hwm = re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1)
print(state, took, int(hwm) / 1024)
"""

# The export's rows, bare: every household of the task's teams with its team, grid and
# latest status, in tree order.
BARE = (
    "SELECT h.code, g.name, t.name, h.head_name, h.door_no, h.phone, a.status,"
    " a.help_kind, a.note, a.updated_at, a.updated_via"
    " FROM task_teams tt JOIN units t ON t.id = tt.team_id"
    " JOIN units g ON g.id = t.parent_id"
    " JOIN households h ON h.team_id = tt.team_id"
    " LEFT JOIN assignments a ON a.task_id = tt.task_id AND a.household_id = h.id"
    " WHERE tt.task_id = {task} ORDER BY t.path, h.seq"
)


def in_own_process(file_id: int) -> tuple[str, float, float, float]:
    """Make file ``file_id`` in a fresh process, as the worker's job does: its final state,
    the making's seconds, the process's peak RSS in MB, and the process's seconds with
    its start-up."""
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", WORKER, str(file_id)],
        env=os.environ,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    wall_s = time.perf_counter() - t0
    state, worker_s, rss_mb = out.stdout.split()[-3:]
    return state, float(worker_s), float(rss_mb), wall_s


def report_figures(app, client, task_id: int) -> dict:
    """The task's report as a PDF: the request that asks for it, then the file made in a
    fresh process (the worker's job); its size and pages."""
    from sqlalchemy import select

    from village_grid.extensions import db
    from village_grid.files.service import files_dir
    from village_grid.models import FileJob

    t0 = time.perf_counter()
    res = client.get(f"/tasks/{task_id}/report.pdf")
    request_s = time.perf_counter() - t0
    assert res.status_code == 302 and "/files/" in res.headers["Location"], res.status_code
    with app.app_context():
        file_id = db.session.scalar(select(FileJob.id).order_by(FileJob.id.desc()))
    state, worker_s, rss_mb, wall_s = in_own_process(file_id)
    with app.app_context():
        job = db.session.get(FileJob, file_id)
        path = os.path.join(files_dir(), job.stored) if job.stored else None
        pages = None
        if path and os.path.exists(path):
            pages = pdf_pages(path)
            os.remove(path)
        size = job.size or 0
    return {
        "report_request_s": request_s,
        "report_state": state,
        "report_worker_s": worker_s,
        "report_process_s": wall_s,
        "report_rss_mb": rss_mb,
        "report_kb": size / 1e3,
        "report_pages": pages,
    }


def pdf_pages(path: str) -> int | None:
    """Pages of a PDF (poppler's ``pdfinfo``); None without it."""
    try:
        info = subprocess.run(["pdfinfo", path], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    found = re.search(r"^Pages:\s+(\d+)", info.stdout, re.M)
    return int(found.group(1)) if found else None


def bare_copy(db, task_id: int, path: str) -> int:
    """The baseline: the same rows to a file, bare; how many bytes."""
    sql = BARE.format(task=int(task_id))
    engine = db.engine
    with open(path, "wb") as out:
        if engine.dialect.name == "postgresql":
            raw = engine.raw_connection()
            try:
                cur = raw.driver_connection.cursor()
                with cur.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)") as copy:
                    for chunk in copy:
                        out.write(chunk)
            finally:
                raw.close()
        else:
            import csv
            import io

            from sqlalchemy import text

            text_out = io.TextIOWrapper(out, encoding="utf-8", newline="")
            writer = csv.writer(text_out)
            with engine.connect() as conn:
                for row in conn.execution_options(yield_per=5000).execute(text(sql)):
                    writer.writerow(row)
            text_out.flush()
            text_out.detach()
    return os.path.getsize(path)


def figures(task_id: int, workdir: str) -> dict:
    from sqlalchemy import select

    from village_grid import create_app
    from village_grid.auth.sessions import start_login
    from village_grid.extensions import db
    from village_grid.models import FileJob

    app = create_app()
    with app.app_context():
        s = db.session
        admin = demo_admin(s)
        login_token = start_login(s, admin)
        s.commit()
        engine_name = db.engine.dialect.name
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = login_token
        session["_fresh"] = True
    client.get("/")  # the app's first request (its caches) is not the export's
    t0 = time.perf_counter()
    res = client.get(f"/tasks/{task_id}/export.csv")
    request_s = time.perf_counter() - t0
    assert res.status_code == 302 and "/files/" in res.headers["Location"], (
        res.status_code,
        "a worker must be configured (JOBS_QUEUE not off) and the task larger than "
        "FILES_JOB_HOUSEHOLDS",
    )
    with app.app_context():
        job = db.session.scalar(select(FileJob).order_by(FileJob.id.desc()))
        file_id, total = job.id, job.total

    state, worker_s, rss_mb, wall_s = in_own_process(file_id)
    with app.app_context():
        job = db.session.get(FileJob, file_id)
        size = job.size
        t0 = time.perf_counter()
        bare_bytes = bare_copy(db, task_id, os.path.join(workdir, "bare.csv"))
        bare_s = time.perf_counter() - t0
        from village_grid.files.service import files_dir

        os.remove(os.path.join(files_dir(), job.stored)) if job.stored else None
    made = report_figures(app, client, task_id)
    return {
        **made,
        "engine": engine_name,
        "households": total,
        "state": state,
        "request_s": request_s,
        "worker_s": worker_s,
        "worker_process_s": wall_s,
        "worker_rss_mb": rss_mb,
        "file_mb": size / 1e6,
        "bare_s": bare_s,
        "bare_mb": bare_bytes / 1e6,
    }


def report(f: dict, line) -> None:
    n = f"{f['households']:,}"
    line(
        "export request (page), answers at once",
        f"{f['request_s'] * 1000:.0f} ms",
        "-",
        None,
        "< 1 s",
        f["request_s"] < 1,
    )
    line(
        f"export CSV of {n} households (worker)",
        f"{f['worker_s']:.1f} s",
        f"{f['bare_s']:.1f} s",
        f["worker_s"] / f["bare_s"] if f["bare_s"] else None,
        "< 60 s",
        f["state"] == "done" and f["worker_s"] < 60,
    )
    line(
        "export worker peak RSS (VmHWM)",
        f"{f['worker_rss_mb']:.0f} MB",
        "-",
        None,
        "< 300 MB",
        f["worker_rss_mb"] < 300,
    )
    print(
        f"  (file {f['file_mb']:.0f} MB; bare {'COPY' if f['engine'] == 'postgresql' else 'SELECT'}"
        f" {f['bare_mb']:.0f} MB; worker process with start-up {f['worker_process_s']:.1f} s)"
    )
    line(
        "report PDF request (page), answers at once",
        f"{f['report_request_s'] * 1000:.0f} ms",
        "-",
        None,
        "< 1 s",
        f["report_request_s"] < 1,
    )
    line(
        f"report PDF of {n} households (worker)",
        f"{f['report_worker_s']:.1f} s",
        "-",
        None,
        "< 60 s",
        f["report_state"] == "done" and f["report_worker_s"] < 60,
    )
    line(
        "report worker peak RSS (VmHWM)",
        f"{f['report_rss_mb']:.0f} MB",
        "-",
        None,
        "< 300 MB",
        f["report_rss_mb"] < 300,
    )
    print(
        f"  (report {f['report_kb']:.0f} kB, {f['report_pages'] or '?'} pages; worker process"
        f" with start-up {f['report_process_s']:.1f} s)"
    )
