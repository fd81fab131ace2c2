"""What the tasks domain tells the domains above it: a task closed.

The reports sit above the tasks (a report reads a task), so closing a task does not
call them: ``dispatch.close_task`` sends ``task_closed`` in the caller's transaction and
``reports/closing.py`` receives it (connected when it is imported, which the app
factory does at start-up) to tell the person who sent the task where its report is.
"""

from __future__ import annotations

from datetime import datetime

from blinker import Namespace
from sqlalchemy.orm import Session

_signals = Namespace()

# A task was closed (by hand, the API, the station's broadcast). Receivers get the
# session and keyword arguments ``task`` and ``now``.
task_closed = _signals.signal("task-closed")


def closed(session: Session, task, now: datetime) -> None:
    """After ``task`` closed (see ``reports.closing.on_closed``)."""
    task_closed.send(session, task=task, now=now)
