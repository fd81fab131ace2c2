"""The one way a household's status on a task is recorded — a team lead's tap,
a cadre acting for the lead, a phone's offline queue, the JSON API and the
household's own door plate all come here — and a read receipt for a notice.

:func:`record_reports` decides a batch of reports (a phone's sync) in one pass and
says what happened to each (:class:`Recorded`) or why it was refused (a domain error);
:func:`record_status` is its one-report case. What a report says is checked in
``tasks/report_checks.py``; what it does is decided here, the same for one or many:

- the operation ids looked up (one query): one this sender used before is a
  ``duplicate`` (nothing changes), or refused when it was for another household;
- the caller's scope over the households (one query) and the tasks it may see;
- the task teams the households count under locked in (task, team) order, then each
  task and its households' rows read under the locks (``tasks/report_places.py``):
  two batches over the same teams never each hold a lock the other waits for;
- each report decided in (task, team, household) order, one household's in the order
  sent: a repeat of the sender's latest report is a ``duplicate``; one older than the
  household's latest status is kept as an event only (``older``); the rest are
  ``applied``, the phone's time kept in [dispatch, now] (``clamped``);
- the rows written together: missing assignments, the events (one INSERT), each
  household's assignment once (latest wins, in the statement too), each team's counts
  once. A refused report writes nothing; the others apply.

A person's reports are a sign of life from their phone (``tasks/signs.py``). "Needs
help" opens a case that climbs the tree (``tasks/escalation.py``); the last household
of a team confirmed ends the team's cases about households not reached and a silent
lead. A read receipt ends a case about a notice its reader had not read by the
deadline. Functions flush and never commit: the caller owns the transaction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from village_grid.auth import scope
from village_grid.database import insert_ignore
from village_grid.errors import Conflict, DomainError, NotFound, OutOfScope
from village_grid.models import Assignment, NoticeRead, StatusEvent, Task, User
from village_grid.models.base import utcnow
from village_grid.tasks import cases, labels, membership, report_places, signs, unread
from village_grid.tasks.escalation import open_help_case
from village_grid.tasks.queries import get_task, visible_task_ids
from village_grid.tasks.report_checks import (
    checked_household_answer,
    checked_op_id,
    checked_status,
    clean_answers,
    confirmed_note,
    happened,
    may_repeat,
    not_open_to_household,
    repeats,
    via_for,
)
from village_grid.tasks.report_places import Place, TaskFacts

# Statements built once: this runs for every tap and every door-plate scan, and
# building and cache-keying a statement per call cost more than running it.
_events = StatusEvent.__table__
_assignments = Assignment.__table__
_tasks = Task.__table__
_INSERT_EVENTS = _events.insert().returning(_events.c.id, sort_by_parameter_order=True)


@dataclass(frozen=True)
class Report:
    """One household's status on a task as it was sent (see :func:`record_status`)."""

    task_id: int
    household_id: int
    status: str
    help_kind: str = ""
    note: str = ""
    answers: dict | None = None
    client_op_id: str | None = None
    client_time: datetime | None = None


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


@dataclass
class _Item:
    index: int
    report: Report
    error: DomainError | None = None  # refused unless its op id repeats one of the batch
    team_path: str = ""
    place: Place | None = None


@dataclass
class _Planned:
    """An event the batch writes, and what the report that made it is answered."""

    values: dict
    place: Place
    index: int
    result: str
    clamp: str | None
    event: StatusEvent | None = None  # once written
    told: tuple[str, ...] = ()


