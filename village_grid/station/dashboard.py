"""The station's figures: who came this month and from where, who is in work,
trainings held and attended, referrals still open, comings and goings by week.

Read-only, one GROUP BY per figure over one village; the page draws them as
server-rendered SVG (``templates/station/_charts.html``).
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from village_grid.models import Attendance, JobReferral, Newcomer, Training, Unit
from village_grid.station.labels import OUTCOMES, SUBJECTS

PROVINCES_SHOWN = 8
WEEKS = 12


def month_start(today: date) -> date:
    return today.replace(day=1)


def by_province(session: Session, village: Unit, since: date, until: date) -> list[tuple[str, int]]:
    """Arrivals between ``since`` and ``until`` by home province, most first (the rest
    summed under "")."""
    rows = session.execute(
        select(Newcomer.home_province, func.count(Newcomer.id))
        .where(
            Newcomer.village_id == village.id,
            Newcomer.arrived_on >= since,
            Newcomer.arrived_on <= until,
        )
        .group_by(Newcomer.home_province)
        .order_by(func.count(Newcomer.id).desc(), Newcomer.home_province)
    ).all()
    named = [(p, n) for p, n in rows if p]
    unnamed = sum(n for p, n in rows if not p)
    shown = named[:PROVINCES_SHOWN]
    rest = sum(n for _p, n in named[PROVINCES_SHOWN:]) + unnamed
    return shown + ([("", rest)] if rest else [])


def work(session: Session, village: Unit) -> dict:
    """Newcomers here now: in work (an employer), looking for work, neither."""
    employed = Newcomer.employer != ""
    in_work, looking, total = session.execute(
        select(
            func.sum(case((employed, 1), else_=0)),
            func.sum(case((~employed & Newcomer.wants_work.is_(True), 1), else_=0)),
            func.count(Newcomer.id),
        ).where(Newcomer.village_id == village.id, Newcomer.departed_on.is_(None))
    ).one()
    in_work, looking, total = int(in_work or 0), int(looking or 0), int(total or 0)
    return {
        "total": total,
        "in_work": in_work,
        "looking": looking,
        "other": total - in_work - looking,
        "share": round(100 * in_work / total) if total else 0,
    }


def trainings(session: Session, village: Unit, since: date) -> list[dict]:
    """Per subject since ``since``: sessions held and attendances."""
    held = dict(
        session.execute(
            select(Training.subject, func.count(Training.id))
            .where(Training.village_id == village.id, Training.held_on >= since)
            .group_by(Training.subject)
        ).all()
    )
    attended = dict(
        session.execute(
            select(Training.subject, func.count(Attendance.id))
            .join(Attendance, Attendance.training_id == Training.id)
            .where(Training.village_id == village.id, Training.held_on >= since)
            .group_by(Training.subject)
        ).all()
    )
    return [
        {"subject": s, "sessions": held.get(s, 0), "attended": attended.get(s, 0)} for s in SUBJECTS
    ]


def referrals(session: Session, village: Unit) -> dict:
    """Referrals by outcome (all time)."""
    counts = dict(
        session.execute(
            select(JobReferral.outcome, func.count(JobReferral.id))
            .join(Newcomer, Newcomer.id == JobReferral.newcomer_id)
            .where(Newcomer.village_id == village.id)
            .group_by(JobReferral.outcome)
        ).all()
    )
    return {k: counts.get(k, 0) for k in OUTCOMES}


def weeks(session: Session, village: Unit, today: date) -> list[dict]:
    """Arrivals and departures in each of the last 12 weeks (Monday to Sunday), oldest first."""
    monday = today - timedelta(days=today.weekday())
    start = monday - timedelta(weeks=WEEKS - 1)
    buckets = [
        {"start": start + timedelta(weeks=i), "arrived": 0, "departed": 0} for i in range(WEEKS)
    ]

    def bucket(day: date) -> dict | None:
        i = (day - start).days // 7
        return buckets[i] if 0 <= i < WEEKS else None

    for day, n in session.execute(
        select(Newcomer.arrived_on, func.count(Newcomer.id))
        .where(Newcomer.village_id == village.id, Newcomer.arrived_on >= start)
        .group_by(Newcomer.arrived_on)
    ):
        if (b := bucket(day)) is not None:
            b["arrived"] += n
    for day, n in session.execute(
        select(Newcomer.departed_on, func.count(Newcomer.id))
        .where(Newcomer.village_id == village.id, Newcomer.departed_on >= start)
        .group_by(Newcomer.departed_on)
    ):
        if (b := bucket(day)) is not None:
            b["departed"] += n
    return buckets


def figures(session: Session, village: Unit, today: date) -> dict:
    """Everything the dashboard shows, for ``village`` as of ``today`` (local)."""
    since = month_start(today)
    provinces = by_province(session, village, since, today)
    return {
        "month_start": since,
        "provinces": provinces,
        "arrived_this_month": sum(n for _p, n in provinces),
        "work": work(session, village),
        "trainings": trainings(session, village, today.replace(month=1, day=1)),
        "referrals": referrals(session, village),
        "weeks": weeks(session, village, today),
    }
