"""The one way a household's status on a task is recorded — a team lead's tap,
a cadre acting for the lead, a phone's offline queue, the JSON API and the
household's own door plate all come here — and a read receipt for a notice.

:func:`record_status` decides a report once and says what happened
(:class:`Recorded`): applied, a duplicate of an operation already recorded, older
than what is stored (kept as an event only), the phone's clock clamped; or it
refuses with a domain error that says why. Every report is kept as an append-only
event; the household's assignment (written at its first report:
``tasks/membership.py``) holds the latest by the time it happened, and its team's
counts move with it in the same transaction. A person's report is a sign of life
from their phone (``tasks/signs.py``). "Needs help" opens a case that climbs the tree
(``tasks/escalation.py``); the last household of a team confirmed ends the team's
case about households not reached and about a silent lead. A read receipt ends a
case about a notice its reader had not read by the deadline.

Functions flush and never commit: the caller owns the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from village_grid.auth import scope
from village_grid.database import insert_ignore
from village_grid.errors import Conflict, InvalidInput, NotFound, OutOfScope
from village_grid.models import (
    Assignment,
    NoticeRead,
    StatusEvent,
    Task,
    User,
)
from village_grid.models.base import utcnow
from village_grid.tasks import cases, labels, membership, signs, unread
from village_grid.tasks.escalation import open_help_case
from village_grid.tasks.queries import get_task, task_visible
from village_grid.validation import clean_text

# Statements built once: this runs for every tap and every door-plate scan, and
# building and cache-keying a statement per call cost more than running it.
_events = StatusEvent.__table__
_assignments = Assignment.__table__
_INSERT_EVENT = _events.insert()
# Latest wins in the statement itself: a report committed by someone else
# between this one's read and its write, and newer than it, is kept.
_UPDATE_ASSIGNMENT = (
    update(_assignments)
    .where(
        _assignments.c.id == bindparam("b_id"),
        or_(
            _assignments.c.updated_at.is_(None),
            _assignments.c.updated_at <= bindparam("b_updated_at"),
        ),
    )
    .values(
        status=bindparam("b_status"),
        help_kind=bindparam("b_help_kind"),
        note=bindparam("b_note"),
        answers=bindparam("b_answers", type_=_assignments.c.answers.type),
        updated_at=bindparam("b_updated_at"),
        updated_via=bindparam("b_updated_via"),
        updated_by_id=bindparam("b_updated_by_id"),
    )
)
_tasks = Task.__table__
# What a report needs to know, in one query: the task, and the household's
# assignment on it if it has one.
_FACTS = (
    select(
        _tasks.c.id,
        _tasks.c.kind,
        _tasks.c.closed_at,
        _tasks.c.created_at,
        _tasks.c.questions,
        _assignments.c.id,
        func.coalesce(_assignments.c.status, labels.PENDING),
        _assignments.c.updated_at,
        _assignments.c.answers,
    )
    .select_from(
        _tasks.outerjoin(
            _assignments,
            and_(
                _assignments.c.task_id == _tasks.c.id,
                _assignments.c.household_id == bindparam("hh"),
            ),
        )
    )
    .where(_tasks.c.id == bindparam("task_id"))
)


class ReportFacts(NamedTuple):
    """A task and one household's place in it, as a report reads them."""

    task_id: int
    kind: str
    closed_at: datetime | None
    created_at: datetime
    questions: list | None
    assignment_id: int | None  # None: an open member, no row yet
    status: str
    updated_at: datetime | None
    answers: dict | None
    task_team_id: int  # the task's team it counts under (membership.lock_team)
    team_id: int
    team_pending: int  # households of that team pending before this report


def _facts(session: Session, task_id, household_id: int) -> ReportFacts | None:
    """The facts of ``task_id`` for this household, read under its team's write lock
    (``membership.lock_team``); None if the task never reached it (or is none)."""
    if not isinstance(task_id, int):
        return None
    locked = membership.lock_team(session, task_id, household_id)
    if locked is None:
        return None
    row = session.connection().execute(_FACTS, {"task_id": task_id, "hh": household_id}).first()
    if row is None:
        return None
    facts = ReportFacts(*row, *locked)
    if facts.assignment_id is None and not membership.is_open_member(
        session, task_id, household_id
    ):
        return None
    return facts


