"""Door-plate tokens: find the household behind a scanned plate, and rotate plates.

A plate's URL is ``BASE_URL/h/<token>``; the token (192 random bits, made by
``hierarchy.service.new_qr_token``) is the only thing in it. The database keeps
its SHA-256 (``Household.qr_token_hash``, what a scan looks up, so the timing
depends on a hash of what was sent, never on how much of a real token it
matched) and a copy sealed under the data key, to print the plate again
(``models/households.py``). A scan never needs the key.
"""

from __future__ import annotations

import re

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from village_grid.audit.service import record
from village_grid.auth.scope import load_household, load_unit, may, require_household
from village_grid.errors import InvalidInput, NotFound
from village_grid.hierarchy.queries import team_households
from village_grid.hierarchy.service import new_qr_token
from village_grid.models import Household, User
from village_grid.models.base import utcnow
from village_grid.models.qr import RetiredPlate, plate_token_hash

# Who may print a household's plate, and so read its URL (``auth/scope.py``).
PRINT = "print_plates"

# Tokens made by new_qr_token are 32 characters; anything far longer is not one.
TOKEN_MAX_LEN = 64
_TOKEN = re.compile(rf"[A-Za-z0-9_-]{{16,{TOKEN_MAX_LEN}}}")


class PlateNotFound(NotFound):
    """No household has this token. ``replaced`` when it is a plate that was rotated away."""

    code = "plate_not_found"

    def __init__(self, message: str, *, replaced: bool = False):
        super().__init__(message, code="plate_replaced" if replaced else None)
        self.replaced = replaced


def _well_formed(token: str) -> bool:
    return _TOKEN.fullmatch(token) is not None


# Built once: every door-plate scan and answer looks its household up.
_BY_TOKEN_HASH = select(Household.id).where(Household.qr_token_hash == bindparam("digest"))


def plate_household_id(session: Session, token: str) -> int:
    """The id of the household whose current plate carries ``token`` — the token check.

    Raises :class:`PlateNotFound` (404) otherwise; with ``replaced=True`` when
    the token belonged to a plate that has since been rotated, so the page can
    say so politely without naming anyone.
    """
    token = token or ""
    if not _well_formed(token):
        raise PlateNotFound(_("This door plate is not known."))
    digest = plate_token_hash(token)
    household_id = session.connection().execute(_BY_TOKEN_HASH, {"digest": digest}).scalar()
    if household_id is not None:
        return household_id
    if session.get(RetiredPlate, digest) is not None:
        raise PlateNotFound(
            _("This door plate has been replaced. Please scan the new plate on the door."),
            replaced=True,
        )
    raise PlateNotFound(_("This door plate is not known."))


def household_for_token(session: Session, token: str) -> Household:
    """The household whose current plate carries ``token`` (:func:`plate_household_id`)."""
    return session.get(Household, plate_household_id(session, token))


def household_with_plate(session: Session, actor: User | None, household_id: int) -> Household:
    """A household whose plates the actor may print, that has a plate (OutOfScope /
    Forbidden / NotFound ``no_plate``)."""
    household = require_household(session, actor, household_id, PRINT)
    if not household.qr_token_hash:
        raise NotFound(_("This household has no door plate yet."), code="no_plate")
    return household


def report_url(household: Household) -> str:
    """What the plate's QR encodes: ``BASE_URL/h/<token>`` (unsealed: needs the data key)."""
    return f"{current_app.config['BASE_URL']}/h/{household.qr_token}"


def report_url_for(actor: User | None, household: Household) -> str | None:
    """The plate's URL for someone who may print it (None for anyone else, or no plate)."""
    if not household.qr_token_hash or not may(actor, PRINT, household.team):
        return None
    return report_url(household)


def _rotate(session: Session, household: Household) -> str:
    digest = household.qr_token_hash
    if digest and session.get(RetiredPlate, digest) is None:
        session.add(RetiredPlate(token_hash=digest))
    household.qr_token = new_qr_token()
    household.qr_rotated_at = utcnow()
    return household.qr_token


def rotate_household(session: Session, actor: User | None, household_id: int) -> Household:
    """Give a household a new plate token; the old plate stops working at once.

    ``actor`` needs ``manage_plates`` on the household's team (None: the system).
    Raises OutOfScope (404) / Forbidden (403).
    """
    household = load_household(session, actor, household_id, "manage_plates")
    _rotate(session, household)
    # The audit log says a plate was replaced, never what either token was.
    record(
        session,
        actor,
        "plate.rotate",
        object_type="household",
        object_id=household.id,
        unit_path=household.team.path,
    )
    session.flush()
    return household


def rotate_team(session: Session, actor: User | None, team_id: int) -> list[Household]:
    """New plate tokens for every household of a team (e.g. a lost batch of plates)."""
    team = load_unit(session, actor, team_id, "manage_plates")
    if not team.is_team:
        raise InvalidInput(
            _("Plates are rotated for one team at a time."), fields={"unit_id": "not_a_team"}
        )
    households = team_households(session, team.id)
    for household in households:
        _rotate(session, household)
    # One event for the team, naming its households (never a token).
    record(
        session,
        actor,
        "plate.rotate",
        object_type="unit",
        object_id=team.id,
        unit_path=team.path,
        after={"households": [h.code for h in households]},
    )
    session.flush()
    return households


def ensure_token(session: Session, household: Household) -> str:
    """Issue a token to a household that has none yet (registered before plates existed)."""
    if not household.qr_token_hash:
        household.qr_token = new_qr_token()
        session.flush()
    return household.qr_token
