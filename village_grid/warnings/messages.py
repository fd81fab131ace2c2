"""What the cadre of a village is told when a warning drafts, amends or withdraws its
sweep: at once, with the link to the draft page. Outbox rows for
``notify.enqueue_many``, worded in the default language."""

from __future__ import annotations

import networkx as nx
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from village_grid.models import OfficialWarning, Task
from village_grid.notify import service as notify
from village_grid.tasks import routing
from village_grid.tasks.labels import kind_label


def draft_link(task_id: int) -> str:
    return f"{current_app.config['BASE_URL']}/warnings/drafts/{task_id}"


def headline(warning: OfficialWarning) -> str:
    return warning.headline or warning.event or warning.identifier


def _text(change: str, warning: OfficialWarning, task: Task, households: int) -> str:
    words = {
        "head": headline(warning),
        "kind": kind_label("sweep", task.subkind),
        "n": households,
        "link": draft_link(task.id),
    }
    if change == "drafted":
        return _(
            "%(head)s · %(kind)s drafted (%(n)s households), send it with one tap: %(link)s",
            **words,
        )
    if change == "amended":
        return _(
            "%(head)s · the warning was updated and the draft changed with it: %(link)s", **words
        )
    if change == "withdrawn":
        return _(
            "%(head)s · the warning no longer covers this village; the draft is withdrawn.", **words
        )
    if change == "sent_updated":
        return _(
            "%(head)s · the warning was updated; the %(kind)s already sent goes on: %(link)s",
            **words,
        )
    return _(
        "%(head)s · the warning was lifted; the %(kind)s already sent goes on until you close it: %(link)s",
        **words,
    )


def cadre_messages(
    g: nx.DiGraph, warning: OfficialWarning, changes: list[tuple[str, Task, int]]
) -> list[dict]:
    """One message per village touched (``(change, task, households)``; change: drafted,
    amended, withdrawn, sent_updated, sent_cancelled), to whoever is
    on duty for it from the village up (its cadre first)."""
    out = []
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        for change, task, households in changes:
            decision = routing.responsible(g, task.unit_id) if task.unit_id in g else None
            person = decision.assignee if decision is not None else None
            out.append(
                {
                    "event_key": f"warning:{warning.id}:task:{task.id}",
                    "recipient_id": person.id if person else None,
                    "recipient_label": person.name[:100] if person else _("nobody on duty"),
                    "body": (f"@{person.name} " if person else "")
                    + _text(change, warning, task, households),
                    "priority": notify.SOON,
                }
            )
    return out