@dataclass(frozen=True)
class Recorded:
    """What :func:`record_status` did with a report.

    ``result``: ``applied`` (the household's status now), ``duplicate`` (this sender's
    operation id was recorded before, or the same person made the same report moments
    before (:data:`labels.REPEAT_SECONDS`): nothing changed, ``event`` is the first one) or
    ``older`` (kept as an event; a newer report holds the status). ``clamped``: the
    phone's time was outside [dispatch, now] and was moved into it for ordering
    (``future`` / ``before_dispatch``; the event keeps it as sent). ``told``: for a call
    for help, the roles told at once, nearest first."""

    event: StatusEvent
    result: str
    clamped: str | None = None
    told: tuple[str, ...] = ()


def record_status(
    session: Session,
    actor: User | None,
    *,
    task_id: int,
    household_id: int,
    status: str,
    help_kind: str = "",
    note: str = "",
    answers: dict | None = None,
    client_op_id: str | None = None,
    client_time: datetime | None = None,
    client_addr: str = "",
    now: datetime | None = None,
    sign: bool = True,
) -> Recorded:
    """Record one household's status on a task as an append-only event, and say what
    happened (:class:`Recorded`).

    ``sign``: a person's report is a sign of life from their phone
    (``signs.record_signs``); False when the caller records one sign for many reports
    (a phone's sync).

    ``actor`` None is the household itself, answering from its door plate (the
    caller found the household from the plate's token): it may give only the
    answers its task kind offers (:data:`labels.HOUSEHOLD_STATUSES`, with the
    aliases "acknowledged", "answered", "read"), and a task that is closed or
    not for it is simply not found. How the status came (``via``) follows from
    who sent it: see :func:`via_for`. ``client_op_id`` is the id a phone made for
    the operation, unique per sender: sent again, it changes nothing.

    The assignment keeps the latest by the time it happened (the phone's clock
    ``client_time`` for offline reports, kept between dispatch and now).
    Raises InvalidInput, OutOfScope (404), Forbidden (403), NotFound
    ``not_in_task`` / ``task_not_open``, Conflict ``task_closed`` /
    ``client_op_id_reused``.
    """
    now = now or utcnow()
    actor_id = actor.id if actor is not None else None
    if client_op_id is not None:
        client_op_id = checked_op_id(client_op_id)
        first = _replayed(session, actor_id, client_op_id, task_id, household_id)
        if first is not None:
            return _signed(session, actor if sign else None, Recorded(first, "duplicate"), now)
    if actor is None:
        status = labels.STATUS_ALIASES.get((status or "").strip(), (status or "").strip())
    status, help_kind, note = checked_status(status, help_kind, note)
    if actor is None:
        household = None
        facts = _household_task(session, task_id, household_id, status, answers)
    else:
        household = scope.require_household(session, actor, household_id, "report_status")
        facts = _reported_task(session, actor, task_id, household_id)
    clean = clean_answers(facts.kind, facts.questions, answers)
    via = via_for(actor, household, client_op_id)
    client_time = client_time.replace(tzinfo=None) if client_time is not None else None
    clamp = clamped(client_time, facts.created_at, now)
    happened = now if client_time is None else min(max(client_time, facts.created_at), now)

    repeated = _repeated(session, actor_id, facts, status, help_kind, note, clean, happened)
    if repeated is not None:
        return _signed(session, actor, Recorded(repeated, "duplicate"), now)
    if facts.assignment_id is None:  # its first report: the household gets its row
        facts = facts._replace(
            assignment_id=membership.add_row(session, facts.task_id, household_id, facts.team_id)
        )
    values = {
        "task_id": facts.task_id,
        "assignment_id": facts.assignment_id,
        "household_id": household_id,
        "status": status,
        "help_kind": help_kind,
        "note": note,
        "answers": clean,
        "via": via,
        "actor_id": actor_id,
        "client_op_id": client_op_id,
        "client_time": client_time,
        "client_addr": (client_addr or "")[:64],
        "created_at": now,
    }
    # Reads and writes go through the tables, not the unit of work: this runs for
    # every tap and every door-plate answer, and loading and flushing ORM objects
    # cost more than the SQL. An assignment object already in the session is kept
    # in step by hand.
    conn = session.connection()
    if client_op_id is not None:
        # Two requests from one phone sending the same operation at once: the second
        # loses the race on the unique (sender, operation id) and gets the first back.
        try:
            with session.begin_nested():
                event_id = session.execute(_INSERT_EVENT, values).inserted_primary_key[0]
        except IntegrityError:
            first = _replayed(session, actor_id, client_op_id, task_id, household_id)
            if first is None:
                raise
            return _signed(session, actor if sign else None, Recorded(first, "duplicate"), now)
    else:
        event_id = conn.execute(_INSERT_EVENT, values).inserted_primary_key[0]
    # The event as it was written: detached, so it reads without a query after commit.
    event = StatusEvent(id=event_id, **values)
    make_transient_to_detached(event)

    if facts.updated_at is not None and happened < facts.updated_at:
        # An older report synced late: kept as an event only.
        return _signed(session, actor if sign else None, Recorded(event, "older", clamp), now)
    changes = {
        "status": status,
        "help_kind": help_kind,
        "note": note,
        "answers": clean if clean is not None else facts.answers,
        "updated_at": happened,
        "updated_via": via,
        "updated_by_id": actor_id,
    }
    updated = conn.execute(
        _UPDATE_ASSIGNMENT,
        {"b_id": facts.assignment_id, **{f"b_{k}": v for k, v in changes.items()}},
    ).rowcount
    if not updated:  # a newer report was committed meanwhile: this one is an event only
        return _signed(session, actor if sign else None, Recorded(event, "older", clamp), now)
    membership.move_count(session, facts.task_team_id, facts.status, status)
    loaded = session.identity_map.get(identity_key(Assignment, facts.assignment_id))
    if loaded is not None:
        for key, value in changes.items():
            set_committed_value(loaded, key, value)
    told: tuple[str, ...] = ()
    if status == "needs_help":
        told = open_help_case(
            session,
            session.get(Task, facts.task_id),
            session.get(Assignment, facts.assignment_id),
            event,
            now,
        )
    if facts.status == labels.PENDING and facts.team_pending == 1:
        _team_confirmed(session, actor, facts.task_team_id, now)
    return _signed(session, actor if sign else None, Recorded(event, "applied", clamp, told), now)


