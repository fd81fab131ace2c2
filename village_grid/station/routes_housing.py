"""The station's housing pages: placing a newcomer (a team with room, or a household
that is there), opening a team under a full grid, departures and returns.

On the blueprint of ``routes.py``; thin like it.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from village_grid import edge
from village_grid.auth.guards import login_required
from village_grid.database.transactions import committed
from village_grid.errors import DomainError, InvalidInput
from village_grid.extensions import db
from village_grid.station import departures, display, placement
from village_grid.station.blueprint import bp, errors_of, newcomer_or_404
from village_grid.station.placement import GridFull


def _placement_page(person, *, grid_id=None, door_no="", address="", errors=None, full=None):
    """The placement page for ``person``: the grids with their room (the suggested one
    chosen), that grid's teams with room, its households to join."""
    grid_rows = placement.grids(db.session, person.village)
    by_id = {r["grid"].id: r["grid"] for r in grid_rows}
    suggested = placement.suggested_grid(db.session, person.village)
    grid = by_id.get(grid_id) if grid_id else None
    if grid is None:
        grid = suggested or (grid_rows[0]["grid"] if grid_rows else None)
    status = 409 if full else 422 if errors else 200
    # The newcomer's page context names their current home's grid ``grid``; here
    # ``grid`` is the grid being placed into.
    context = display.newcomer_context(db.session, person)
    context["grid"] = grid
    return (
        render_template(
            "station/placement.html",
            **context,
            grid_rows=grid_rows,
            suggested=suggested,
            proposals=placement.team_proposals(db.session, grid, door_no) if grid else [],
            joinable=placement.joinable(db.session, grid) if grid else [],
            door_no=door_no,
            address=address,
            errors=errors or {},
            full=full,
            new_team_name=placement.next_team_name(db.session, grid) if grid else "",
        ),
        status,
    )


def _placed(person, placement_row):
    household = placement_row.household
    flash(
        _(
            "%(name)s lives in household %(code)s (%(team)s) now; its team lead has been told. "
            "Print the door plate below.",
            name=person.name,
            code=household.code,
            team=household.team.name,
        ),
        "success",
    )
    return redirect(url_for("station.newcomer", newcomer_id=person.id) + "#home")


@bp.route("/newcomers/<id:newcomer_id>/placement", methods=["GET", "POST"])
@login_required
def placement_page(newcomer_id: int):
    """Pick a grid (the one with most room is chosen), then a team with room for a new
    rental household — or let the station choose — or a household to join."""
    person = newcomer_or_404(newcomer_id)
    source = request.form if request.method == "POST" else request.args
    grid_id = edge.id_arg("grid_id", source=source)
    door_no = source.get("door_no", "")
    address = source.get("address", "")
    if request.method == "GET":
        return _placement_page(person, grid_id=grid_id, door_no=door_no, address=address)
    mode = request.form.get("mode", "auto")
    try:
        with committed():
            if mode == "join":
                household_id = edge.id_arg("household_id", source=request.form)
                if household_id is None:
                    raise InvalidInput(
                        _("Choose a household."), fields={"household_id": "required"}
                    )
                row = placement.place(
                    db.session, current_user, person.id, household_id=household_id
                )
            else:
                team_id = edge.id_arg("team_id", source=request.form) if mode == "team" else None
                row = placement.place(
                    db.session,
                    current_user,
                    person.id,
                    team_id=team_id,
                    grid_id=grid_id if team_id is None else None,
                    door_no=door_no,
                    address=address,
                )
    except GridFull as err:
        return _placement_page(
            person, grid_id=grid_id, door_no=door_no, address=address, full=err.message
        )
    except DomainError as err:
        return _placement_page(
            person, grid_id=grid_id, door_no=door_no, address=address, errors=errors_of(err)
        )
    return _placed(person, row)


@bp.route("/newcomers/<id:newcomer_id>/placement/new-team", methods=["POST"])
@login_required
def open_team(newcomer_id: int):
    """Every team of the grid is full: open a new one under it for this household."""
    person = newcomer_or_404(newcomer_id)
    grid_id = edge.id_arg("grid_id", source=request.form)
    door_no = request.form.get("door_no", "")
    address = request.form.get("address", "")
    try:
        with committed():
            if grid_id is None:
                raise InvalidInput(_("Choose a grid."), fields={"grid_id": "required"})
            row = placement.open_team(
                db.session,
                current_user,
                person.id,
                grid_id=grid_id,
                name=request.form.get("name", ""),
                door_no=door_no,
                address=address,
            )
    except DomainError as err:
        return _placement_page(
            person, grid_id=grid_id, door_no=door_no, address=address, errors=errors_of(err)
        )
    flash(
        _(
            "New team %(team)s opened under %(grid)s. It has no team lead yet: ask the village "
            "committee to name one (meanwhile its grid member answers for it).",
            team=row.household.team.name,
            grid=row.household.team.parent.name,
        ),
        "info",
    )
    return _placed(person, row)


@bp.route("/newcomers/<id:newcomer_id>/departure", methods=["POST"])
@login_required
def depart(newcomer_id: int):
    """They left: when, why, where to. Their place in the household is freed."""
    person = newcomer_or_404(newcomer_id)
    try:
        with committed():
            departures.depart(
                db.session,
                current_user,
                person.id,
                departed_on=request.form.get("departed_on", ""),
                reason=request.form.get("reason", ""),
                to=request.form.get("to", ""),
            )
    except DomainError as err:
        for message in errors_of(err).values():
            flash(message, "error")
    else:
        flash(_("%(name)s has left; the household place is free.", name=person.name), "success")
    return redirect(url_for("station.newcomer", newcomer_id=person.id))


@bp.route("/newcomers/<id:newcomer_id>/return", methods=["POST"])
@login_required
def come_back(newcomer_id: int):
    """A worker who had left is here again."""
    person = newcomer_or_404(newcomer_id)
    try:
        with committed():
            departures.come_back(
                db.session, current_user, person.id, arrived_on=request.form.get("arrived_on", "")
            )
    except DomainError as err:
        for message in errors_of(err).values():
            flash(message, "error")
        return redirect(url_for("station.newcomer", newcomer_id=person.id))
    flash(_("Welcome back, %(name)s. Now find them a home.", name=person.name), "success")
    return redirect(url_for("station.placement_page", newcomer_id=person.id))
