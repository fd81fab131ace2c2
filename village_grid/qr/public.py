"""What a household can do from its door-plate page (and the public JSON API).

Both the page's forms and ``/api/v1/public/<token>/...`` call these functions;
the household was found from the plate token, there is no user (``actor=None``),
and every submission carries the client's address and lands as a status event
with ``via="household_qr"`` — "needs help" escalates inside ``record_status``.
Nothing returned here holds a name, phone, flag or member.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from village_grid.errors import DomainError, InvalidInput
from village_grid.extensions import db
from village_grid.models import Assignment, Household, Task
from village_grid.qr import mailbox
from village_grid.qr import service as plate_service
from village_grid.tasks import answers as household_answers
from village_grid.tasks import service as tasks_service
from village_grid.validation import clean_text

NOTE_MAX = 200
ANSWER_TEXT_MAX = 200

# What a household may answer, per task kind. The words a client may send for
# "I have seen it" (acknowledge a campaign, answer a survey, read a notice) all
# record the task's "safe" status: the household answered.
PUBLIC_STATUSES = {
    "sweep": ("safe", "needs_help"),
    "campaign": ("safe", "needs_help"),
    "survey": ("safe",),
    "notice": ("safe",),
}
STATUS_ALIASES = {"acknowledged": "safe", "answered": "safe", "read": "safe", "ok": "safe"}
HELP_KINDS = {
    "flooding": _l("Water coming in"),
    "medical": _l("Someone is ill or hurt"),
    "evacuation": _l("We need to move out"),
    "supplies": _l("Food, water or medicine"),
    "other": _l("Other"),
}


@dataclass(frozen=True)
class PublicTask:
    id: int
    kind: str
    subkind: str
    title: str
    body: str
    deadline: datetime | None
    questions: list
    answered_at: datetime | None

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "kind": self.kind,
            "subkind": self.subkind,
            "title": self.title,
            "body": self.body,
            "deadline": self.deadline.isoformat() + "Z" if self.deadline else None,
            "questions": self.questions,
            "answered": self.answered_at is not None,
            "answered_at": self.answered_at.isoformat() + "Z" if self.answered_at else None,
        }


def _public_questions(questions) -> list[dict]:
    out = []
    for q in questions or []:
        if not isinstance(q, dict) or "id" not in q:
            continue
        item = {"id": str(q["id"]), "type": q.get("type", "text"), "text": q.get("text", "")}
        if item["type"] == "choice":
            item["choices"] = [str(c) for c in q.get("choices") or []]
        out.append(item)
    return out


def open_tasks(session: Session, household: Household) -> list[PublicTask]:
    """The household's open tasks, reduced to what anyone at the door may read.

    Whether the household already answered is shown, not what it answered:
    a stranger scanning the plate must not learn that someone here needed help.
    """
    pairs: list[tuple[Task, Assignment]] = tasks_service.open_tasks_for_household(
        session, household.id
    )
    return [
        PublicTask(
            id=task.id,
            kind=task.kind,
            subkind=task.subkind or "",
            title=task.title,
            body=task.body or "",
            deadline=task.deadline,
            questions=_public_questions(task.questions),
            answered_at=assignment.updated_at if assignment.status != "pending" else None,
        )
        for task, assignment in pairs
    ]


def submit_report(
    session: Session,
    token: str,
    *,
    task_id: int,
    status: str,
    kind: str = "",
    note: str = "",
    answers: dict | None = None,
    client_addr: str = "",
) -> tasks_service.StatusReceipt:
    """Record, and commit, what the household behind the plate ``token`` answered
    for one of its open tasks; returns the receipt the household is shown.

    A household's answer is final the moment it is acknowledged, so this owns its
    transaction. Raises PlateNotFound for an unknown or replaced plate, NotFound
    ``task_not_open`` when the task is not open for this household, InvalidInput
    for an answer the task kind does not take, a long note or bad survey answers.
    """
    status = (status or "").strip()
    status = STATUS_ALIASES.get(status, status)
    if status == "needs_help":
        # A call for help opens a case that climbs the tree and tells people:
        # the full path, through the session.
        found = plate_service.open_task_for_plate(session, token, task_id)
        note, _no_answers = _check_answer(found.task, status, note, answers)
        event = tasks_service.record_status(
            session,
            None,
            task_id=found.task.id,
            household_id=found.assignment.household_id,
            status=status,
            help_kind=(kind or "").strip(),
            note=note,
            via="household_qr",
            client_addr=client_addr,
        )
        receipt = tasks_service.StatusReceipt(
            event.id, event.task_id, event.status, event.created_at
        )
        session.commit()
        return receipt
    # Every other answer is read, checked and written by this process's writer
    # together with the answers arriving at the same moment (tasks/answers.py):
    # a whole village answers within minutes of a sweep going out.
    writer = household_answers.answer_writer(db.engine)
    try:
        receipt = writer.write(
            lambda reader: prepare_answer(
                reader, token, task_id, status, note, answers, client_addr
            )
        )
    except DomainError:
        # Refused in the writing thread, which may be another request's, in its
        # language: the check below says it again in this one's.
        receipt = None
    if receipt is not None:
        return receipt
    # Not written: say precisely why (a replaced plate, a closed task, a wrong answer).
    found = plate_service.open_task_for_plate(session, token, task_id)
    answer = _household_answer(found, status, note, answers, client_addr)
    session.rollback()  # this request's read ends here; the writer has its own connection
    # Only when something changed between the two reads (the task was just sent out).
    receipt = writer.write(lambda _reader: answer)
    if receipt is None:
        raise RuntimeError("the answer was not written")
    return receipt


def prepare_answer(
    reader: household_answers.AnswerReader,
    token: str,
    task_id: int,
    status: str,
    note: str,
    answers: dict | None,
    client_addr: str,
) -> household_answers.HouseholdAnswer | None:
    """Read the plate's open task with ``reader`` (the writer's connection) and check the
    answer; None when the plate or the task is not found. Runs in whichever request's
    thread writes the group: its refusals are said again by the request itself."""
    found = plate_service.plate_task(reader.first, token, task_id)
    if found is None:
        return None
    return _household_answer(found, status, note, answers, client_addr)


def _household_answer(
    found: plate_service.PlateTask,
    status: str,
    note: str,
    answers: dict | None,
    client_addr: str,
) -> household_answers.HouseholdAnswer:
    """A household's answer other than "needs help", checked against its task and ready to write."""
    note, survey_answers = _check_answer(found.task, status, note, answers)
    return household_answers.household_answer(
        found.task,
        found.assignment,
        status=status,
        note=note,
        answers=survey_answers,
        client_addr=client_addr,
        overdue_open=found.overdue_open,
    )