def _repeated(
    session: Session,
    actor_id: int | None,
    facts: ReportFacts,
    status: str,
    help_kind: str,
    note: str,
    answers: dict | None,
    happened: datetime,
) -> StatusEvent | None:
    """The event a person's report repeats, if any: the household's latest, made by the
    same person at most ``labels.REPEAT_SECONDS`` before (or after) with the same status,
    help kind, note and answers — a double tap, or a tap made again while the first was
    waiting for signal. A door-plate answer (no actor) is never taken for a repeat."""
    if (
        actor_id is None
        or facts.assignment_id is None
        or facts.status != status
        or facts.updated_at is None
        or abs((happened - facts.updated_at).total_seconds()) > labels.REPEAT_SECONDS
    ):
        return None
    latest = session.scalar(
        select(StatusEvent)
        .where(StatusEvent.assignment_id == facts.assignment_id)
        .order_by(StatusEvent.created_at.desc(), StatusEvent.id.desc())
        .limit(1)
    )
    if latest is None or (latest.actor_id, latest.status, latest.help_kind, latest.note) != (
        actor_id,
        status,
        help_kind,
        note,
    ):
        return None
    return latest if (latest.answers or None) == answers else None


def _signed(session: Session, actor: User | None, recorded: Recorded, now: datetime) -> Recorded:
    """A person's report is a sign of life from their phone on the task (a queued
    operation: ``sync``; anything else: ``tap``)."""
    if actor is not None:
        kind = "sync" if recorded.event.client_op_id is not None else "tap"
        signs.record_signs(session, actor, [recorded.event.task_id], kind=kind, now=now)
    return recorded


