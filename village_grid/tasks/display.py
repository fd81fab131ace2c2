"""How the task pages show things: coverage as a percentage and a heat colour,
times from service rows, the time left to a deadline, and the words every task
template may use. Presentation only; no reads, no rules.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import format_datetime
from flask_babel import gettext as _

from village_grid.models import Task
from village_grid.models.base import utcnow
from village_grid.tasks import routing
from village_grid.tasks.forms import FLAG_LABELS
from village_grid.tasks.labels import (
    DONE_LABEL,
    HELP_LABELS,
    KIND_LABELS,
    NOTE_MAX,
    STATUS_LABELS,
    SUBKIND_LABELS,
    VIA_LABELS,
)


def template_context() -> dict:
    """The labels and limits every task template may use."""
    return {
        "status_labels": STATUS_LABELS,
        "help_labels": HELP_LABELS,
        "kind_labels": KIND_LABELS,
        "subkind_labels": SUBKIND_LABELS,
        "via_labels": VIA_LABELS,
        "done_label": DONE_LABEL,
        "flag_label": lambda f: FLAG_LABELS.get(f, f),
        "role_words": lambda role: routing.role_words(role, _),
        "note_max": NOTE_MAX,
        "now_utc": utcnow,
    }


def parse_iso(value: str | None) -> datetime | None:
    """A time from a service row ("2026-07-25T10:00:00Z") as a naive UTC datetime."""
    if not value:
        return None
    return datetime.fromisoformat(value.rstrip("Z"))


def case_times(rows: list[dict]) -> list[dict]:
    """Cards of ``case_queue.describe_escalations`` with their times as datetimes, for a
    page to format (the escalation queue, a lead's calls for help)."""
    for r in rows:
        for key in ("opened_at", "acknowledged_at", "resolved_at"):
            r[key] = parse_iso(r[key])
        if r["told"]:  # a notice not read: the person told, and when they read it
            r["told"] = {**r["told"], "read_at": parse_iso(r["told"]["read_at"])}
        if r["status_now"]:  # a call for help: the household's status since
            r["status_now"] = {**r["status_now"], "at": parse_iso(r["status_now"]["at"])}
    return rows


def percent(done: int, total: int) -> int:
    return int(done * 100 // total) if total else 0


def heat(done: int, total: int) -> str:
    """CSS class for coverage: red (little) to green (everyone reached)."""
    if not total:
        return "heat-none"
    if done >= total:
        return "heat-4"
    share = done / total
    for step, threshold in ((3, 0.75), (2, 0.5), (1, 0.25)):
        if share >= threshold:
            return f"heat-{step}"
    return "heat-0"


def iso_time(value: str | None) -> str:
    """Template filter: an ISO time from a service row as local HH:mm."""
    parsed = parse_iso(value)
    return format_datetime(parsed, "HH:mm") if parsed else ""


def deadline_left(task: Task) -> str:
    """Template filter: the time left to a task's deadline, in words."""
    if task.deadline is None:
        return ""
    left = task.deadline - utcnow()
    if left <= timedelta(0):
        return _("past the deadline")
    minutes = int(left.total_seconds() // 60)
    if minutes < 120:
        return _("%(n)s min left", n=minutes)
    if minutes < 48 * 60:
        return _("%(n)s hours left", n=minutes // 60)
    return _("%(n)s days left", n=minutes // 1440)
