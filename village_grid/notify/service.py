"""The notification outbox: write messages in the same transaction as the
event that caused them; deliver them later, with retries.

- :func:`enqueue` / :func:`enqueue_many` add rows keyed by ``event_key``; a
  second message for the same event is dropped, so nothing is sent twice for
  one event (dispatch, call for help, escalation).
- :func:`deliver_pending` sends what is due to each message's work group: the
  robot of its unit or the nearest unit above with one (``notify.channels``),
  else the configured channel: ``log`` (default), ``webhook`` (generic JSON
  POST) or ``wecom`` (WeCom group robot). Each robot posts within its budget
  (``notify.budget``), several messages a post; what its budget or a rate-limit
  answer (45009) holds back waits, no attempt counted. A failure is recorded on
  the row (``attempts``, ``last_error``, the URL masked) and retried after an
  exponentially growing pause; after ``NOTIFY_MAX_ATTEMPTS`` the row is
  ``failed`` and stays visible (``village-grid notify status``).
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
from village_grid.models.base import utcnow
from village_grid.notify import budget as budgets
from village_grid.notify import channels
from village_grid.notify.posting import (  # noqa: F401  (the outbox's names for them)
    WECOM_TEXT_BYTES,
    DeliveryError,
    RateLimited,
    packs,
    send,
    send_pack,
)

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
    ``recipient_id``, ``recipient_label``, ``priority`` — default ROUTINE — and
    ``unit_id``, the unit whose work group it goes to: by default the recipient's
    own unit, the deepest they hold a role on). Event keys already present are
    skipped. Returns how many were new."""
    if not messages:
        return 0
    now = now or utcnow()
    channel = current_app.config["NOTIFY_CHANNEL"]
    units = channels.units_of_people(
        session,
        {m["recipient_id"] for m in messages if m.get("recipient_id") and not m.get("unit_id")},
    )
    rows = [
        {
            "event_key": m["event_key"][:200],
            "channel": m.get("channel") or channel,
            "recipient_id": m.get("recipient_id"),
            "unit_id": m.get("unit_id") or units.get(m.get("recipient_id")),
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
    unit_id: int | None = None,
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
                    "unit_id": unit_id,
                }
            ],
        )
        == 1
    )


# --- delivering -------------------------------------------------------------------


def backoff(attempts: int, base_seconds: int) -> timedelta:
    """Pause before the next try after ``attempts`` failures: base, 2×base, 4×base … at most an hour."""
    return timedelta(seconds=min(base_seconds * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS))


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
    batch: int = 100,
    worker: str | None = None,
    clock=None,
    budget=None,
) -> dict:
    """Send every due message (up to ``limit``), most urgent first, a claimed batch at a
    time (claimed in ``worker``'s name, this process by default), each to its unit's
    robot within that robot's budget (:mod:`village_grid.notify.budget`).

    Unlike other services this commits: the claim, then each post's outcome as soon as
    the channel answered it, so a crash resends at most the post that was in flight.
    ``clock`` (a function returning the time) drives the budgets; by default ``now``
    if given, else the real time. Returns counts: sent, retrying, failed, and waiting
    (put off until their robot may post again; no attempt counted, nothing dropped).
    """
    if clock is None:
        clock = (lambda: now) if now is not None else utcnow
    worker = worker or worker_name()
    run = _Run(session, budget or budgets.for_app(), clock)
    done = 0
    with requests.Session() as http:  # kept connections to the robots for the run
        run.http = http
        while done < limit:
            msgs = claim_due(
                session,
                worker=worker,
                now=clock(),
                batch=min(batch, limit - done),
                claim_seconds=int(current_app.config["NOTIFY_CLAIM_SECONDS"]),
            )
            if not msgs:
                break
            run.send_batch(msgs)
            done += len(msgs)
    return run.counts


def next_due(session: Session) -> datetime | None:
    """When the next pending message is due (a robot's budget may have put it off)."""
    return session.scalar(
        select(func.min(OutboxMessage.next_attempt_at)).where(OutboxMessage.status == "pending")
    )


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