def _team_confirmed(session: Session, actor: User | None, task_team_id: int, now: datetime) -> None:
    """The last pending household of a task's team was just confirmed: the team's case
    about households not reached and about a silent lead end."""
    cases.resolve(
        session,
        actor,
        cases.team_cases_of([task_team_id], labels.ENDED_BY_CONFIRMING),
        note=confirmed_note(),
        now=now,
    )


def clamped(at: datetime | None, created_at: datetime, now: datetime) -> str | None:
    """Whether a phone's time lies outside [dispatch, now], and which way."""
    if at is None:
        return None
    if at > now:
        return "future"
    if at < created_at:
        return "before_dispatch"
    return None


def checked_op_id(client_op_id) -> str:
    """An operation id as a phone sent it, trimmed: 1 to CLIENT_OP_ID_MAX characters."""
    op_id = client_op_id.strip() if isinstance(client_op_id, str) else ""
    if not op_id or len(op_id) > labels.CLIENT_OP_ID_MAX:
        raise InvalidInput(
            _("The operation id has 1 to %(max)s characters.", max=labels.CLIENT_OP_ID_MAX),
            fields={"client_op_id": "invalid" if not op_id else "too_long"},
        )
    return op_id


def via_for(actor: User | None, household, client_op_id: str | None) -> str:
    """How a status came (:data:`labels.VIA`): from the door plate (no actor), from a
    phone's offline queue (it carries the operation id the phone made), from the
    lead of the household's team, or from anyone else acting for the lead."""
    if actor is None:
        return "household_qr"
    if client_op_id is not None:
        return "sync"
    return "team_lead" if scope.is_team_lead_for(actor, household.team) else "cadre"


def checked_status(status: str, help_kind: str, note) -> tuple[str, str, str]:
    """The status, help kind and note of a report, checked and trimmed."""
    if status not in labels.REPORTED_STATUSES:
        raise InvalidInput(
            _("Status is safe, needs help, not home or unreachable."), fields={"status": "unknown"}
        )
    help_kind = (help_kind or "").strip() if isinstance(help_kind, str) else ""
    if status == "needs_help":
        help_kind = help_kind or "other"
        if help_kind not in labels.HELP_KINDS:
            raise InvalidInput(_("Unknown kind of help."), fields={"kind": "unknown"})
    else:
        help_kind = ""
    note = clean_text(
        note if isinstance(note, str) else "",
        field="note",
        max_len=labels.NOTE_MAX,
        label=_l("Note"),
    )
    return status, help_kind, note


def clean_answers(kind: str, questions: list | None, answers) -> dict | None:
    """Survey answers checked against the task's ``questions`` (None when there are none)."""
    if answers in (None, {}):
        return None
    if kind != "survey":
        raise InvalidInput(_("Only a survey takes answers."), fields={"answers": "not_survey"})
    if not isinstance(answers, dict):
        raise InvalidInput(_("Answers are given per question."), fields={"answers": "invalid"})
    by_id = {q["id"]: q for q in questions or []}
    out = {}
    for qid, value in answers.items():
        q = by_id.get(qid)
        field = f"answers.{qid}"
        if q is None:
            raise InvalidInput(_("No such question."), fields={field: "unknown"})
        if value in (None, ""):
            continue
        if q["type"] == "choice":
            if value not in q["choices"]:
                raise InvalidInput(_("Pick one of the choices."), fields={field: "not_a_choice"})
        elif q["type"] == "number":
            value = _number(value, field)
        else:
            if not isinstance(value, str):
                raise InvalidInput(_("Give a text."), fields={field: "not_text"})
            value = clean_text(value, field=field, max_len=labels.ANSWER_TEXT_MAX, label=q["text"])
        out[qid] = value
    return out or None


