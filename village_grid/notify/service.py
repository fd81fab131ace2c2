"""The notification outbox: write messages in the same transaction as the
event that caused them; deliver them later, with retries.

- :func:`enqueue` / :func:`enqueue_many` add rows keyed by ``event_key``; a
  second message for the same event is dropped, so nothing is sent twice for
  one event (dispatch, call for help, escalation).
- :func:`deliver_pending` sends what is due through the configured channel:
  ``log`` (default), ``webhook`` (generic JSON POST) or ``wecom`` (WeCom group
  robot). A failure is recorded on the row (``attempts``, ``last_error``) and
  retried after an exponentially growing pause; after ``NOTIFY_MAX_ATTEMPTS``
  the row is ``failed`` and stays visible (``village-grid notify status``).
- Each message is claimed by one worker before it is sent (``claimed_until``,
  ``NOTIFY_CLAIM_SECONDS``, ``claimed_by``): any number of workers share the
  outbox and none sends what another holds. Each outcome is committed as soon as
  its post is answered, so a worker that dies resends at most the one post it had
  in flight; the rest of what it held is released when a worker starts again on
  its host (:func:`release_claims`, called by ``village_grid/jobs``), or taken up
  by any worker once the claim runs out. Every message carries its ``event_key``
  so a receiver can drop that one repeat.
- Delivery runs in the worker (``village_grid/jobs``), woken by every commit
  that queued a message, and on every tick; ``village-grid notify send`` runs
  it by hand.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import datetime, timedelta

import requests
from flask import current_app
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from village_grid.models import OutboxMessage, User
from village_grid.models.base import iso_z, utcnow

log = logging.getLogger("village_grid.notify")

MAX_BACKOFF_SECONDS = 3600

# Which due message goes first. A county-wide dispatch queues about ten
# thousand routine notices at once; a call for help made a minute later must
# not wait behind them (on a WeCom robot, hours).
URGENT = 0  # a household asked for help
SOON = 1  # a household is still unreached past the deadline
ROUTINE = 2  # dispatch notices, red-mailbox notes


# The mark a session carries when it queued messages. The worker package
# (``village_grid/jobs/queue.py``) listens for commits at start-up and wakes a
# worker after one that carries it; the outbox knows nothing of the worker.
PENDING_MARK = "village_grid.outbox_pending"


class DeliveryError(Exception):
    """The channel did not take the message."""


def mark_pending(session: Session) -> None:
    """Say that ``session`` queued work for the worker (messages, a task to tell):
    a worker is woken once it commits."""
    session.info[PENDING_MARK] = True


def worker_name() -> str:
    """This process, as outbox claims and ticks name it: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


# --- writing ----------------------------------------------------------------------


def enqueue_many(session: Session, messages: list[dict], *, now: datetime | None = None) -> int:
    """Add messages (dicts with ``event_key``, ``body`` and optionally
    ``recipient_id``, ``recipient_label``, ``priority`` — default ROUTINE).
    Event keys already present are skipped. Returns how many were new."""
    if not messages:
        return 0
    now = now or utcnow()
    channel = current_app.config["NOTIFY_CHANNEL"]
    rows = [
        {
            "event_key": m["event_key"][:200],
            "channel": m.get("channel") or channel,
            "recipient_id": m.get("recipient_id"),
            "recipient_label": (m.get("recipient_label") or "")[:100],
            "body": m["body"],
            "priority": m.get("priority", ROUTINE),
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "last_error": "",
            "created_at": now,
        }
        for m in messages
    ]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    table = OutboxMessage.__table__
    stmt = dialect_insert(table).on_conflict_do_nothing(index_elements=["event_key"])
    new = session.execute(stmt.returning(table.c.id), rows).all()
    session.flush()
    if new:
        mark_pending(session)
    return len(new)


def enqueue(
    session: Session,
    *,
    event_key: str,
    body: str,
    recipient_id: int | None = None,
    recipient_label: str = "",
) -> bool:
    """Add one message; False when this event already has one."""
    return (
        enqueue_many(
            session,
            [
                {
                    "event_key": event_key,
                    "body": body,
                    "recipient_id": recipient_id,
                    "recipient_label": recipient_label,
                }
            ],
        )
        == 1
    )


# --- delivering -------------------------------------------------------------------


def backoff(attempts: int, base_seconds: int) -> timedelta:
    """Pause before the next try after ``attempts`` failures: base, 2×base, 4×base … at most an hour."""
    return timedelta(seconds=min(base_seconds * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS))


def _wecom_text(content: str, phones: list[str]) -> dict:
    """A WeCom robot's text message, mentioning the people with these phones."""
    text: dict = {"content": content}
    if phones:
        text["mentioned_mobile_list"] = phones
    return {"msgtype": "text", "text": text}


