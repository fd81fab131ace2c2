"""What a household sees from its door plate (the page and the public JSON API).

Both show the same things, built here: the household's open tasks and its
red-mailbox notes, reduced to what a stranger at the door may read. Nothing
returned here holds a name, phone, flag or member. An answer goes from the
route, with the household found from the plate token, straight to
``tasks.statuses.record_status`` with no actor (the door plate).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from village_grid.models import Assignment, Household, Task
from village_grid.qr import labels
from village_grid.tasks.queries import open_tasks_for_household


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
            answered_at=assignment.updated_at if assignment.status != "pending" else None,
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
        "created_at": message.created_at.isoformat() + "Z" if message.created_at else None,
        "replied_at": message.replied_at.isoformat() + "Z" if message.replied_at else None,
    }