def _number(value, field: str) -> int | float:
    if isinstance(value, bool):
        raise InvalidInput(_("Give a number."), fields={field: "not_a_number"})
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(_("Give a number."), fields={field: "not_a_number"}) from None
    if number != number or abs(number) > labels.ANSWER_NUMBER_MAX:  # NaN or absurd
        raise InvalidInput(_("Give a number."), fields={field: "not_a_number"})
    return int(number) if number.is_integer() else number


def _replayed(
    session: Session, actor_id: int | None, client_op_id: str, task_id: int, household_id: int
) -> StatusEvent | None:
    """The event this sender's operation id already made, if any; Conflict if it was
    for another household (only the sender's own operations are looked at)."""
    first = session.scalar(
        select(StatusEvent).where(
            StatusEvent.actor_id == actor_id, StatusEvent.client_op_id == client_op_id
        )
    )
    if first is not None and (first.task_id != task_id or first.household_id != household_id):
        raise Conflict(
            _("You already used this operation id for another household."),
            fields={"client_op_id": "reused"},
            code="client_op_id_reused",
        )
    return first


def _reported_task(session: Session, actor: User, task_id: int, household_id: int) -> ReportFacts:
    """What a logged-in person reports on: a task they may see, and one of its households."""
    task = session.get(Task, task_id) if isinstance(task_id, int) else None
    if task is None or not task_visible(session, actor, task):
        raise OutOfScope(_("No such task."))
    facts = _facts(session, task.id, household_id)
    if facts is None:
        raise NotFound(_("This household is not part of this task."), code="not_in_task")
    if facts.closed_at is not None:
        raise Conflict(_("This task is closed."), code="task_closed")
    return facts


def _household_task(
    session: Session, task_id: int, household_id: int, status: str, answers
) -> ReportFacts:
    """The open task a household answers from its door plate, and the answer's kind checked.

    Whether the task exists, is closed or never reached this household, the
    household hears the same: it is not open for them."""
    facts = _facts(session, task_id, household_id)
    if facts is None or facts.closed_at is not None:
        raise NotFound(_("This task is closed or not for this household."), code="task_not_open")
    if status not in labels.HOUSEHOLD_STATUSES.get(facts.kind, ("safe",)):
        raise InvalidInput(
            _("Choose one of the answers offered."), fields={"status": "not_allowed"}
        )
    if facts.kind == "survey" and not any(v not in (None, "") for v in (answers or {}).values()):
        raise InvalidInput(_("Please answer the questions."), fields={"answers": "required"})
    return facts


_confirmed_notes: dict[str, str] = {}


def confirmed_note() -> str:
    """The note of a team case that ended with its last household confirmed, in the
    default language (memoised)."""
    locale = current_app.config["BABEL_DEFAULT_LOCALE"]
    if locale not in _confirmed_notes:
        with force_locale(locale):
            _confirmed_notes[locale] = str(labels.CONFIRMED_NOTE)
    return _confirmed_notes[locale]


def mark_notice_read(
    session: Session, actor: User, task_id: int, *, now: datetime | None = None
) -> NoticeRead:
    """Record that ``actor`` read the task (a notice's read receipt). Reading twice keeps
    the first time. A case about a team of the notice that ``actor`` had not read by
    the deadline ends here, in the same transaction: it climbs no more."""
    now = now or utcnow()
    task = get_task(session, actor, task_id)
    insert_ignore(session, NoticeRead, [{"task_id": task.id, "user_id": actor.id, "read_at": now}])
    if task.kind == "notice":
        unread.settle(session, actor, now, task_id=task.id, reader_id=actor.id)
    return session.scalar(
        select(NoticeRead).where(NoticeRead.task_id == task.id, NoticeRead.user_id == actor.id)
    )
