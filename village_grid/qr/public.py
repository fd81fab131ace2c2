"""What a household sees from its door plate (the page and the public JSON API).

Both show the same things, built here: the household's open tasks and its
red-mailbox notes, reduced to what a stranger at the door may read. Nothing
returned here holds a name, phone, flag or member. An answer from the page or the
API goes through :func:`answer`: the plate's household, then
``tasks.statuses.record_status`` with no actor (the door plate). Which red-mailbox
notes this browser wrote (so it may read their text again) is kept in its own
session cookie (:func:`remember_sent`, :func:`sent_here`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import session as browser
from sqlalchemy.orm import Session

from village_grid.models import Assignment, Household, Task
from village_grid.models.base import iso_z
from village_grid.qr import labels, mailbox, service
from village_grid.tasks.labels import PENDING
from village_grid.tasks.queries import open_tasks_for_household
from village_grid.tasks.statuses import Recorded, record_status

# Red-mailbox notes this browser wrote, remembered in its session cookie (newest first).
SENT_KEY = "mailbox_sent"
SENT_KEEP = 20


def answer(
    session: Session,
    token: str,
    *,
    task_id: int,
    status: str,
    kind: str = "",
    note: str = "",
    answers: dict | None = None,
    client_addr: str = "",
) -> Recorded:
    """A household answers one of its open tasks from its door plate (the page's form
    and the public API alike): the plate's household, then the one status service."""
    return record_status(
        session,
        None,
        task_id=task_id,
        household_id=service.plate_household_id(session, token),
        status=status,
        help_kind=kind,
        note=note,
        answers=answers,
        client_addr=client_addr,
    )


def remember_sent(message_id: int) -> None:
    """This browser wrote red-mailbox note ``message_id``."""
    sent = [i for i in browser.get(SENT_KEY, []) if isinstance(i, int)]
    browser[SENT_KEY] = ([message_id] + sent)[:SENT_KEEP]


def sent_here() -> set[int]:
    """The notes this browser wrote."""
    return {i for i in browser.get(SENT_KEY, []) if isinstance(i, int)}


def public_messages(session: Session, household_id: int) -> list[dict]:
    """The household's red-mailbox notes as its page shows them (text only to the
    browser that wrote each)."""
    sent = sent_here()
    return [
        public_message(m, show_text=m.id in sent)
        for m in mailbox.messages_for_household(session, household_id)
    ]


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
            "deadline": iso_z(self.deadline),
            "questions": self.questions,
            "answered": self.answered_at is not None,
            "answered_at": iso_z(self.answered_at),
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
    pairs: list[tuple[Task, Assignment]] = open_tasks_for_household(session, household.id)
    return [
        PublicTask(
            id=task.id,
            kind=task.kind,
            subkind=task.subkind or "",
            title=task.title,
            body=task.body or "",
            deadline=task.deadline,
            questions=_public_questions(task.questions),
            answered_at=assignment.updated_at if assignment.status != PENDING else None,
        )
        for task, assignment in pairs
    ]


def public_message(message, *, show_text: bool) -> dict:
    """A red-mailbox note as its household's page shows it: no phone, no staff name.

    ``show_text`` is true only on the phone that wrote it (see routes): the note
    itself may be private, the staff reply is written knowing it is public.
    """
    return {
        "tracking_no": message.tracking_no,
        "category": message.category,
        "category_label": str(labels.CATEGORIES.get(message.category, message.category)),
        "text": message.text if show_text else None,
        "status": message.status,
        "reply": message.reply or None,
        "created_at": iso_z(message.created_at),
        "replied_at": iso_z(message.replied_at),
    }
