"""Households' own answers from their door plates, written in groups.

When a sweep goes out, a whole village answers within minutes, each answer a
small write: one status event, the assignment's latest status, now and then an
overdue case closed. Written one by one, every answer pays for a transaction
of its own — on SQLite, a turn at the one writer lock and a commit; on
PostgreSQL, a commit that waits for the disk. Here the answers that arrive
while a write is under way wait for it to finish and then go in together: one
transaction, one commit for all of them (group commit). Nobody is answered
before their answer is committed; a lone answer is written at once.

The thread that writes a group also reads what each answer needs (plate,
task, assignment) on its own connection, through statements compiled once
(``rawsql.py``): the other request threads do not call into the database at
all, and each such call would let another thread take the interpreter.

"needs help" is not written here: it opens a case and tells people
(``service.record_status``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple

from flask_babel import gettext as _
from sqlalchemy import bindparam, event, insert, or_
from sqlalchemy.engine import Dialect, Engine

from village_grid.errors import Conflict, DomainError
from village_grid.models.base import utcnow
from village_grid.models.tasks import StatusEvent
from village_grid.rawsql import prepared
from village_grid.tasks.service import (
    _RESOLVE_OVERDUE,
    _UPDATE_ASSIGNMENT,
    AssignmentFacts,
    StatusReceipt,
    TaskFacts,
    _assignment_changes,
    _assignment_update,
    _assignments,
    _checked_status,
    _clean_answers,
    _event_row,
    _overdue_resolution,
)


class HouseholdAnswer(NamedTuple):
    """One checked answer, ready to write."""

    event: dict  # the status_events row
    assignment_id: int
    assignment_changes: dict | None  # None: a later report is already recorded
    resolve_overdue: bool


def household_answer(
    task: TaskFacts,
    assignment: AssignmentFacts,
    *,
    status: str,
    note: str = "",
    answers: dict | None = None,
    client_addr: str = "",
    overdue_open: bool = True,
    now: datetime | None = None,
) -> HouseholdAnswer:
    """Check a household's answer (safe, acknowledged, answered, read) to its task.

    ``task`` and ``assignment`` were read with the plate; ``overdue_open`` says
    whether a case about the household being overdue is open (it is closed:
    the household was reached). Raises InvalidInput for an unknown status, a
    long note or bad survey answers; Conflict ``task_closed``.
    """
    if status == "needs_help":
        raise ValueError("needs_help opens a case: use service.record_status")
    now = now or utcnow()
    status, _help_kind, note = _checked_status(status, "", note)
    if task.closed_at is not None:
        raise Conflict(_("This task is closed."), code="task_closed")
    event = _event_row(
        task.id, assignment.id, assignment.household_id, status, "", note,
        _clean_answers(task, answers), "household_qr", None, client_addr, now,
    )  # fmt: skip
    latest = assignment.updated_at is None or now >= assignment.updated_at
    return HouseholdAnswer(
        event,
        assignment.id,
        _assignment_changes(assignment, event, now) if latest else None,
        latest and overdue_open,
    )


_events = StatusEvent.__table__
_EVENT_KEYS = [c.key for c in _events.c if c.key != "id"]
_INSERT_EVENT_ID = insert(_events).returning(_events.c.id)
# Latest wins in the statement itself: a team lead's tap committed between the
# household's read and this write is newer and must not be overwritten.
_UPDATE_IF_LATEST = _UPDATE_ASSIGNMENT.where(
    or_(
        _assignments.c.updated_at.is_(None),
        _assignments.c.updated_at <= bindparam("b_updated_at"),
    )
)


class AnswerReader(NamedTuple):
    """What the writing thread reads with: its own connection, inside the group's transaction."""

    cursor: Any
    dialect: Dialect

    def first(self, statement, values: dict) -> tuple | None:
        """The first row of ``statement`` (a module constant) run with ``values``."""
        return prepared(statement, self.dialect).first(self.cursor, values)


def write_answers(reader: AnswerReader, answers: list[HouseholdAnswer]) -> list[StatusReceipt]:
    """Write checked answers on the reader's connection (the caller commits), in order;
    their receipts."""
    cursor, dialect = reader
    insert_event = prepared(_INSERT_EVENT_ID, dialect, _EVENT_KEYS)
    ids = [insert_event.first(cursor, a.event)[0] for a in answers]
    updates = [
        _assignment_update(a.assignment_id, a.assignment_changes)
        for a in answers
        if a.assignment_changes is not None
    ]
    if updates:
        prepared(_UPDATE_IF_LATEST, dialect).executemany(cursor, updates)
    resolved = [
        _overdue_resolution(a.assignment_id, a.event["status"], None, a.event["created_at"])
        for a in answers
        if a.resolve_overdue
    ]
    if resolved:
        prepared(_RESOLVE_OVERDUE, dialect).executemany(cursor, resolved)
    return [
        StatusReceipt(event_id, a.event["task_id"], a.event["status"], a.event["created_at"])
        for event_id, a in zip(ids, answers, strict=True)
    ]


