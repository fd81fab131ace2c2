"""Reads of the station: which villages a person runs a station for, a newcomer
they may see, searches, today's comings and goings, lists for the pages.

Scope goes through ``village_grid.auth.scope`` (action ``station``): a newcomer,
a training or a broadcast outside the person's villages is *not found*, exactly
like a missing one. Read-only; writes are in the use-case modules.
"""

from __future__ import annotations

from datetime import date

from flask_babel import gettext as _
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from village_grid.auth import scope
from village_grid.errors import InvalidInput, OutOfScope
from village_grid.hierarchy.queries import team_household_counts
from village_grid.models import (
    Attendance,
    Broadcast,
    Household,
    JobReferral,
    Member,
    Newcomer,
    Placement,
    Training,
    Unit,
    User,
)
from village_grid.models.units import TEAM, VILLAGE_KINDS
from village_grid.station import idnumbers, vault
from village_grid.station.labels import ID_TYPES, PENDING_OUTCOME, PHONE_MAX, SEARCH_LIMIT

ACTION = "station"


# --- villages and scope ------------------------------------------------------------


def station_villages(session: Session, user: User | None, limit: int = 500) -> list[Unit]:
    """The villages (and communities) whose station ``user`` works for, in tree order."""
    return list(
        session.scalars(
            select(Unit)
            .where(Unit.kind.in_(VILLAGE_KINDS), scope.scope_clause(user, ACTION))
            .order_by(Unit.sort_path)
            .limit(limit)
        )
    )


def station_village(session: Session, user: User | None, village_id: int | None) -> Unit:
    """The village ``village_id`` if ``user`` runs its station (``user`` None: the
    system, any village); with None, the one village they do. OutOfScope when they may not; InvalidInput (``village_id``) when
    it is not a village, or None and they have several."""
    if village_id is None:
        villages = station_villages(session, user, limit=2)
        if not villages:
            raise OutOfScope(_("Not found."))
        if len(villages) > 1:
            raise InvalidInput(
                _("Choose the village whose station this is."), fields={"village_id": "required"}
            )
        return villages[0]
    unit = session.get(Unit, village_id) if isinstance(village_id, int) else None
    if unit is None or (user is not None and not scope.may(user, ACTION, unit)):
        raise OutOfScope(_("Not found."))
    if unit.kind not in VILLAGE_KINDS:
        raise InvalidInput(
            _("A station belongs to a village."), fields={"village_id": "not_a_village"}
        )
    return unit


def _in_station(user: User | None, unit: Unit | None, action: str = ACTION) -> bool:
    return unit is not None and scope.may(user, action, unit)


def get_newcomer(session: Session, user: User | None, newcomer_id: int) -> Newcomer:
    """A newcomer of a village whose station ``user`` works for; OutOfScope otherwise.
    ``user`` None is the system (command line, worker)."""
    newcomer = session.get(Newcomer, newcomer_id) if isinstance(newcomer_id, int) else None
    if newcomer is None or (user is not None and not _in_station(user, newcomer.village)):
        raise OutOfScope(_("No such newcomer."))
    return newcomer


def get_referral(session: Session, user: User | None, referral_id: int) -> JobReferral:
    referral = session.get(JobReferral, referral_id) if isinstance(referral_id, int) else None
    if referral is None or (user is not None and not _in_station(user, referral.newcomer.village)):
        raise OutOfScope(_("No such job referral."))
    return referral


def get_training(session: Session, user: User | None, training_id: int) -> Training:
    training = session.get(Training, training_id) if isinstance(training_id, int) else None
    if training is None or (user is not None and not _in_station(user, training.village)):
        raise OutOfScope(_("No such training."))
    return training


def get_broadcast(session: Session, user: User | None, broadcast_id: int) -> Broadcast:
    broadcast = session.get(Broadcast, broadcast_id) if isinstance(broadcast_id, int) else None
    if broadcast is None or (
        user is not None and not _in_station(user, session.get(Unit, broadcast.village_id))
    ):
        raise OutOfScope(_("No such broadcast."))
    return broadcast


def may_reveal(user: User | None, village: Unit) -> bool:
    """May ``user`` see this village's full ID numbers (station staff only)?"""
    return scope.may(user, "reveal_id", village)


# --- newcomers ------------------------------------------------------------------------


def find_by_lookup(session: Session, village_id: int, lookup: str) -> Newcomer | None:
    return session.scalar(
        select(Newcomer).where(Newcomer.village_id == village_id, Newcomer.id_lookup == lookup)
    )