class _Run:
    """One delivery run: the robots of the units met so far, the counts."""

    def __init__(self, session: Session, budget, clock):
        self.session = session
        self.budget = budget
        self.clock = clock
        self.http = None
        self.robots: dict[int, channels.Robot | None] = {}
        self.queued: dict[str, int] = {}  # posts put off in this run, per robot
        self.counts = {"sent": 0, "retrying": 0, "failed": 0, "waiting": 0}
        config = current_app.config
        self.timeout = float(config["NOTIFY_TIMEOUT_SECONDS"])
        self.max_attempts = int(config["NOTIFY_MAX_ATTEMPTS"])
        self.base = int(config["NOTIFY_BACKOFF_SECONDS"])
        self.rest = timedelta(seconds=int(config["NOTIFY_RATE_LIMITED_SECONDS"]))
        # A post is not started with less than this left of the claim (a post may take
        # the whole timeout).
        self.margin = timedelta(seconds=min(self.timeout, int(config["NOTIFY_CLAIM_SECONDS"]) / 2))
        self.default_url = config["NOTIFY_WEBHOOK_URL"]

    def robot(self, msg: OutboxMessage) -> channels.Robot | None:
        """Where ``msg`` goes: its unit's robot, else the channel it was queued for
        (None: the log)."""
        found = self.robots.get(msg.unit_id) if msg.unit_id else None
        if found is not None:
            return found
        if msg.channel == "log":
            return None
        return channels.Robot(
            kind=msg.channel, url=self.default_url, masked=channels.mask_url(self.default_url)
        )

    def send_batch(self, msgs: list[OutboxMessage]) -> None:
        """Send claimed messages robot by robot (the most urgent's robot first); each
        post's outcome is committed before the next post goes."""
        unknown = {m.unit_id for m in msgs if m.unit_id and m.unit_id not in self.robots}
        if unknown:
            found = channels.robots_for(self.session, unknown)
            self.robots.update({uid: found.get(uid) for uid in unknown})
        groups: dict[str, tuple[channels.Robot | None, list[OutboxMessage]]] = {}
        for msg in msgs:
            robot = self.robot(msg)
            key = robot.ident if robot else "log"
            groups.setdefault(key, (robot, []))[1].append(msg)
        ids = {m.recipient_id for m in msgs if m.recipient_id}
        phones = dict(
            self.session.execute(select(User.id, User.phone).where(User.id.in_(ids))).all()
        )
        for robot, group in groups.values():
            self.send_group(robot, group, phones)

    def send_group(self, robot: channels.Robot | None, msgs: list[OutboxMessage], phones) -> None:
        kind = robot.kind if robot else "log"
        todo = packs(msgs, kind)
        if kind == channels.UNREADABLE:
            # Never to another group instead: they wait until the data key is put right.
            error = "the robot's URL cannot be unsealed: this server has another data key"
            log.error("notify: %s (robot %s)", error, robot.masked)
            self.put_off(robot.ident, todo, seconds=self.rest.total_seconds(), reason=error)
            return
        for i, pack in enumerate(todo):
            claimed = pack[0].claimed_until
            if claimed is not None and self.clock() + self.margin >= claimed:
                # Our claim runs out: another worker may take these now. Leave them be.
                return
            if kind == "wecom":
                wait = self.budget.take(robot.ident, self.clock().timestamp())
                if wait > 0:
                    self.put_off(robot.ident, todo[i:], seconds=wait, reason="")
                    return
            for msg in pack:
                msg.attempts += 1
                msg.claimed_until = None
            try:
                if len(pack) == 1:
                    send(
                        kind,
                        pack[0],
                        url=robot.url if robot else "",
                        timeout=self.timeout,
                        phone=phones.get(pack[0].recipient_id),
                        http=self.http,
                    )
                else:
                    send_pack(
                        pack, url=robot.url, timeout=self.timeout, phones=phones, http=self.http
                    )
            except RateLimited as exc:
                # The robot says it takes no more for now: it rests, for every worker;
                # its messages wait (no attempt counted), the other robots go on.
                for msg in pack:
                    msg.attempts -= 1
                until = self.clock() + self.rest
                self.budget.hold(robot.ident, until.timestamp())
                error = channels.scrub(str(exc), robot.url)
                log.warning("notify: robot %s rate-limited: %s", robot.masked, error)
                self.put_off(robot.ident, todo[i:], seconds=self.rest.total_seconds(), reason=error)
                return
            except DeliveryError as exc:
                self.failed(pack, channels.scrub(str(exc), robot.url if robot else ""))
            else:
                sent_at = utcnow()
                for msg in pack:
                    msg.status = "sent"
                    msg.sent_at = sent_at
                    msg.next_attempt_at = None
                    self.counts["sent"] += 1
            self.session.commit()

    def put_off(
        self, ident: str, todo: list[list[OutboxMessage]], *, seconds: float, reason: str
    ) -> None:
        """These posts wait for their robot (claims given back): the first ones until
        ``seconds`` from now, then a budget's worth each window after, so a robot with a
        long queue has each message rescheduled about once (counted across this run's
        batches), not every minute."""
        now = self.clock()
        limit = max(1, getattr(self.budget, "limit", 1))
        window = getattr(self.budget, "window", budgets.WINDOW_SECONDS)
        slot = self.queued.get(ident, 0)
        for pack in todo:
            at = now + timedelta(seconds=seconds + (slot // limit) * window)
            slot += 1
            for msg in pack:
                msg.claimed_until = None
                msg.next_attempt_at = at
                if reason:
                    msg.last_error = reason[:500]
                self.counts["waiting"] += 1
        self.queued[ident] = slot
        self.session.commit()

    def failed(self, pack: list[OutboxMessage], error: str) -> None:
        now = self.clock()
        for msg in pack:
            msg.last_error = error[:500]
            if msg.attempts >= self.max_attempts:
                msg.status = "failed"
                msg.next_attempt_at = None
                self.counts["failed"] += 1
                log.warning("notify %s failed for good: %s", msg.event_key, error)
            else:
                msg.next_attempt_at = now + backoff(msg.attempts, self.base)
                self.counts["retrying"] += 1


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
