"""When a task closes, or its deadline passes, its sender is told where the report is.

A task closed (``tasks/events.py: task_closed``, sent by ``dispatch.close_task`` from the
page, the API and the station) queues one message to the person who sent it, with the
report's link, in the same transaction. The report itself is made when it is opened (a
village's in about a second; ``reports/making.py``). The worker's tick calls
:func:`tell_due` for tasks whose deadline has passed: their sender gets the link once.
One outbox key per task and event (``report:<task>:closed``, ``report:<task>:deadline``),
so nothing is said twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from village_grid.models import Task
from village_grid.notify.service import enqueue_many
from village_grid.tasks import events
from village_grid.tasks.queries import live

# How far back the tick looks for deadlines passed (a worker down for longer says nothing).
DEADLINE_LOOKBACK = timedelta(days=1)


def report_link(task_id: int) -> str:
    return f"{current_app.config['BASE_URL']}/tasks/{task_id}/report"


def message(task: Task, event: str) -> dict | None:
    """The outbox row telling ``task``'s sender that its report is ready (None: nobody sent it)."""
    if task.created_by_id is None:
        return None
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        if event == "closed":
            text = _("[Report] %(title)s is closed. Its after-action report: %(link)s")
        else:
            text = _("[Report] %(title)s reached its deadline. The report so far: %(link)s")
        text = text % {"title": task.title, "link": report_link(task.id)}
    name = task.created_by.display_name if task.created_by else ""
    return {
        "event_key": f"report:{task.id}:{event}",
        "recipient_id": task.created_by_id,
        "recipient_label": name[:100],
        "body": f"@{name} {text}" if name else text,
    }


def on_closed(session: Session, *, task: Task, now: datetime) -> None:
    """Receiver of ``task_closed``: the sender gets the report's link."""
    if task.draft:  # a draft withdrawn, not a task that ran
        return
    row = message(task, "closed")
    if row is not None:
        enqueue_many(session, [row], now=now)


events.task_closed.connect(on_closed)


def tell_due(session: Session, now: datetime) -> int:
    """Tasks whose deadline passed since DEADLINE_LOOKBACK, still open: their senders get
    the report's link (once a task). Returns how many messages were new."""
    tasks = session.scalars(
        select(Task).where(
            live(),
            Task.closed_at.is_(None),
            Task.deadline.is_not(None),
            Task.deadline <= now,
            Task.deadline > now - DEADLINE_LOOKBACK,
        )
    ).all()
    rows = [r for r in (message(t, "deadline") for t in tasks) if r is not None]
    return enqueue_many(session, rows, now=now)