def latest_key_fingerprint(session: Session) -> str | None:
    """The key fingerprint of the newest row that still holds an ID number."""
    return session.scalar(
        select(Newcomer.id_key)
        .where(Newcomer.id_cipher.is_not(None))
        .order_by(Newcomer.id.desc())
        .limit(1)
    )


def search(session: Session, village: Unit, text: str, limit: int = SEARCH_LIMIT) -> list[Newcomer]:
    """Newcomers of ``village`` by name, phone, the last four ID characters or the
    whole ID number (found through its keyed hash, never compared in clear)."""
    q = idnumbers.normalise_text(text).strip()
    if not q:
        return []
    compact = idnumbers.normalise(q)
    conditions = []
    if len(compact) >= 8 and compact.isalnum():
        conditions.append(
            Newcomer.id_lookup.in_([vault.lookup(kind, compact) for kind in ID_TYPES])
        )
    if len(compact) <= PHONE_MAX or not compact.isalnum():
        # Longer than a phone number: a document number, looked up by its hash only —
        # it must not go to the database (and its logs) as a LIKE pattern.
        conditions.append(Newcomer.name.contains(q, autoescape=True))
        if compact.isdigit() and len(compact) >= 3:
            conditions.append(Newcomer.phone.contains(compact, autoescape=True))
    if len(compact) == 4 and compact.isalnum():
        conditions.append(Newcomer.id_last4 == compact)
    return list(
        session.scalars(
            select(Newcomer)
            .where(Newcomer.village_id == village.id, or_(*conditions))
            .order_by(Newcomer.departed_on.is_not(None), Newcomer.arrived_on.desc())
            .limit(limit)
        )
    )


