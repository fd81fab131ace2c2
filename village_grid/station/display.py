"""Page helpers of the station: the words templates need, and what a newcomer's page
and the broadcast lists show, gathered from the queries (no SQL here)."""

from __future__ import annotations

from flask_login import current_user
from sqlalchemy.orm import Session

from village_grid.hierarchy.labels import RELATION_LABELS
from village_grid.models import Broadcast, Newcomer
from village_grid.qr.plates import INSTRUCTION
from village_grid.qr.service import report_url
from village_grid.qrcodes import qr_svg
from village_grid.station import broadcast as broadcasting
from village_grid.station import forms, queries
from village_grid.station.fields import local_today
from village_grid.station.labels import (
    BROADCAST_LABELS,
    DEPARTURE_LABELS,
    ID_TYPE_LABELS,
    OUTCOME_LABELS,
    PLACEMENT_LABELS,
    SEX_LABELS,
    SUBJECT_LABELS,
    label,
)
from village_grid.tasks import routing
from village_grid.tasks.graph import get_graph


def template_context() -> dict:
    """Words and choices for every station template (registered on the blueprint)."""
    return {
        "station_label": label,
        "id_type_labels": ID_TYPE_LABELS,
        "sex_labels": SEX_LABELS,
        "departure_labels": DEPARTURE_LABELS,
        "outcome_labels": OUTCOME_LABELS,
        "subject_labels": SUBJECT_LABELS,
        "broadcast_labels": BROADCAST_LABELS,
        "placement_labels": PLACEMENT_LABELS,
        "relation_labels": RELATION_LABELS,
        "station_choices": forms.choices,
    }


def newcomer_context(session: Session, person: Newcomer) -> dict:
    """Everything a newcomer's page shows: the record (ID masked), where they live and
    who answers for that team, referrals, trainings, and what the viewer may do."""
    current = queries.current_placement(session, person.id)
    household = current.household if current is not None else None
    lead = None
    grid = None
    if household is not None:
        decision = routing.responsible(get_graph(session), household.team_id)
        lead = decision.assignee
        grid = queries.units_by_id(session, {household.team.parent_id}).get(
            household.team.parent_id
        )
    return {
        "village": person.village,
        "person": person,
        "current": current,
        "household": household,
        "grid": grid,
        "lead": lead,
        "history": [p for p in queries.placements(session, person.id) if p.ended_at is not None],
        "referrals": queries.referrals_of(session, person.id),
        "attended": queries.trainings_of(session, person.id),
        "trainings": [t for t, _n in queries.trainings(session, person.village, limit=30)],
        "may_reveal": queries.may_reveal(current_user, person.village),
        "plate_svg": qr_svg(report_url(household), title=household.code)
        if household is not None and household.qr_token_hash
        else "",
        "plate_instruction": INSTRUCTION,
        "today": local_today(),
    }


def broadcast_rows(session: Session, items: list[Broadcast]) -> list[dict]:
    """Each broadcast with its task and who has read it."""
    return [
        {"broadcast": b, "task": b.task, "reads": broadcasting.reads(session, b)} for b in items
    ]