# Reads what it needs on the writing thread's connection and returns the
# checked answer, or None when there is nothing to write (no such plate or task).
Prepare = Callable[[AnswerReader], "HouseholdAnswer | None"]


class _Waiting:
    __slots__ = ("prepare", "receipt", "error", "done")

    def __init__(self, prepare: Prepare):
        self.prepare = prepare
        self.receipt: StatusReceipt | None = None
        self.error: BaseException | None = None
        self.done = False


class AnswerWriter:
    """Group commit for one engine in one process (leader and followers, no extra thread).

    The thread that finds no write under way takes everything waiting, its own
    answer included: it reads each answer's plate, task and assignment on one
    connection, checks it and writes the lot in one transaction. Answers
    arriving meanwhile wait, and the first of them to wake writes the next
    group. The other threads never touch the database: on SQLite every call
    into it lets another thread take the interpreter, so one thread making a
    few calls for eight answers costs far less than eight threads each making
    them for one.

    The writer keeps its connection between groups rather than taking one from
    the pool for each: the pool's check-out, reset and check-in cost about
    40 µs a group, as much as SQLite takes to write an answer. Only the thread
    writing a group uses it. A connection that went stale while it sat idle (a
    PostgreSQL restart) is dropped, and a group that found it so is written
    again on a fresh one.
    """

    def __init__(self, engine: Engine):
        self._engine = engine
        self._cv = threading.Condition()
        self._waiting: list[_Waiting] = []
        self._writing = False
        self._idle: Any = None  # the pooled DBAPI connection kept between groups
        self._closed = False

    def write(self, prepare: Prepare) -> StatusReceipt | None:
        """Prepare and write one answer (with whatever else is waiting); return once it is
        committed. None when ``prepare`` found nothing to write; what it raised is raised here.

        ``prepare`` may run on another request's thread: it must not depend on this
        request (its language, its session), only on what it was given.
        """
        me = _Waiting(prepare)
        with self._cv:
            self._waiting.append(me)
            while self._writing and not me.done:
                self._cv.wait()
            if not me.done:
                group, self._waiting = self._waiting, []
                self._writing = True
        if not me.done:
            try:
                self._write_group(group)
            finally:
                with self._cv:
                    self._writing = False
                    for waiting in group:
                        waiting.done = True
                    self._cv.notify_all()
        if me.error is not None:
            raise me.error
        return me.receipt

    def _write_group(self, group: list[_Waiting]) -> None:
        try:
            self._write(group)
        except Exception as exc:
            if len(group) == 1:
                group[0].error = exc
                return
            # One bad answer must not sink the others: write them one by one.
            for waiting in group:
                waiting.error = None
                self._write_group([waiting])

    def close(self) -> None:
        """Give the kept connection back to the pool; a group being written gives its own
        back when done."""
        with self._cv:
            self._closed = True
            connection, self._idle = self._idle, None
        if connection is not None:
            connection.close()

    def _write(self, group: list[_Waiting], *, fresh: bool = False) -> None:
        connection, self._idle = (None if fresh else self._idle), None
        reused = connection is not None
        if connection is None:
            connection = self._engine.raw_connection()
        committing = False
        try:
            reader = AnswerReader(connection.cursor(), self._engine.dialect)
            to_write: list[tuple[_Waiting, HouseholdAnswer]] = []
            for waiting in group:
                try:
                    answer = waiting.prepare(reader)
                except DomainError as exc:  # this answer is refused; the others go on
                    waiting.error = exc
                    continue
                if answer is not None:
                    to_write.append((waiting, answer))
            receipts = write_answers(reader, [answer for _w, answer in to_write])
            committing = True
            connection.commit()
        except BaseException as exc:
            stale = reused and not committing and self._disconnected(exc, connection)
            if stale:
                connection.invalidate()
            else:
                try:
                    connection.rollback()
                except Exception:  # the connection itself is broken: the pool drops it
                    connection.invalidate()
            connection.close()  # back to the pool
            if stale:
                for waiting in group:
                    waiting.error = None
                return self._write(group, fresh=True)
            raise
        if self._closed:
            connection.close()
        else:
            self._idle = connection
        for (waiting, _answer), receipt in zip(to_write, receipts, strict=True):
            waiting.receipt = receipt

    def _disconnected(self, exc: BaseException, connection) -> bool:
        dialect = self._engine.dialect
        return isinstance(exc, dialect.loaded_dbapi.Error) and dialect.is_disconnect(
            exc, connection.dbapi_connection, None
        )


_writers: dict[Engine, AnswerWriter] = {}
_writers_lock = threading.Lock()


def answer_writer(engine: Engine) -> AnswerWriter:
    """This process's writer for ``engine``."""
    writer = _writers.get(engine)
    if writer is None:
        with _writers_lock:
            writer = _writers.get(engine)
            if writer is None:
                writer = _writers[engine] = AnswerWriter(engine)
                event.listen(engine, "engine_disposed", _forget_writer)
    return writer


def _forget_writer(engine: Engine) -> None:
    """The engine's pool was replaced (``Engine.dispose``): its writer lets its connection go."""
    with _writers_lock:
        writer = _writers.pop(engine, None)
    if writer is not None:
        writer.close()