class _Raced(Exception):
    """Another request wrote one of the batch's operation ids first: decide again."""


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
    happened (:class:`Recorded`): :func:`record_reports` with one report.

    ``sign``: a person's report is a sign of life from their phone
    (``signs.record_signs``); False when the caller records its own.

    ``actor`` None is the household itself, answering from its door plate (the
    caller found the household from the plate's token): it may give only the
    answers its task kind offers (:data:`labels.HOUSEHOLD_STATUSES`, with the
    aliases "acknowledged", "answered", "read"), and a task that is closed or
    not for it is simply not found. How the status came (``via``) follows from
    who sent it: see ``report_checks.via_for``. ``client_op_id`` is the id a phone made
    for an offline tap (replays are ignored; its time is ``client_time``, kept between
    dispatch and now). Raises InvalidInput, OutOfScope (404), Forbidden (403),
    NotFound ``not_in_task`` / ``task_not_open``, Conflict ``task_closed`` /
    ``client_op_id_reused``.
    """
    report = Report(
        task_id, household_id, status, help_kind, note, answers, client_op_id, client_time
    )
    (done,) = record_reports(session, actor, [report], client_addr=client_addr, now=now, sign=sign)
    if isinstance(done, DomainError):
        raise done
    return done


def record_reports(
    session: Session,
    actor: User | None,
    reports: Sequence[Report],
    *,
    client_addr: str = "",
    now: datetime | None = None,
    sign: bool = True,
) -> list[Recorded | DomainError]:
    """Record a batch of reports by one sender in one pass (see the module's text); for
    each, in the order given, what happened or the domain error that refused it (it
    wrote nothing; the others apply). ``sign``: the sender's reports are a sign of life
    on their tasks (``sync`` for a queued operation, else ``tap``)."""
    now = now or utcnow()
    for attempt in range(3):
        try:
            return _record(session, actor, reports, client_addr, now, sign)
        except _Raced as raced:
            if attempt == 2:
                raise raced.__cause__ from None
    raise AssertionError("unreachable")


def _record(
    session: Session,
    actor: User | None,
    reports: Sequence[Report],
    client_addr: str,
    now: datetime,
    sign: bool,
) -> list[Recorded | DomainError]:
    actor_id = actor.id if actor is not None else None
    out: list = [None] * len(reports)
    items: list[_Item] = []
    for index, report in enumerate(reports):
        if report.client_op_id is not None:
            try:
                report = replace(report, client_op_id=checked_op_id(report.client_op_id))
            except DomainError as err:
                out[index] = err
                continue
        items.append(_Item(index, report))
    firsts = report_places.replayed(session, actor_id, [i.report.client_op_id for i in items])
    fresh: list[_Item] = []
    for item in items:
        first = firsts.get(item.report.client_op_id)
        if first is None:
            fresh.append(item)
        else:
            out[item.index] = _duplicate_of(first, item.report)
    _check_alone(session, actor, fresh)
    tasks, places = report_places.read_places(
        session,
        [
            (i.report.task_id, i.report.household_id)
            for i in fresh
            if i.error is None
            and isinstance(i.report.task_id, int)
            and isinstance(i.report.household_id, int)
        ],
    )
    for item in fresh:
        item.place = places.get((item.report.task_id, item.report.household_id))
    _read_latest(session, actor_id, fresh, tasks, now)

    planned: list[_Planned] = []
    by_op_id: dict[str, _Planned] = {}
    for item in sorted(fresh, key=_lock_order):
        report = item.report
        earlier = by_op_id.get(report.client_op_id) if report.client_op_id else None
        try:
            if earlier is not None:  # the same operation twice in the batch
                out[item.index] = _duplicate_of(earlier, report)
                continue
            if item.error is not None:
                raise item.error
            done = _decide(session, actor, item, tasks.get(report.task_id), now)
        except DomainError as err:
            out[item.index] = err
            continue
        if isinstance(done, _Planned):
            done.values["client_addr"] = (client_addr or "")[:64]
            planned.append(done)
            if report.client_op_id is not None:
                by_op_id[report.client_op_id] = done
        out[item.index] = done
    if planned:
        with_ids = any(p.values["client_op_id"] is not None for p in planned)
        try:
            # Two requests from one phone sending the same operation at once: the second
            # loses the race on the unique (sender, operation id) and decides again,
            # finding the first's.
            with session.begin_nested() if with_ids else nullcontext():
                _write(session, actor, planned, now)
        except IntegrityError as exc:
            if not with_ids:
                raise
            raise _Raced from exc
    answers = [_answer(value) for value in out]
    if sign and actor is not None:
        _sign(session, actor, reports, answers, now)
    return answers


def _answer(value) -> Recorded | DomainError:
    """A report's answer: an event the batch wrote, one it repeats, or what it was before."""
    if isinstance(value, _Planned):
        return Recorded(value.event, value.result, value.clamp, value.told)
    if isinstance(value, _Repeat):
        return Recorded(value.planned.event, "duplicate")
    return value


@dataclass(frozen=True)
class _Repeat:
    """A report answered ``duplicate`` with an event the batch writes."""

    planned: _Planned


def _duplicate_of(first: StatusEvent | _Planned, report: Report):
    """A report whose operation id ``first`` was made with: a duplicate of it, or refused
    when it was for another household."""
    made = (
        (first.values["task_id"], first.values["household_id"])
        if isinstance(first, _Planned)
        else (first.task_id, first.household_id)
    )
    if made != (report.task_id, report.household_id):
        return Conflict(
            _("You already used this operation id for another household."),
            fields={"client_op_id": "reused"},
            code="client_op_id_reused",
        )
    return _Repeat(first) if isinstance(first, _Planned) else Recorded(first, "duplicate")


def _check_alone(session: Session, actor: User | None, items: list[_Item]) -> None:
    """What each report says, and (a person's) whether its household and task are theirs
    to report on: the error it is refused with, if any (one query for the households, one
    for the tasks)."""
    teams = (
        scope.household_teams(session, [i.report.household_id for i in items])
        if actor is not None
        else {}
    )
    visible = (
        visible_task_ids(session, actor, [i.report.task_id for i in items])
        if actor is not None
        else set()
    )
    for item in items:
        report = item.report
        status = report.status
        if actor is None:  # the door plate's words for its answers
            status = (status or "").strip()
            status = labels.STATUS_ALIASES.get(status, status)
        try:
            status, help_kind, note = checked_status(status, report.help_kind, report.note)
            item.report = replace(report, status=status, help_kind=help_kind, note=note)
            if actor is None:
                continue
            team = teams.get(report.household_id)
            scope.check_household(actor, team[1] if team else None, "report_status")
            item.team_path = team[1]
            if report.task_id not in visible:
                raise OutOfScope(_("No such task."))
        except DomainError as err:
            item.error = err


def _lock_order(item: _Item) -> tuple[int, int, int]:
    """(task, team, household) of a report, zeros where it has none: the order the batch
    is decided and written in (stable: the same household's keep their order)."""
    r = item.report
    return (
        r.task_id if isinstance(r.task_id, int) else 0,
        item.place.team_id if item.place is not None else 0,
        r.household_id if isinstance(r.household_id, int) else 0,
    )


def _read_latest(
    session: Session,
    actor_id: int | None,
    items: list[_Item],
    tasks: dict[int, TaskFacts],
    now: datetime,
) -> None:
    """The latest event of each household a report may repeat, as it stands before the
    batch (one query)."""
    wanted = []
    for item in items:
        place = item.place
        if item.error is None and place is not None and place.assignment_id is not None:
            at, _clamp = happened(
                item.report.client_time, tasks[item.report.task_id].created_at, now
            )
            if may_repeat(actor_id, item.report.status, at, place.held, place.updated_at):
                wanted.append(place)
    report_places.read_latest(session, wanted)


def _decide(
    session: Session,
    actor: User | None,
    item: _Item,
    task: TaskFacts | None,
    now: datetime,
):
    """One report decided against where its household stands now (the batch's earlier
    reports on it counted): a duplicate of an event, or the event to write and what the
    report is answered; a domain error when it is refused."""
    report, place = item.report, item.place
    if actor is None:
        if place is None or task.closed_at is not None:
            raise not_open_to_household()
        checked_household_answer(task.kind, report.status, report.answers)
    else:
        if place is None:
            raise NotFound(_("This household is not part of this task."), code="not_in_task")
        if task.closed_at is not None:
            raise Conflict(_("This task is closed."), code="task_closed")
    clean = clean_answers(task.kind, task.questions, report.answers)
    at, clamp = happened(report.client_time, task.created_at, now)
    actor_id = actor.id if actor is not None else None
    has_row = place.assignment_id is not None or isinstance(place.latest, _Planned)
    if has_row and may_repeat(actor_id, report.status, at, place.status, place.updated_at):
        latest = place.latest
        if latest is report_places.UNKNOWN:  # not read with the batch's
            report_places.read_latest_one(session, place)
            latest = place.latest
        seen = latest.values if isinstance(latest, _Planned) else latest
        if repeats(seen, actor_id, report.status, report.help_kind, report.note, clean):
            return (
                _Repeat(latest) if isinstance(latest, _Planned) else Recorded(latest, "duplicate")
            )
    via = via_for(actor, item.team_path, report.client_op_id)
    client_time = report.client_time.replace(tzinfo=None) if report.client_time else None
    plan = _Planned(
        {
            "task_id": report.task_id,
            "assignment_id": place.assignment_id,
            "household_id": report.household_id,
            "status": report.status,
            "help_kind": report.help_kind,
            "note": report.note,
            "answers": clean,
            "via": via,
            "actor_id": actor_id,
            "client_op_id": report.client_op_id,
            "client_time": client_time,
            "created_at": now,
        },
        place,
        item.index,
        "applied",
        clamp,
    )
    place.latest = plan
    if place.updated_at is not None and at < place.updated_at:
        plan.result = "older"  # an older report synced late: kept as an event only
        return plan
    place.answers = clean if clean is not None else place.answers
    place.status, place.updated_at = report.status, at
    place.changes = {
        "status": report.status,
        "help_kind": report.help_kind,
        "note": report.note,
        "answers": place.answers,
        "updated_at": at,
        "updated_via": via,
        "updated_by_id": actor_id,
    }
    place.applied.append(plan)
    return plan


def _write(session: Session, actor: User | None, planned: list[_Planned], now: datetime) -> None:
    """The batch's rows written together: the households' first rows, the events (one
    INSERT), each household's assignment once, each team's counts once; then the calls
    for help and the teams whose last pending household was confirmed."""
    conn = session.connection()
    places = list({id(p.place): p.place for p in planned}.values())
    new_rows: dict[int, dict[int, Place]] = {}
    for plan in planned:
        if plan.place.assignment_id is None:
            new_rows.setdefault(plan.values["task_id"], {})[plan.values["household_id"]] = (
                plan.place
            )
    for task_id, by_household in sorted(new_rows.items()):
        teams = {hh: place.team_id for hh, place in by_household.items()}
        for hh, row_id in membership.add_rows(session, task_id, teams).items():
            by_household[hh].assignment_id = row_id
    for plan in planned:
        plan.values["assignment_id"] = plan.place.assignment_id
    # Reads and writes go through the tables, not the unit of work: this runs for
    # every tap and every door-plate answer, and loading and flushing ORM objects
    # cost more than the SQL. An assignment object already in the session is kept
    # in step by hand.
    ids = [row[0] for row in conn.execute(_INSERT_EVENTS, [p.values for p in planned])]
    for plan, event_id in zip(planned, ids, strict=True):
        # The event as it was written: detached, so it reads without a query after commit.
        plan.event = StatusEvent(id=event_id, **plan.values)
        make_transient_to_detached(plan.event)

    moves: dict[int, Counter] = {}
    confirmed: Counter = Counter()
    pending_before: dict[int, int] = {}
    changed = [p for p in places if p.changes is not None]
    updated = membership.update_latest(session, [(p.assignment_id, p.changes) for p in changed])
    for place in changed:
        if place.assignment_id not in updated:
            # A newer report was committed meanwhile: this household's are events only.
            for plan in place.applied:
                plan.result = "older"
            continue
        loaded = session.identity_map.get(identity_key(Assignment, place.assignment_id))
        if loaded is not None:
            for key, value in place.changes.items():
                set_committed_value(loaded, key, value)
        move = moves.setdefault(place.task_team_id, Counter())
        move[place.held] -= 1
        move[place.changes["status"]] += 1
        pending_before[place.task_team_id] = place.team_pending
        if place.held == labels.PENDING:
            confirmed[place.task_team_id] += 1
    for task_team_id, change in sorted(moves.items()):
        membership.move_counts(session, task_team_id, change)
    for plan in planned:
        if plan.result == "applied" and plan.values["status"] == "needs_help":
            plan.told = open_help_case(
                session,
                session.get(Task, plan.values["task_id"]),
                session.get(Assignment, plan.values["assignment_id"]),
                plan.event,
                now,
            )
    for task_team_id, moved in sorted(confirmed.items()):
        if pending_before[task_team_id] == moved:
            _team_confirmed(session, actor, task_team_id, now)


def _sign(
    session: Session,
    actor: User,
    reports: Sequence[Report],
    answers: list[Recorded | DomainError],
    now: datetime,
) -> None:
    """A person's reports are a sign of life from their phone on their tasks (a queued
    operation: ``sync``; anything else: ``tap``), one for the batch."""
    by_kind: dict[str, set[int]] = {}
    for report, answer in zip(reports, answers, strict=True):
        if isinstance(answer, Recorded):
            kind = "sync" if report.client_op_id is not None else "tap"
            by_kind.setdefault(kind, set()).add(answer.event.task_id)
    for kind, task_ids in sorted(by_kind.items()):
        signs.record_signs(session, actor, task_ids, kind=kind, now=now)


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
