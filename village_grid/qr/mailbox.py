"""The red mailbox (红色信箱): households write from the door-plate page, staff reply and close.

A message lands on the household's team, so the team lead sees it, and so
does everyone above (grid member, village cadre) through the usual scope.
"""

from __future__ import annotations

import secrets

from flask_babel import gettext as _
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from village_grid.audit.service import changes, record
from village_grid.auth.scope import may, scope_clause
from village_grid.errors import Conflict, InvalidInput, OutOfScope
from village_grid.models import Household, MailboxMessage, Unit, User
from village_grid.models.base import utcnow
from village_grid.qr.labels import CATEGORIES, REPLY_MAX, STATUSES, TEXT_MAX
from village_grid.validation import clean_text, normalise_phone

# No 0/O or 1/I: tracking numbers are read out over the phone.
_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def _tracking_no(session: Session) -> str:
    """ "R" + date + four random characters, e.g. R250722-7K3Q; unique."""
    day = utcnow().strftime("%y%m%d")
    for _attempt in range(10):
        candidate = f"R{day}-" + "".join(secrets.choice(_ALPHABET) for _ in range(4))
        if not session.scalar(
            select(MailboxMessage.id).where(MailboxMessage.tracking_no == candidate)
        ):
            return candidate
    return f"R{day}-" + "".join(secrets.choice(_ALPHABET) for _ in range(8))


def create_message(
    session: Session,
    household: Household,
    *,
    category: str,
    text: str,
    callback_phone: str = "",
    client_addr: str = "",
) -> MailboxMessage:
    """A household drops a note in the red mailbox (from its door-plate page).

    ``household`` comes from a valid plate token. Raises InvalidInput for an
    unknown category, an empty or too-long text, or a bad phone number.
    """
    category = (category or "").strip()
    if category not in CATEGORIES:
        raise InvalidInput(_("Choose what the note is about."), fields={"category": "unknown"})
    text = clean_text(text, field="text", max_len=TEXT_MAX, required=True, label=_("Your note"))
    phone = normalise_phone(callback_phone, field="callback_phone")
    message = MailboxMessage(
        tracking_no=_tracking_no(session),
        household_id=household.id,
        team_id=household.team_id,
        category=category,
        text=text,
        callback_phone=phone,
        status="open",
        client_addr=(client_addr or "")[:64],
    )
    session.add(message)
    session.flush()
    _notify_new_message(session, message, household)
    return message


def _notify_new_message(session: Session, message: MailboxMessage, household: Household) -> None:
    """Tell whoever answers for the household's team (the team lead, or the
    grid member / cadre routing falls back to) that a note is waiting.

    The note itself is not in the message: it may go to a whole work group.
    """
    from flask import current_app
    from flask_babel import force_locale

    from village_grid.notify import service as notify
    from village_grid.tasks import routing
    from village_grid.tasks.graph import get_graph

    decision = routing.responsible(get_graph(session), household.team_id)
    if decision.assignee is None:
        return
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        body = _(
            "Red mailbox %(no)s: household %(code)s left a note (%(category)s). "
            "Read and reply: %(link)s",
            no=message.tracking_no,
            code=household.code,
            category=str(CATEGORIES[message.category]),
            link=f"{current_app.config['BASE_URL']}/mailbox/{message.id}",
        )
    notify.enqueue(
        session,
        event_key=f"mailbox:{message.id}:{decision.assignee.id}",
        body=body,
        recipient_id=decision.assignee.id,
        recipient_label=decision.assignee.name,
    )


def messages_for_household(
    session: Session, household_id: int, limit: int = 10
) -> list[MailboxMessage]:
    """The household's own latest notes, newest first, for its door-plate page."""
    return list(
        session.scalars(
            select(MailboxMessage)
            .where(MailboxMessage.household_id == household_id)
            .order_by(MailboxMessage.created_at.desc(), MailboxMessage.id.desc())
            .limit(limit)
        )
    )


def require_message(session: Session, actor: User | None, message_id: int) -> MailboxMessage:
    """A message in the actor's mailbox scope, or OutOfScope (404)."""
    message = session.get(MailboxMessage, message_id) if isinstance(message_id, int) else None
    if message is None:
        raise OutOfScope(_("No such message."))
    team = session.get(Unit, message.team_id)
    if team is None or not may(actor, "mailbox", team):
        raise OutOfScope(_("No such message."))
    return message


def list_in_scope(
    session: Session, actor: User | None, *, status: str | None = None, limit: int = 200
) -> list[tuple[MailboxMessage, Household, Unit]]:
    """Messages on teams where ``actor`` holds the mailbox right: open first, newest first."""
    query = (
        select(MailboxMessage, Household, Unit)
        .join(Unit, Unit.id == MailboxMessage.team_id)
        .join(Household, Household.id == MailboxMessage.household_id)
        .where(scope_clause(actor, "mailbox"))
    )
    if status in STATUSES:
        query = query.where(MailboxMessage.status == status)
    order = case(
        (MailboxMessage.status == "open", 0), (MailboxMessage.status == "replied", 1), else_=2
    )
    query = query.order_by(order, MailboxMessage.created_at.desc(), MailboxMessage.id.desc())
    return [tuple(row) for row in session.execute(query.limit(limit)).all()]


def counts_in_scope(session: Session, actor: User | None) -> dict[str, int]:
    rows = session.execute(
        select(MailboxMessage.status, func.count(MailboxMessage.id))
        .join(Unit, Unit.id == MailboxMessage.team_id)
        .where(scope_clause(actor, "mailbox"))
        .group_by(MailboxMessage.status)
    ).all()
    counts = dict.fromkeys(STATUSES, 0)
    counts.update({status: n for status, n in rows})
    return counts


def reply(session: Session, actor: User, message_id: int, text: str) -> MailboxMessage:
    """Answer a message; the household sees the answer when it scans its plate again.

    A later reply replaces the earlier one (the household sees the latest word).
    Raises OutOfScope, InvalidInput, Conflict (closed).
    """
    message = require_message(session, actor, message_id)
    if message.status == "closed":
        raise Conflict(_("This message is closed."), code="closed")
    text = clean_text(text, field="reply", max_len=REPLY_MAX, required=True, label=_("Reply"))
    before = {"status": message.status, "reply": message.reply or None}
    message.reply = text
    message.status = "replied"
    message.replied_by_id = actor.id
    message.replied_at = utcnow()
    old, new = changes(before, {"status": message.status, "reply": text})
    if new:
        record(
            session,
            actor,
            "mailbox.reply",
            object_type="mailbox",
            object_id=message.id,
            unit_path=message.team.path,
            before=old,
            after=new,
        )
    session.flush()
    return message


def close(session: Session, actor: User, message_id: int) -> MailboxMessage:
    """Close a message (done, or nothing more to do). Raises OutOfScope."""
    message = require_message(session, actor, message_id)
    if message.status != "closed":
        record(
            session,
            actor,
            "mailbox.close",
            object_type="mailbox",
            object_id=message.id,
            unit_path=message.team.path,
            before={"status": message.status},
            after={"status": "closed"},
        )
        message.status = "closed"
        message.closed_at = utcnow()
        session.flush()
    return message