def _payload(channel: str, msg: OutboxMessage, phone: str | None) -> dict:
    if channel == "wecom":
        return _wecom_text(msg.body, [phone] if phone else [])
    return {
        "event_key": msg.event_key,
        "recipient": {"id": msg.recipient_id, "label": msg.recipient_label, "phone": phone or ""},
        "text": msg.body,
        "created_at": iso_z(msg.created_at),
    }


def send(
    channel: str,
    msg: OutboxMessage,
    *,
    url: str,
    timeout: float,
    phone: str | None = None,
    http: requests.Session | None = None,
):
    """Deliver one message; raise :class:`DeliveryError` when the channel refuses it.
    ``http``: a session whose connections are kept for the next message."""
    if channel == "log":
        log.info("notify %s → %s: %s", msg.event_key, msg.recipient_label or "-", msg.body)
        return
    _post(channel, _payload(channel, msg, phone), url=url, timeout=timeout, http=http)


def _post(
    channel: str, payload: dict, *, url: str, timeout: float, http: requests.Session | None = None
) -> None:
    if not url:
        raise DeliveryError("NOTIFY_WEBHOOK_URL is not set")
    try:
        res = (http or requests).post(url, json=payload, timeout=timeout)
    except requests.RequestException as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
    if not 200 <= res.status_code < 300:
        raise DeliveryError(f"HTTP {res.status_code}: {res.text[:200]}")
    if channel == "wecom":
        # The robot answers 200 with {"errcode": 0, "errmsg": "ok"}; anything else is a refusal.
        try:
            data = res.json()
        except ValueError:
            raise DeliveryError(f"not JSON: {res.text[:200]}") from None
        if not isinstance(data, dict) or data.get("errcode") != 0:
            raise DeliveryError(f"WeCom refused: {str(data)[:200]}")


def claim_due(
    session: Session, *, worker: str, now: datetime, batch: int, claim_seconds: int
) -> list[OutboxMessage]:
    """Claim up to ``batch`` due messages, most urgent first, for ``worker``; commits.

    One UPDATE over the due rows nobody holds (``FOR UPDATE SKIP LOCKED`` on
    PostgreSQL, so workers claiming at the same moment take different rows)."""
    due = (
        select(OutboxMessage.id)
        .where(
            OutboxMessage.status == "pending",
            OutboxMessage.next_attempt_at <= now,
            or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
        )
        .order_by(OutboxMessage.priority, OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(batch)
    )
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = [
        row[0]
        for row in session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(due.scalar_subquery()))
            .values(claimed_until=now + timedelta(seconds=claim_seconds), claimed_by=worker)
            .returning(OutboxMessage.id)
            .execution_options(synchronize_session=False)
        ).all()
    ]
    session.commit()
    if not ids:
        return []
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.id.in_(ids))
            .order_by(OutboxMessage.priority, OutboxMessage.next_attempt_at, OutboxMessage.id)
        )
    )


def deliver_pending(
    session: Session,
    *,
    now: datetime | None = None,
    limit: int = 2000,
    batch: int = 20,
    worker: str | None = None,
) -> dict:
    """Send every due message (up to ``limit``), most urgent first, a claimed batch at a
    time (claimed in ``worker``'s name, this process by default).

    Unlike other services this commits: the claim, then each post's outcome as soon as
    the channel answered it, so a crash resends at most the post that was in flight.
    Returns counts: sent, retrying, failed.
    """
    now = now or utcnow()
    worker = worker or worker_name()
    counts = {"sent": 0, "retrying": 0, "failed": 0}
    done = 0
    with requests.Session() as http:  # one kept connection to the webhook for the run
        while done < limit:
            msgs = claim_due(
                session,
                worker=worker,
                now=now,
                batch=min(batch, limit - done),
                claim_seconds=int(current_app.config["NOTIFY_CLAIM_SECONDS"]),
            )
            if not msgs:
                break
            _send_batch(session, msgs, counts, now=now, http=http)
            done += len(msgs)
    return counts


def claim_holders(session: Session, *, now: datetime | None = None) -> list[str]:
    """The workers holding unexpired claims on pending messages."""
    now = now or utcnow()
    return list(
        session.scalars(
            select(OutboxMessage.claimed_by)
            .where(
                OutboxMessage.status == "pending",
                OutboxMessage.claimed_until.is_not(None),
                OutboxMessage.claimed_until >= now,
            )
            .distinct()
        )
    )


def release_claims(session: Session, holders: list[str]) -> int:
    """Give back the pending messages ``holders`` (workers known dead) claimed, so the
    next delivery sends them at once; how many. Flushes."""
    if not holders:
        return 0
    return session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == "pending", OutboxMessage.claimed_by.in_(holders))
        .values(claimed_until=None, claimed_by="")
        .execution_options(synchronize_session=False)
    ).rowcount


