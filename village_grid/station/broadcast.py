"""The station's broadcast: a notice (a missing child: who, where last seen, a
phone to call) to every team lead of its village, with a deadline.

It is a ``notice`` task sent through ``tasks.dispatch.dispatch_task`` — the
outbox messages, the read receipts and the unread escalation are the tasks
domain's, unchanged — with the station's right (``station``) in place of
``dispatch``. Who has read it is ``tasks.progress.notice_reads``.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from village_grid.errors import InvalidInput
from village_grid.models import Broadcast, Task, User
from village_grid.models.base import utcnow
from village_grid.station import queries
from village_grid.station.fields import Collector, choice, free_text
from village_grid.station.labels import (
    BROADCAST_DEADLINES,
    BROADCAST_KINDS,
    BROADCAST_TEXT_MAX,
    BROADCAST_TITLE_MAX,
    BROADCAST_WORDS,
)
from village_grid.tasks import progress
from village_grid.tasks.dispatch import close_task, dispatch_task
from village_grid.validation import normalise_phone

ACTION = "station"


def _deadline(value: object) -> int:
    try:
        minutes = int(value) if not isinstance(value, bool) else -1
    except (TypeError, ValueError):
        minutes = -1
    if minutes not in BROADCAST_DEADLINES:
        raise InvalidInput(
            _("Choose how long team leads have to read it."),
            fields={"deadline_minutes": "unknown"},
        )
    return minutes


def compose(fields: dict) -> str:
    """The notice's text from its parts, one per line, in the default language (team
    leads read it, and the outbox may post it to a whole group), in its kind's words
    (``BROADCAST_WORDS``: a "last seen" line only for a missing person)."""
    words = BROADCAST_WORDS[fields["kind"]]
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        lines = [fields["description"]]
        if words["last_seen"] and fields.get("last_seen"):
            lines.append(_("Last seen: %(where)s", where=fields["last_seen"]))
        lines.append(str(words["call"]) % {"phone": fields["phone"]})
    return "\n".join(lines)


def send(
    session: Session,
    actor: User | None,
    *,
    village_id: int | None,
    data: dict,
    now: datetime | None = None,
) -> Broadcast:
    """Send the notice to every team lead of the village (``dispatch_task``, kind notice).

    ``data``: kind, title, description, last_seen, phone, deadline_minutes.
    Raises FieldErrors, OutOfScope, InvalidInput ``no_households`` (no team to tell)."""
    now = now or utcnow()
    village = queries.station_village(session, actor, village_id)
    c = Collector()
    c.take(
        "kind",
        lambda: choice(
            data.get("kind"),
            BROADCAST_KINDS,
            field="kind",
            label=_("Kind"),
            default="missing_person",
        ),
    )
    c.take(
        "title",
        lambda: free_text(
            data.get("title"),
            field="title",
            label=_("Title"),
            max_len=BROADCAST_TITLE_MAX,
            required=True,
        ),
    )
    c.take(
        "description",
        lambda: free_text(
            data.get("description"),
            field="description",
            label=_("Description"),
            max_len=BROADCAST_TEXT_MAX,
            required=True,
        ),
    )
    c.take(
        "last_seen",
        lambda: free_text(
            data.get("last_seen"),
            field="last_seen",
            label=_("Last seen"),
            max_len=BROADCAST_TEXT_MAX,
        ),
    )
    c.take(
        "phone",
        lambda: normalise_phone(
            data.get("phone") if isinstance(data.get("phone"), str) else None, required=True
        ),
    )
    c.take("deadline_minutes", lambda: _deadline(data.get("deadline_minutes")))
    fields = c.done()
    task = dispatch_task(
        session,
        actor,
        kind="notice",
        title=fields["title"],
        body=compose(fields),
        unit_id=village.id,
        deadline_minutes=fields["deadline_minutes"],
        now=now,
        action=ACTION,
    )
    broadcast = Broadcast(
        village_id=village.id,
        task_id=task.id,
        kind=fields["kind"],
        created_by_id=actor.id if actor is not None else None,
        created_at=now,
    )
    session.add(broadcast)
    session.flush()
    return broadcast


def close(
    session: Session, actor: User | None, broadcast_id: int, *, now: datetime | None = None
) -> Task:
    """End a broadcast (the child was found): no more escalation of unread leads."""
    broadcast = queries.get_broadcast(session, actor, broadcast_id)
    return close_task(session, actor, broadcast.task_id, now=now, action=ACTION)


def reads(session: Session, broadcast: Broadcast) -> dict:
    """Who was told, who read it and when, and how long until everyone had."""
    return progress.notice_reads(session, broadcast.task_id)
