"""Making a report: the page's HTML and the A4 PDF from the same sections and charts.

``make_html`` and ``make_pdf`` are plain functions ``(session, actor, task, unit_id)`` a
page, the API or a worker's job calls (actor None: the whole unit, as the worker sees
it). The PDF goes through the product's one PDF path (``village_grid/pdf.py``), which
embeds the shipped Chinese font.
"""

from __future__ import annotations

from datetime import datetime

from flask import render_template
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from village_grid.kinds import KIND_LABELS as UNIT_KIND_LABELS
from village_grid.models import Task, User
from village_grid.pdf import render_pdf
from village_grid.reports import charts, labels
from village_grid.reports.queries import report
from village_grid.tasks.labels import (
    ESCALATION_REASON_LABELS,
    HELP_LABELS,
    VIA_LABELS,
    kind_label,
    status_label,
)


def duration(minutes: int | None) -> str:
    """Minutes in words: "45 min", "2 h 5 min"; "—" when it did not happen."""
    if minutes is None:
        return "—"
    if minutes < 60:
        return _("%(m)s min", m=minutes)
    h, m = divmod(minutes, 60)
    if h >= 48:
        return _("%(d)s days %(h)s h", d=h // 24, h=h % 24)
    return _("%(h)s h %(m)s min", h=h, m=m) if m else _("%(h)s h", h=h)


def context(data: dict) -> dict:
    """The report's data with its charts and the words its template uses."""
    task = data["task"]
    ctx = {
        **data,
        "labels": labels,
        "kind_name": kind_label(task.kind, task.subkind),
        "status_label": lambda s: status_label(s, task.kind),
        "help_labels": HELP_LABELS,
        "via_labels": VIA_LABELS,
        "reason_labels": ESCALATION_REASON_LABELS,
        "unit_kind_labels": UNIT_KIND_LABELS,
        "duration": duration,
        "title": f"{task.title} · {data['unit'].name} · {labels.TITLE}",
    }
    cov = data.get("coverage")
    if cov:
        deadline = str(labels.DEADLINE_MARK)
        ctx["main_chart"] = charts.coverage_chart(
            cov["unit"]["curve"],
            cov["span"],
            cov["deadline_at"],
            title=data["unit"].name,
            deadline_label=deadline,
        )
        ctx["small_charts"] = [
            charts.coverage_chart(
                c["curve"], cov["span"], cov["deadline_at"], title=c["name"], small=True
            )
            for c in cov["children"][: labels.SMALL_MULTIPLES]
        ]
    earlier = data.get("earlier")
    if earlier and earlier["rows"]:
        here = cov["unit"]["minutes_to"][labels.COMPARED_AT] if cov else None
        rows = [(_("This task"), here)] + [
            (r["created_at"].strftime("%Y-%m-%d"), r["minutes"]) for r in earlier["rows"]
        ]
        ctx["earlier_chart"] = charts.bar_chart(rows)
    return ctx


def make_html(
    session: Session,
    actor: User | None,
    task: Task,
    unit_id: int | None = None,
    *,
    now: datetime | None = None,
) -> str:
    """The report as a page (within a request: it has the site's menu)."""
    data = report(session, actor, task, unit_id, now=now)
    return render_template("reports/report.html", **context(data))


def make_pdf(
    session: Session,
    actor: User | None,
    task: Task,
    unit_id: int | None = None,
    *,
    now: datetime | None = None,
) -> bytes:
    """The report as an A4 PDF, its font embedded."""
    ctx = context(report(session, actor, task, unit_id, now=now))
    return render_pdf(render_template("reports/report_pdf.html", **ctx), title=ctx["title"])
