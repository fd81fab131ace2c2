"""What the "my team" pages show, put together from the queries: one team's open
tasks with each household's status and tally, its notices and letters; the words
``static/field.js`` shows (through data attributes, translated here); the web app
manifest and the service worker with the current file names. Presentation only:
no rules, no writes.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from flask import Flask, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from village_grid.auth.queries import people_on
from village_grid.field import labels, queries
from village_grid.hierarchy.labels import FLAG_LABELS
from village_grid.i18n import APP_NAME
from village_grid.models import Unit, User
from village_grid.qr.labels import CATEGORIES
from village_grid.qr.labels import STATUSES as LETTER_STATUSES
from village_grid.tasks import case_queue
from village_grid.tasks.display import case_times
from village_grid.tasks.labels import HELP_LABELS, PENDING, kind_label, status_label
from village_grid.tasks.queries import tasks_read_by

# Static files the service worker keeps for offline use (served under hashed names).
OFFLINE_FILES = ("app.css", "field.css", "app.js", "field.js", "icon.svg")


def team_context(session: Session, user: User, team: Unit, *, now: datetime) -> dict:
    """Everything one team's page shows, for ``user`` (a lead, or someone acting for one)."""
    tasks = queries.open_tasks(session, team.id)
    households = queries.households(session, team.id)
    task_ids = [t.id for t in tasks]
    rows = queries.statuses(session, team.id, task_ids)
    read = tasks_read_by(session, user.id, [t.id for t in tasks if t.kind == "notice"])
    sections = []
    for task in tasks:
        if task.kind == "notice":
            continue
        reached = [h for h in households if (task.id, h.id) in rows]
        confirmed = sum(1 for h in reached if rows[(task.id, h.id)]["status"] != PENDING)
        sections.append(
            {
                "task": task,
                "label": kind_label(task.kind, task.subkind),
                "households": [(h, rows[(task.id, h.id)]) for h in reached],
                "confirmed": confirmed,
                "total": len(reached),
                "overdue": task.deadline is not None and task.deadline < now,
            }
        )
    help_cases = case_times(case_queue.open_calls_for_help(session, team.id))
    leads = [p for p, role in people_on(session, team) if role == "team_lead"]
    # A team may have two leads (a deputy): either sees the page as their own.
    lead = next((p for p in leads if p.id == user.id), leads[0] if leads else None)
    return {
        "team": team,
        "team_name": queries.team_name(session, team.id) or team.name,
        "lead": lead,
        "acting": lead is not None and lead.id != user.id,
        "notices": [t for t in tasks if t.kind == "notice" and t.id not in read],
        "sections": sections,
        "help_cases": help_cases,
        "households": households,
        "letters": queries.letters(session, team.id),
        "task_ids": task_ids,
        "rendered_at": now,
        "flags_that_matter": labels.FLAGS_THAT_MATTER,
        "flag_labels": FLAG_LABELS,
        "help_labels": HELP_LABELS,
        "letter_categories": CATEGORIES,
        "letter_statuses": LETTER_STATUSES,
        "status_word": status_label,
    }


def shell() -> dict:
    """The words and addresses static/field.js needs, translated (placeholders in braces)."""
    words = {
        "online": _("Online"),
        "offline": _("Offline · data of {time}"),
        "queued": _("{n} waiting to send"),
        "waiting": _("waiting to send"),
        "sending": _("Sending…"),
        "sent": _("Sent for {n} households"),
        "saved": _("Saved on the phone: it is sent when there is signal."),
        "rejected": _("Not saved: {reason}"),
        "login": _("Please log in again: {n} taps are kept on the phone."),
        "send_now": _("Send now"),
        "recorded": _("Recorded: {label}"),
    }
    return {
        "field_words": json.dumps(words, ensure_ascii=False),
        "sync_url": url_for("api.field_sync"),
        "sw_url": url_for("field.service_worker"),
    }


def manifest() -> dict:
    """The web app manifest: installable, opening on the lead's page."""
    return {
        "name": _("%(app)s · My team", app=APP_NAME),
        "short_name": str(APP_NAME),
        "lang": "zh-CN",
        "start_url": url_for("field.home"),
        "scope": "/",
        "display": "standalone",
        "background_color": "#f6f7f9",
        "theme_color": "#b71c1c",
        "icons": [
            {
                "src": url_for("static", filename="icon-192.png"),
                "sizes": "192x192",
                "type": "image/png",
            },
            {
                "src": url_for("static", filename="icon-512.png"),
                "sizes": "512x512",
                "type": "image/png",
            },
            {
                "src": url_for("static", filename="icon.svg"),
                "sizes": "any",
                "type": "image/svg+xml",
            },
        ],
    }


def service_worker_source(app: Flask) -> str:
    """static/sw.js with the current hashed file names and a version made from them:
    a changed file changes the worker, and the phone takes the new one."""
    files = [url_for("static", filename=name) for name in OFFLINE_FILES]
    version = hashlib.sha256("\n".join(files).encode()).hexdigest()[:12]
    with open(f"{app.static_folder}/sw.js", encoding="utf-8") as fh:
        source = fh.read()
    return source.replace('"__VERSION__"', json.dumps(version)).replace(
        "[] /* __FILES__ */", json.dumps(files)
    )
