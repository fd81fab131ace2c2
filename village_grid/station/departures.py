"""A newcomer leaving (and coming back), and the erasure of a departed worker's
full ID number ``ID_RETENTION_DAYS`` after they left.

A departure frees their place in the household (``placement.end_current``) and
keeps everything else: the record, the referrals, the trainings, where they
lived. A worker who comes back (after the Spring Festival, most of them) keeps
their record; the stay that ended moves to ``past_stays``. Functions flush,
never commit; :func:`erase_expired_ids` is run by the worker's tick.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from village_grid.audit.service import record
from village_grid.errors import Conflict
from village_grid.models import Newcomer, Unit, User
from village_grid.models.base import utcnow
from village_grid.station import placement, queries
from village_grid.station.fields import (
    Collector,
    choice,
    free_text,
    local_today,
    not_after,
    parse_date,
)
from village_grid.station.labels import DEPARTURE_REASONS, PLACE_MAX

# Erased at most this many at one tick (the rest at the next).
ERASE_BATCH = 500


def depart(
    session: Session,
    actor: User | None,
    newcomer_id: int,
    *,
    departed_on: object,
    reason: object,
    to: object = "",
    now: datetime | None = None,
) -> Newcomer:
    """Record that a newcomer left on ``departed_on`` (why, and where to). Their place
    in the household is freed. Raises FieldErrors, Conflict ``already_departed``."""
    newcomer = queries.get_newcomer(session, actor, newcomer_id)
    if not newcomer.present:
        raise Conflict(
            _("%(name)s already left on %(day)s.", name=newcomer.name, day=newcomer.departed_on),
            code="already_departed",
        )
    today = local_today(now)
    c = Collector()
    day_label = _("Departure date")
    day = c.take(
        "departed_on",
        lambda: not_after(
            parse_date(departed_on, field="departed_on", label=day_label, default=today),
            today,
            field="departed_on",
            label=day_label,
        ),
    )
    if day is not None and day < newcomer.arrived_on:
        c.refuse(
            "departed_on",
            _("%(field)s is before the arrival date.", field=day_label),
            "before_arrival",
        )
    c.take(
        "reason",
        lambda: choice(
            reason, DEPARTURE_REASONS, field="reason", label=_("Reason"), default="other"
        ),
    )
    c.take("to", lambda: free_text(to, field="to", label=_("Going to"), max_len=PLACE_MAX))
    fields = c.done()
    placement.end_current(session, actor, newcomer, "departed", now)
    newcomer.departed_on = fields["departed_on"]
    newcomer.departure_reason = fields["reason"]
    newcomer.departure_to = fields["to"]
    session.flush()
    record(
        session,
        actor,
        "newcomer.depart",
        object_type="newcomer",
        object_id=newcomer.id,
        unit_path=newcomer.village.path,
        after={
            "name": newcomer.name,
            "departed_on": newcomer.departed_on.isoformat(),
            "departure_reason": newcomer.departure_reason,
            "departure_to": newcomer.departure_to,
        },
    )
    return newcomer


def come_back(
    session: Session,
    actor: User | None,
    newcomer_id: int,
    *,
    arrived_on: object,
    now: datetime | None = None,
) -> Newcomer:
    """A worker who had left is here again from ``arrived_on``: the last stay goes to
    ``past_stays``. Their ID number, if already erased, must be entered again."""
    newcomer = queries.get_newcomer(session, actor, newcomer_id)
    if newcomer.present:
        raise Conflict(_("%(name)s has not left.", name=newcomer.name), code="not_departed")
    today = local_today(now)
    label = _("Arrival date")
    c = Collector()
    day = c.take(
        "arrived_on",
        lambda: not_after(
            parse_date(arrived_on, field="arrived_on", label=label, default=today),
            today,
            field="arrived_on",
            label=label,
        ),
    )
    if day is not None and newcomer.departed_on is not None and day < newcomer.departed_on:
        c.refuse(
            "arrived_on",
            _("%(field)s is before the departure date.", field=label),
            "before_departure",
        )
    fields = c.done()
    stay = {
        "arrived_on": newcomer.arrived_on.isoformat(),
        "departed_on": newcomer.departed_on.isoformat() if newcomer.departed_on else None,
        "reason": newcomer.departure_reason,
        "to": newcomer.departure_to,
    }
    newcomer.past_stays = [*(newcomer.past_stays or []), stay]
    newcomer.arrived_on = fields["arrived_on"]
    newcomer.departed_on = None
    newcomer.departure_reason = ""
    newcomer.departure_to = ""
    session.flush()
    record(
        session,
        actor,
        "newcomer.return",
        object_type="newcomer",
        object_id=newcomer.id,
        unit_path=newcomer.village.path,
        before={"departed_on": stay["departed_on"]},
        after={"name": newcomer.name, "arrived_on": newcomer.arrived_on.isoformat()},
    )
    return newcomer


def retention_cutoff(now: datetime | None = None) -> date:
    """Departures on or before this day have had their ID numbers kept long enough."""
    return local_today(now) - timedelta(days=int(current_app.config["ID_RETENTION_DAYS"]))


def erase_expired_ids(session: Session, *, now: datetime | None = None) -> int:
    """Erase the full ID number (cipher and lookup hash) of every worker who left
    ``ID_RETENTION_DAYS`` ago or more; the mask, the record and its history stay.
    One audit event each (actor: the system). Returns how many; the caller commits."""
    now = now or utcnow()
    cutoff = retention_cutoff(now)
    due = list(
        session.execute(
            select(Newcomer, Unit.path)
            .join(Unit, Unit.id == Newcomer.village_id)
            .where(Newcomer.departed_on <= cutoff, Newcomer.id_cipher.is_not(None))
            .order_by(Newcomer.id)
            .limit(ERASE_BATCH)
        ).all()
    )
    for newcomer, path in due:
        newcomer.id_cipher = None
        newcomer.id_lookup = None
        newcomer.id_erased_at = now
        record(
            session,
            None,
            "newcomer.erase_id",
            object_type="newcomer",
            object_id=newcomer.id,
            unit_path=path,
            after={
                "name": newcomer.name,
                "id_mask": newcomer.id_mask,
                "departed_on": newcomer.departed_on.isoformat(),
            },
            at=now,
        )
    session.flush()
    return len(due)