def _send_batch(
    session: Session, msgs: list[OutboxMessage], counts: dict, *, now: datetime, http
) -> None:
    """Send claimed messages (WeCom ones several to a post); each post's outcome is
    committed before the next post goes."""
    config = current_app.config
    url = config["NOTIFY_WEBHOOK_URL"]
    timeout = float(config["NOTIFY_TIMEOUT_SECONDS"])
    max_attempts = int(config["NOTIFY_MAX_ATTEMPTS"])
    base = int(config["NOTIFY_BACKOFF_SECONDS"])
    ids = {m.recipient_id for m in msgs if m.recipient_id}
    phones = dict(session.execute(select(User.id, User.phone).where(User.id.in_(ids))).all())
    for pack in _packs(msgs):
        for msg in pack:
            msg.attempts += 1
            msg.claimed_until = None
        try:
            if len(pack) == 1:
                send(
                    pack[0].channel,
                    pack[0],
                    url=url,
                    timeout=timeout,
                    phone=phones.get(pack[0].recipient_id),
                    http=http,
                )
            else:
                send_pack(pack, url=url, timeout=timeout, phones=phones, http=http)
        except DeliveryError as exc:
            for msg in pack:
                msg.last_error = str(exc)[:500]
                if msg.attempts >= max_attempts:
                    msg.status = "failed"
                    msg.next_attempt_at = None
                    counts["failed"] += 1
                    log.warning("notify %s failed for good: %s", msg.event_key, exc)
                else:
                    msg.next_attempt_at = now + backoff(msg.attempts, base)
                    counts["retrying"] += 1
        else:
            sent_at = utcnow()
            for msg in pack:
                msg.status = "sent"
                msg.sent_at = sent_at
                msg.next_attempt_at = None
                counts["sent"] += 1
        session.commit()


# A WeCom group robot takes about 20 posts a minute and 2,048 bytes of text a
# post. A county-wide dispatch queues ten thousand notices: one post each would
# take eight hours. Due messages for the robot go out several to a post (same
# priority, in order), each still recorded on its own row.
WECOM_TEXT_BYTES = 2048
_PACK_SEPARATOR = b"\n\n"


def _packs(msgs: list[OutboxMessage]) -> list[list[OutboxMessage]]:
    """The messages in sending order, WeCom ones gathered into posts that fit."""
    packs: list[list[OutboxMessage]] = []
    size = 0
    for msg in msgs:
        length = len(msg.body.encode())
        last = packs[-1] if packs else None
        if (
            last is not None
            and msg.channel == "wecom"
            and last[0].channel == "wecom"
            and last[0].priority == msg.priority
            and size + len(_PACK_SEPARATOR) + length <= WECOM_TEXT_BYTES
        ):
            last.append(msg)
            size += len(_PACK_SEPARATOR) + length
        else:
            packs.append([msg])
            size = length
    return packs


def send_pack(
    msgs: list[OutboxMessage],
    *,
    url: str,
    timeout: float,
    phones: dict[int, str | None],
    http: requests.Session | None = None,
) -> None:
    """Deliver several WeCom messages as one robot post that mentions everyone in them."""
    mentioned: list[str] = []
    for msg in msgs:
        phone = phones.get(msg.recipient_id)
        if phone and phone not in mentioned:
            mentioned.append(phone)
    content = _PACK_SEPARATOR.decode().join(m.body for m in msgs)
    _post("wecom", _wecom_text(content, mentioned), url=url, timeout=timeout, http=http)


def retry_failed(session: Session, *, now: datetime | None = None) -> int:
    """Give failed messages another round of attempts (after fixing the webhook). Flushes."""
    msgs = list(session.scalars(select(OutboxMessage).where(OutboxMessage.status == "failed")))
    for m in msgs:
        m.status = "pending"
        m.attempts = 0
        m.next_attempt_at = now or utcnow()
    session.flush()
    return len(msgs)


def summary(session: Session) -> dict:
    """Messages per status, and the latest failures with their errors."""
    counts = dict(
        session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        ).all()
    )
    failed = list(
        session.scalars(
            select(OutboxMessage)
            .where(
                (OutboxMessage.status == "failed")
                | ((OutboxMessage.status == "pending") & (OutboxMessage.attempts > 0))
            )
            .order_by(OutboxMessage.id.desc())
            .limit(20)
        )
    )
    return {
        "pending": counts.get("pending", 0),
        "sent": counts.get("sent", 0),
        "failed": counts.get("failed", 0),
        "problems": [
            {
                "id": m.id,
                "event_key": m.event_key,
                "status": m.status,
                "attempts": m.attempts,
                "last_error": m.last_error,
            }
            for m in failed
        ],
    }
