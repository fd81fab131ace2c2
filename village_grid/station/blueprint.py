"""The station's blueprint and what its page modules share: the village a page is about,
a newcomer in scope or 404, and the messages of a refused form.

``routes.py`` (registration, a newcomer's page, the list), ``routes_housing.py``
(housing, departures) and ``routes_activities.py`` (jobs, trainings, broadcasts, the
dashboard) each register their pages on :data:`bp`; none imports another.
Every page answers ``Cache-Control: no-store``.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    redirect,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from village_grid import edge
from village_grid.auth import scope
from village_grid.errors import DomainError, InvalidInput, OutOfScope
from village_grid.extensions import db
from village_grid.models import Newcomer, Unit
from village_grid.station import queries
from village_grid.station.fields import FieldErrors

bp = Blueprint("station", __name__, url_prefix="/station")
VILLAGE_KEY = "station_village"


class ChooseVillage(Exception):
    """The person runs the station of several villages and has not chosen one."""


@bp.errorhandler(ChooseVillage)
def _choose(_err):
    return redirect(url_for("station.choose"))


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def require_station() -> None:
    """404 for anyone who runs no station anywhere (a team lead, a grid member)."""
    if not scope.may_somewhere(current_user, queries.ACTION):
        raise OutOfScope(_("Not found."))


def village() -> Unit:
    """The village whose station this page is about: asked for (``?village=``), chosen
    before (the session), or the only one the person has."""
    require_station()
    asked = edge.id_arg("village")
    chosen = asked if asked is not None else session.get(VILLAGE_KEY)
    if chosen is not None:
        try:
            unit = queries.station_village(db.session, current_user, chosen)
        except (OutOfScope, InvalidInput):
            session.pop(VILLAGE_KEY, None)
            if asked is not None:
                raise
        else:
            session[VILLAGE_KEY] = unit.id
            return unit
    try:
        return queries.station_village(db.session, current_user, None)
    except InvalidInput:
        raise ChooseVillage() from None


def newcomer_or_404(newcomer_id: int) -> Newcomer:
    require_station()
    return queries.get_newcomer(db.session, current_user, newcomer_id)


def errors_of(err: DomainError) -> dict[str, str]:
    """Each bad field's message. A single-message error is said once, at the first field
    it names with a code (``fields`` may also carry data for a client, such as
    ``suggested_team_ids``: not a field of the form)."""
    if isinstance(err, FieldErrors):
        return err.messages
    named = [field for field, code in err.fields.items() if isinstance(code, str)]
    return {named[0] if named else "": err.message}
