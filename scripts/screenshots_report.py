"""The after-action report in the screenshots (scripts/screenshots.py): a night's flood
check, closed, with answers every way, calls for help, teams that climbed the tree and two
earlier checks to compare with; and the report's PDF as page images (pdftoppm)."""

from __future__ import annotations

import random
import shutil
import subprocess
import tempfile
from datetime import timedelta
from pathlib import Path


def _answer_all(s, people, task, households, start, rng, *, minutes, skip=0.0, helps=()):
    """Answers over ``minutes``: by the team's lead where ``people`` has one (else the
    first of them, a cadre), a third of them through a phone's queue, a few by the plate."""
    from village_grid.errors import OutOfScope
    from village_grid.tasks.statuses import record_status

    helps = list(helps)
    for i, household_id in enumerate(households):
        if rng.random() < skip:
            continue
        extra, status = {}, "safe"
        asking = bool(helps) and rng.random() < 0.08
        if asking:
            kind, note = helps.pop(0)
            status, extra = "needs_help", {"help_kind": kind, "note": note}
        elif rng.random() < 0.06:
            status = "not_home"
        for who in [None] if asking else people:
            try:
                record_status(
                    s,
                    who,
                    task_id=task.id,
                    household_id=household_id,
                    status=status,
                    now=start + timedelta(minutes=2 + minutes * (i / len(households)) ** 0.8),
                    client_op_id=f"demo-{task.id}-{i}" if who is not None and i % 3 == 0 else None,
                    **extra,
                )
                break
            except OutOfScope:
                continue
    s.commit()


def add_demo_report(demo, seed: int = 11) -> None:
    """Two earlier flood checks of the village and last night's, closed this morning."""
    from sqlalchemy import select

    from village_grid.extensions import db
    from village_grid.models import Escalation, User
    from village_grid.models.base import utcnow
    from village_grid.tasks.case_queue import resolve_escalation
    from village_grid.tasks.dispatch import close_task, dispatch_task
    from village_grid.tasks.escalation import run_escalations
    from village_grid.tasks.membership import members

    s = db.session
    rng = random.Random(seed)
    cadre = s.scalar(select(User).where(User.username == "cadre"))
    lead = s.scalar(select(User).where(User.username == "lead"))

    def sweep(title, start, minutes=60):
        task = dispatch_task(
            s,
            cadre,
            kind="sweep",
            subkind="flood",
            title=title,
            unit_id=demo.ids["village_id"],
            deadline_minutes=minutes,
            now=start,
        )
        s.commit()
        m = members(task)
        return task, list(s.scalars(select(m.c.household_id).order_by(m.c.household_id)))

    for days, pace in ((30, 70), (9, 45)):
        start = utcnow() - timedelta(days=days)
        task, households = sweep("防汛排查", start)
        _answer_all(s, [lead, cadre], task, households, start, rng, minutes=pace)
        close_task(s, cadre, task.id, now=start + timedelta(hours=3))
        s.commit()
    start = utcnow() - timedelta(hours=12)
    task, households = sweep("防汛排查：台风格美", start)
    helps = [("flooding", "一楼进水约30厘米，需要抽水泵"), ("medical", "老人腿脚不便，需要转移")]
    _answer_all(s, [lead, cadre], task, households, start, rng, minutes=55, skip=0.06, helps=helps)
    run_escalations(s, now=start + timedelta(minutes=61))
    s.commit()
    run_escalations(s, now=start + timedelta(minutes=95))
    s.commit()
    first_help = s.scalars(
        select(Escalation)
        .where(Escalation.task_id == task.id, Escalation.reason == "needs_help")
        .order_by(Escalation.opened_at)
    ).first()
    if first_help is not None:
        resolve_escalation(
            s,
            cadre,
            first_help.id,
            "抽水泵已送到，水已退",
            now=first_help.opened_at + timedelta(minutes=38),
        )
    close_task(s, cadre, task.id, now=start + timedelta(hours=4))
    s.commit()
    demo.ids["report_task_id"] = task.id


def pdf_pages(app, demo, out_dir: Path) -> list[Path]:
    """The report's PDF (as the cadre reads it) as one PNG a page: report-pdf-<n>.png."""
    from sqlalchemy import select

    from village_grid.extensions import db
    from village_grid.models import Task, User
    from village_grid.reports.making import make_pdf

    if not shutil.which("pdftoppm"):
        print("pdftoppm is missing: no PDF pages")
        return []
    with app.test_request_context("/"):
        cadre = db.session.scalar(select(User).where(User.username == "cadre"))
        task = db.session.get(Task, demo.ids["report_task_id"])
        pdf = make_pdf(db.session, cadre, task)
    for old in out_dir.glob("report-pdf-*.png"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "report.pdf"
        path.write_bytes(pdf)
        subprocess.run(
            ["pdftoppm", "-png", "-r", "70", str(path), str(out_dir / "report-pdf")], check=True
        )
    saved = sorted(out_dir.glob("report-pdf-*.png"))
    for p in saved:
        print(f"  {p.name}")
    return saved
