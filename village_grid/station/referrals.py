"""Job referrals: a newcomer sent to an employer, and the answer.

A referral that ends in ``hired`` makes the employer the newcomer's own (when
they had none): the dashboard's share in work counts employers. Functions
flush, never commit.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from village_grid.audit.service import changes, record
from village_grid.errors import Conflict
from village_grid.models import JobReferral, User
from village_grid.station import queries
from village_grid.station.fields import Collector, choice, free_text, local_today, parse_date
from village_grid.station.labels import (
    EMPLOYER_MAX,
    NOTE_MAX,
    OUTCOMES,
    PENDING_OUTCOME,
    POSITION_MAX,
)


def _audit(referral: JobReferral) -> dict:
    return {
        "employer": referral.employer,
        "position": referral.position,
        "referred_on": referral.referred_on.isoformat(),
        "outcome": referral.outcome,
        "note": referral.note,
    }


def _hired(referral: JobReferral, today) -> None:
    referral.outcome_on = referral.outcome_on or today
    if not referral.newcomer.employer:
        referral.newcomer.employer = referral.employer


def refer(
    session: Session,
    actor: User | None,
    newcomer_id: int,
    data: dict,
    *,
    now: datetime | None = None,
) -> JobReferral:
    """Record a referral of a newcomer to ``employer`` for ``position`` (``referred_on``
    default today, ``outcome`` default pending). Raises FieldErrors, Conflict ``departed``."""
    newcomer = queries.get_newcomer(session, actor, newcomer_id)
    if not newcomer.present:
        raise Conflict(_("%(name)s has left.", name=newcomer.name), code="departed")
    today = local_today(now)
    c = Collector()
    c.take(
        "employer",
        lambda: free_text(
            data.get("employer"),
            field="employer",
            label=_("Employer"),
            max_len=EMPLOYER_MAX,
            required=True,
        ),
    )
    c.take(
        "position",
        lambda: free_text(
            data.get("position"), field="position", label=_("Position"), max_len=POSITION_MAX
        ),
    )
    c.take(
        "referred_on",
        lambda: parse_date(
            data.get("referred_on"), field="referred_on", label=_("Referred on"), default=today
        ),
    )
    c.take(
        "outcome",
        lambda: choice(
            data.get("outcome"),
            OUTCOMES,
            field="outcome",
            label=_("Outcome"),
            default=PENDING_OUTCOME,
        ),
    )
    c.take(
        "note", lambda: free_text(data.get("note"), field="note", label=_("Note"), max_len=NOTE_MAX)
    )
    fields = c.done()
    referral = JobReferral(
        newcomer_id=newcomer.id, created_by_id=actor.id if actor is not None else None, **fields
    )
    referral.newcomer = newcomer
    if referral.outcome != PENDING_OUTCOME:
        referral.outcome_on = today
    if referral.outcome == "hired":
        _hired(referral, today)
    session.add(referral)
    session.flush()
    record(
        session,
        actor,
        "referral.create",
        object_type="newcomer",
        object_id=newcomer.id,
        unit_path=newcomer.village.path,
        after={"name": newcomer.name, **_audit(referral)},
    )
    return referral


def set_outcome(
    session: Session,
    actor: User | None,
    referral_id: int,
    data: dict,
    *,
    now: datetime | None = None,
) -> JobReferral:
    """The employer answered: ``outcome`` (and a ``note``)."""
    referral = queries.get_referral(session, actor, referral_id)
    before = _audit(referral)
    c = Collector()
    c.take(
        "outcome",
        lambda: choice(
            data.get("outcome"), OUTCOMES, field="outcome", label=_("Outcome"), default=""
        ),
    )
    if "note" in data:
        c.take(
            "note",
            lambda: free_text(data.get("note"), field="note", label=_("Note"), max_len=NOTE_MAX),
        )
    fields = c.done()
    today = local_today(now)
    if fields["outcome"] != referral.outcome:
        referral.outcome = fields["outcome"]
        referral.outcome_on = None if referral.outcome == PENDING_OUTCOME else today
        if referral.outcome == "hired":
            _hired(referral, today)
    if "note" in fields:
        referral.note = fields["note"]
    session.flush()
    old, new = changes(before, _audit(referral))
    if new:
        newcomer = referral.newcomer
        record(
            session,
            actor,
            "referral.update",
            object_type="newcomer",
            object_id=newcomer.id,
            unit_path=newcomer.village.path,
            before=old,
            after={"name": newcomer.name, **new},
        )
    return referral
