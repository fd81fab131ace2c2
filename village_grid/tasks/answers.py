"""Households' own answers from their door plates, written in groups.

When a sweep goes out, a whole village answers within minutes, each answer a
small write: one status event, the assignment's latest status, now and then an
overdue case closed. Written one by one, every answer pays for a transaction
of its own — on SQLite, a turn at the one writer lock and a commit; on
PostgreSQL, a commit that waits for the disk. Here the answers that arrive
while a write is under way wait for it to finish and then go in together: one
transaction, one commit for all of them (group commit). Nobody is answered
before their answer is committed; a lone answer is written at once.

"needs help" is not written here: it opens a case and tells people
(``service.record_status``).
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import NamedTuple

from flask_babel import gettext as _
from sqlalchemy.engine import Connection, Engine

from village_grid.errors import Conflict
from village_grid.models.base import utcnow
from village_grid.models.tasks import StatusEvent
from village_grid.tasks.service import (
    _INSERT_EVENT,
    _RESOLVE_OVERDUE,
    _UPDATE_ASSIGNMENT,
    AssignmentFacts,
    StatusReceipt,
    TaskFacts,
    _assignment_changes,
    _checked_status,
    _clean_answers,
    _event_row,
    _status_note,
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


_INSERT_EVENTS = _INSERT_EVENT.returning(StatusEvent.__table__.c.id, sort_by_parameter_order=True)


def write_answers(conn: Connection, answers: list[HouseholdAnswer]) -> list[StatusReceipt]:
    """Write checked answers on ``conn`` (the caller commits), in order; their receipts."""
    ids = conn.execute(_INSERT_EVENTS, [a.event for a in answers]).scalars().all()
    updates = [
        {"b_id": a.assignment_id, **{f"b_{k}": v for k, v in a.assignment_changes.items()}}
        for a in answers
        if a.assignment_changes is not None
    ]
    if updates:
        conn.execute(_UPDATE_ASSIGNMENT, updates)
    resolved = [
        {
            "b_assignment_id": a.assignment_id,
            "b_resolved_at": a.event["created_at"],
            "b_resolved_by_id": None,
            "b_resolution_note": _status_note(a.event["status"]),
        }
        for a in answers
        if a.resolve_overdue
    ]
    if resolved:
        conn.execute(_RESOLVE_OVERDUE, resolved)
    return [
        StatusReceipt(event_id, a.event["task_id"], a.event["status"], a.event["created_at"])
        for event_id, a in zip(ids, answers, strict=True)
    ]


class _Waiting:
    __slots__ = ("answer", "receipt", "error", "done")

    def __init__(self, answer: HouseholdAnswer):
        self.answer = answer
        self.receipt: StatusReceipt | None = None
        self.error: BaseException | None = None
        self.done = False


class AnswerWriter:
    """Group commit for one engine in one process (leader and followers, no extra thread).

    The thread that finds no write under way writes everything waiting,
    its own answer included; answers arriving meanwhile wait, and the first of
    them to wake writes the next group.
    """

    def __init__(self, engine: Engine):
        self._engine = engine
        self._cv = threading.Condition()
        self._waiting: list[_Waiting] = []
        self._writing = False

    def write(self, answer: HouseholdAnswer) -> StatusReceipt:
        """Write ``answer`` (with whatever else is waiting) and return once it is committed."""
        me = _Waiting(answer)
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
        if me.receipt is None:  # the writing thread was stopped mid-write (worker shutdown)
            raise RuntimeError("the answer was not written")
        return me.receipt

    def _write_group(self, group: list[_Waiting]) -> None:
        try:
            with self._engine.begin() as conn:
                receipts = write_answers(conn, [w.answer for w in group])
            for waiting, receipt in zip(group, receipts, strict=True):
                waiting.receipt = receipt
        except Exception as exc:
            if len(group) == 1:
                group[0].error = exc
                return
            # One bad answer must not sink the others: write them one by one.
            for waiting in group:
                self._write_group([waiting])


_writers: dict[Engine, AnswerWriter] = {}
_writers_lock = threading.Lock()


def answer_writer(engine: Engine) -> AnswerWriter:
    """This process's writer for ``engine``."""
    writer = _writers.get(engine)
    if writer is None:
        with _writers_lock:
            writer = _writers.setdefault(engine, AnswerWriter(engine))
    return writer