def newcomers(
    session: Session, village: Unit, *, present: bool | None = True, limit: int, offset: int = 0
) -> tuple[list[Newcomer], int]:
    """One page of a village's newcomers (here now, departed, or all), newest arrival first."""
    where = [Newcomer.village_id == village.id]
    if present is True:
        where.append(Newcomer.departed_on.is_(None))
    elif present is False:
        where.append(Newcomer.departed_on.is_not(None))
    total = session.scalar(select(func.count(Newcomer.id)).where(*where)) or 0
    rows = session.scalars(
        select(Newcomer)
        .where(*where)
        .order_by(Newcomer.arrived_on.desc(), Newcomer.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows), total


def arrived_on(session: Session, village: Unit, day: date) -> list[Newcomer]:
    return list(
        session.scalars(
            select(Newcomer)
            .where(Newcomer.village_id == village.id, Newcomer.arrived_on == day)
            .order_by(Newcomer.id.desc())
        )
    )


def departed_on(session: Session, village: Unit, day: date) -> list[Newcomer]:
    return list(
        session.scalars(
            select(Newcomer)
            .where(Newcomer.village_id == village.id, Newcomer.departed_on == day)
            .order_by(Newcomer.id.desc())
        )
    )


def current_placement(session: Session, newcomer_id: int) -> Placement | None:
    """Where the newcomer lives now (None: nowhere yet, or departed)."""
    return session.scalar(
        select(Placement).where(Placement.newcomer_id == newcomer_id, Placement.ended_at.is_(None))
    )


def current_households(session: Session, newcomer_ids: list[int]) -> dict[int, Household]:
    """Where each of these newcomers lives now, by newcomer id."""
    if not newcomer_ids:
        return {}
    rows = session.execute(
        select(Placement.newcomer_id, Household)
        .join(Household, Household.id == Placement.household_id)
        .where(Placement.newcomer_id.in_(newcomer_ids), Placement.ended_at.is_(None))
    ).all()
    return {nid: household for nid, household in rows}


def placements(session: Session, newcomer_id: int) -> list[Placement]:
    """Every place the newcomer has lived, newest first."""
    return list(
        session.scalars(
            select(Placement)
            .where(Placement.newcomer_id == newcomer_id)
            .order_by(Placement.placed_at.desc(), Placement.id.desc())
        )
    )


def referrals_of(session: Session, newcomer_id: int) -> list[JobReferral]:
    return list(
        session.scalars(
            select(JobReferral)
            .where(JobReferral.newcomer_id == newcomer_id)
            .order_by(JobReferral.referred_on.desc(), JobReferral.id.desc())
        )
    )


def open_referrals(session: Session, village: Unit, limit: int = 100) -> list[JobReferral]:
    """Referrals still waiting for an answer, oldest first (chase those)."""
    return list(
        session.scalars(
            select(JobReferral)
            .join(Newcomer, Newcomer.id == JobReferral.newcomer_id)
            .where(Newcomer.village_id == village.id, JobReferral.outcome == PENDING_OUTCOME)
            .order_by(JobReferral.referred_on, JobReferral.id)
            .limit(limit)
        )
    )


def trainings_of(session: Session, newcomer_id: int) -> list[Training]:
    return list(
        session.scalars(
            select(Training)
            .join(Attendance, Attendance.training_id == Training.id)
            .where(Attendance.newcomer_id == newcomer_id)
            .order_by(Training.held_on.desc())
        )
    )


def trainings(session: Session, village: Unit, limit: int = 200) -> list[tuple[Training, int]]:
    """A village's training sessions, newest first, with how many attended each."""
    counts = (
        select(Attendance.training_id, func.count(Attendance.id).label("n"))
        .group_by(Attendance.training_id)
        .subquery()
    )
    rows = session.execute(
        select(Training, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.training_id == Training.id)
        .where(Training.village_id == village.id)
        .order_by(Training.held_on.desc(), Training.id.desc())
        .limit(limit)
    ).all()
    return [(t, n) for t, n in rows]


def attendees(session: Session, training_id: int) -> list[Newcomer]:
    return list(
        session.scalars(
            select(Newcomer)
            .join(Attendance, Attendance.newcomer_id == Newcomer.id)
            .where(Attendance.training_id == training_id)
            .order_by(Newcomer.name)
        )
    )


def newcomers_by_ids(session: Session, village_id: int, ids: list[int]) -> list[Newcomer]:
    if not ids:
        return []
    return list(
        session.scalars(
            select(Newcomer).where(Newcomer.village_id == village_id, Newcomer.id.in_(ids))
        )
    )


def broadcasts(session: Session, village: Unit, limit: int = 50) -> list[Broadcast]:
    return list(
        session.scalars(
            select(Broadcast)
            .where(Broadcast.village_id == village.id)
            .order_by(Broadcast.created_at.desc(), Broadcast.id.desc())
            .limit(limit)
        )
    )


# --- housing -----------------------------------------------------------------------------


def teams_with_counts(session: Session, village: Unit) -> list[tuple[Unit, int]]:
    """Every team of ``village`` with its number of households, in tree order."""
    teams = list(
        session.scalars(
            select(Unit)
            .where(Unit.kind == TEAM, scope.subtree_clause(Unit.path, village.path))
            .order_by(Unit.sort_path)
        )
    )
    counts = team_household_counts(session, [t.id for t in teams])
    return [(t, counts.get(t.id, 0)) for t in teams]


def units_by_id(session: Session, ids: set[int]) -> dict[int, Unit]:
    if not ids:
        return {}
    return {u.id: u for u in session.scalars(select(Unit).where(Unit.id.in_(ids)))}


def sibling_names(session: Session, parent_id: int) -> set[str]:
    return set(session.scalars(select(Unit.name).where(Unit.parent_id == parent_id)))


def door_numbers(session: Session, team_ids: list[int]) -> dict[int, list[str]]:
    """The door numbers of the households of these teams, by team."""
    out: dict[int, list[str]] = {t: [] for t in team_ids}
    if team_ids:
        for team_id, door_no in session.execute(
            select(Household.team_id, Household.door_no).where(Household.team_id.in_(team_ids))
        ):
            out[team_id].append(door_no or "")
    return out


def grid_households(session: Session, grid: Unit, limit: int) -> list[tuple[Household, int]]:
    """Households of the teams under ``grid`` with their number of members, by code."""
    members = (
        select(Member.household_id, func.count(Member.id).label("n"))
        .group_by(Member.household_id)
        .subquery()
    )
    rows = session.execute(
        select(Household, func.coalesce(members.c.n, 0))
        .join(Unit, Unit.id == Household.team_id)
        .outerjoin(members, members.c.household_id == Household.id)
        .where(scope.subtree_clause(Unit.path, grid.path))
        .order_by(Household.code)
        .limit(limit)
    ).all()
    return [(h, n) for h, n in rows]


def vacant_households(session: Session, household_ids: list[int]) -> set[int]:
    """Of these households, those the station emptied: someone it placed there has left,
    nobody it placed lives there now, and no member is left."""
    if not household_ids:
        return set()
    left = set(
        session.scalars(
            select(Placement.household_id).where(
                Placement.household_id.in_(household_ids), Placement.ended_at.is_not(None)
            )
        )
    )
    living = set(
        session.scalars(
            select(Placement.household_id).where(
                Placement.household_id.in_(left), Placement.ended_at.is_(None)
            )
        )
    )
    with_members = set(
        session.scalars(select(Member.household_id).where(Member.household_id.in_(left)))
    )
    return left - living - with_members


def member_count(session: Session, household_id: int) -> int:
    return (
        session.scalar(select(func.count(Member.id)).where(Member.household_id == household_id))
        or 0
    )
