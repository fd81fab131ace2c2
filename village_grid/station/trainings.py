"""Training sessions in the station's four subjects — fire safety, job skills,
legal knowledge, public security — and who attended each.

Attendance is taken at one go: the ids of the newcomers who came, or (at the
counter) a list of names, phone numbers or last four ID characters, each of
which must point at exactly one newcomer of the village. Functions flush,
never commit.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from village_grid.audit.service import record
from village_grid.database import insert_ignore
from village_grid.errors import InvalidInput
from village_grid.models import Attendance, Newcomer, Training, User
from village_grid.models.base import utcnow
from village_grid.station import queries
from village_grid.station.fields import Collector, choice, free_text, local_today, parse_date
from village_grid.station.labels import ATTENDANCE_MAX, PLACE_MAX, SUBJECTS, TITLE_MAX


def create_training(
    session: Session,
    actor: User | None,
    *,
    village_id: int | None,
    data: dict,
    now: datetime | None = None,
) -> Training:
    """A session in one of the four subjects, held on ``held_on`` (default today)."""
    village = queries.station_village(session, actor, village_id)
    c = Collector()
    c.take(
        "subject",
        lambda: choice(
            data.get("subject"), SUBJECTS, field="subject", label=_("Subject"), default=""
        ),
    )
    c.take(
        "title",
        lambda: free_text(
            data.get("title"), field="title", label=_("Title"), max_len=TITLE_MAX, required=True
        ),
    )
    c.take(
        "held_on",
        lambda: parse_date(
            data.get("held_on"), field="held_on", label=_("Held on"), default=local_today(now)
        ),
    )
    c.take(
        "place",
        lambda: free_text(data.get("place"), field="place", label=_("Place"), max_len=PLACE_MAX),
    )
    fields = c.done()
    training = Training(
        village_id=village.id, created_by_id=actor.id if actor is not None else None, **fields
    )
    session.add(training)
    session.flush()
    record(
        session,
        actor,
        "training.create",
        object_type="training",
        object_id=training.id,
        unit_path=village.path,
        after={
            "subject": training.subject,
            "title": training.title,
            "held_on": training.held_on.isoformat(),
            "place": training.place,
        },
    )
    return training


def record_attendance(
    session: Session,
    actor: User | None,
    training_id: int,
    newcomer_ids: list[int],
    *,
    now: datetime | None = None,
) -> int:
    """These newcomers (of the training's village) attended; recording one twice
    changes nothing. Returns how many were new. InvalidInput ``unknown`` names ids
    that are not newcomers of the village."""
    training = queries.get_training(session, actor, training_id)
    wanted = sorted({i for i in newcomer_ids if isinstance(i, int)})
    if len(wanted) > ATTENDANCE_MAX:
        raise InvalidInput(
            _("At most %(n)s people at one go.", n=ATTENDANCE_MAX),
            fields={"newcomer_ids": "too_many"},
        )
    found = {n.id for n in queries.newcomers_by_ids(session, training.village_id, wanted)}
    missing = [i for i in wanted if i not in found]
    if missing:
        raise InvalidInput(
            _("Not newcomers of this village: %(ids)s.", ids=", ".join(map(str, missing[:20]))),
            fields={"newcomer_ids": "unknown"},
        )
    at = now or utcnow()
    added = len(
        insert_ignore(
            session,
            Attendance,
            [
                {
                    "training_id": training.id,
                    "newcomer_id": i,
                    "recorded_at": at,
                    "recorded_by_id": actor.id if actor is not None else None,
                }
                for i in wanted
            ],
            returning=Attendance.id,
        )
    )
    if added:
        record(
            session,
            actor,
            "training.attendance",
            object_type="training",
            object_id=training.id,
            unit_path=training.village.path,
            after={"title": training.title, "attended": added},
        )
    return added


def match_people(
    session: Session, training: Training, lines: str
) -> tuple[list[Newcomer], list[str]]:
    """Each line (a name, a phone number, the last four ID characters) to the one
    newcomer of the village it names; the lines that name none or several."""
    found: list[Newcomer] = []
    unclear: list[str] = []
    for line in (lines or "").splitlines():
        text = line.strip()
        if not text:
            continue
        people = queries.search(session, training.village, text, limit=2)
        if len(people) == 1:
            found.append(people[0])
        else:
            unclear.append(text[:50])
    return found, unclear
