"""Reads of the unit tree and the household registry that pages, the API and
other domains share. Read-only: writes live in ``hierarchy/service.py``."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from village_grid.models import Household


def team_households(session: Session, team_id: int) -> list[Household]:
    """The households of one team, in their order in the team (``seq``)."""
    return list(
        session.scalars(
            select(Household).where(Household.team_id == team_id).order_by(Household.seq)
        )
    )