def _check_answer(task, status: str, note: str, answers: dict | None) -> tuple[str, dict | None]:
    """The note and survey answers, once the status is one this task kind takes."""
    if status not in PUBLIC_STATUSES.get(task.kind, ("safe",)):
        raise InvalidInput(
            _("Choose one of the answers offered."), fields={"status": "not_allowed"}
        )
    note = clean_text(note, field="note", max_len=NOTE_MAX, label=_("Note")) if note else ""
    survey_answers = None
    if task.kind == "survey":
        # record_status checks each answer against the questions; here only that there are some.
        survey_answers = {k: v for k, v in (answers or {}).items() if v not in (None, "")}
        if not survey_answers:
            raise InvalidInput(_("Please answer the questions."), fields={"answers": "required"})
    return note, survey_answers


def public_message(message, *, show_text: bool) -> dict:
    """A red-mailbox note as its household's page shows it: no phone, no staff name.

    ``show_text`` is true only on the phone that wrote it (see routes): the note
    itself may be private, the staff reply is written knowing it is public.
    """
    return {
        "tracking_no": message.tracking_no,
        "category": message.category,
        "category_label": str(mailbox.CATEGORIES.get(message.category, message.category)),
        "text": message.text if show_text else None,
        "status": message.status,
        "reply": message.reply or None,
        "created_at": message.created_at.isoformat() + "Z" if message.created_at else None,
        "replied_at": message.replied_at.isoformat() + "Z" if message.replied_at else None,
    }
