"""Housing a newcomer: into a household that is there (as a member), or as a new
rental household in a team that still has room.

The ten-household rule is ``hierarchy.service.lock_team_with_room``, reached
through ``create_household``: this module only proposes (a grid's teams below
the cap, fewest households first, then nearest by door number) and tries them
in that order; a team that filled up meanwhile refuses and the next is tried.
When no team of the grid has room it says so (:class:`GridFull`, 409) and the
station may open a new team under the grid (:func:`open_team`).

The team's lead (or whoever answers for the team) is told through the outbox.
Functions flush, never commit.
"""

from __future__ import annotations

import re
from datetime import datetime

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from village_grid.audit.service import record
from village_grid.auth import scope
from village_grid.errors import Conflict, InvalidInput, TeamFull
from village_grid.hierarchy import service as registry
from village_grid.models import Household, Member, Newcomer, Placement, Unit, User
from village_grid.models.base import utcnow
from village_grid.models.units import TEAM
from village_grid.notify import service as notify
from village_grid.station import queries
from village_grid.station.labels import JOINABLE_HOUSEHOLDS, PROPOSED_TEAMS
from village_grid.tasks import routing
from village_grid.tasks.graph import get_graph
from village_grid.validation import clean_text

_NUMBER = re.compile(r"(\d+)")
FAR = 10**9


class GridFull(Conflict):
    """No team of the grid has room for another household."""

    code = "grid_full"


# --- proposals ------------------------------------------------------------------------


def door_number(door_no: str | None) -> tuple[str, int] | None:
    """ "侯官路23号" → ("侯官路", 23): the street and the first number of a door number."""
    m = _NUMBER.search(door_no or "")
    if m is None:
        return None
    return (door_no or "")[: m.start()].strip(), int(m.group(1))


def _distance(door: tuple[str, int] | None, doors: list[str]) -> int:
    """How far ``door`` is from the nearest of ``doors`` (same street first)."""
    if door is None:
        return FAR
    best = FAR
    for other in doors:
        parsed = door_number(other)
        if parsed is None:
            continue
        gap = abs(parsed[1] - door[1]) + (0 if parsed[0] == door[0] else FAR // 2)
        best = min(best, gap)
    return best


def grids(session: Session, village: Unit) -> list[dict]:
    """The units right above the village's teams (its grids), each with its teams,
    households and free places; most room first. A full team offers no place."""
    cap = registry.team_max_households()
    by_grid: dict[int, dict] = {}
    for team, n in queries.teams_with_counts(session, village):
        row = by_grid.setdefault(
            team.parent_id, {"teams": 0, "households": 0, "room": 0, "teams_with_room": 0}
        )
        row["teams"] += 1
        row["households"] += n
        row["room"] += max(0, cap - n)
        row["teams_with_room"] += 1 if n < cap else 0
    units = queries.units_by_id(session, set(by_grid))
    out = [{"grid": units[gid], **row} for gid, row in by_grid.items() if gid in units]
    out.sort(key=lambda r: (-r["room"], r["grid"].sort_path))
    return out


def suggested_grid(session: Session, village: Unit) -> Unit | None:
    """The village's grid with the most free places (None: every team is full)."""
    rows = [r for r in grids(session, village) if r["room"] > 0]
    return rows[0]["grid"] if rows else None


def team_proposals(
    session: Session, grid: Unit, door_no: str = "", limit: int = PROPOSED_TEAMS
) -> list[dict]:
    """The grid's teams with fewer households than the cap: fewest first, then nearest
    by door number to ``door_no``. Never a full one."""
    cap = registry.team_max_households()
    rows = [
        (team, n)
        for team, n in queries.teams_with_counts(session, grid)
        if team.parent_id == grid.id and n < cap
    ]
    doors = queries.door_numbers(session, [t.id for t, _n in rows])
    door = door_number(door_no)
    proposals = [
        {"team": t, "households": n, "distance": _distance(door, doors[t.id])} for t, n in rows
    ]
    proposals.sort(key=lambda p: (p["households"], p["distance"], p["team"].sort_path))
    return proposals[:limit]


def joinable(session: Session, grid: Unit, limit: int = JOINABLE_HOUSEHOLDS) -> list[dict]:
    """Households of the grid a newcomer can join: emptied station rentals first,
    then rentals, then the rest, by code."""
    rows = queries.grid_households(session, grid, limit)
    vacant = queries.vacant_households(session, [h.id for h, _n in rows])
    out = [{"household": h, "members": n, "vacant": h.id in vacant} for h, n in rows]
    out.sort(key=lambda r: (not r["vacant"], not r["household"].rental, r["household"].code))
    return out


def _grid_of_village(session: Session, actor: User | None, village: Unit, grid_id: int) -> Unit:
    grid = scope.load_unit(session, actor, grid_id, "view")
    if not scope.is_under(grid.path, village.path) or not any(
        team.parent_id == grid.id for team, _n in queries.teams_with_counts(session, grid)
    ):
        raise InvalidInput(
            _("Choose a grid of the station's village."), fields={"grid_id": "not_a_grid"}
        )
    return grid


# --- placing ---------------------------------------------------------------------------


def place(
    session: Session,
    actor: User | None,
    newcomer_id: int,
    *,
    household_id: int | None = None,
    team_id: int | None = None,
    grid_id: int | None = None,
    door_no: str = "",
    address: str = "",
    now: datetime | None = None,
) -> Placement:
    """Give a newcomer a home: join ``household_id``; or a new rental household in
    ``team_id``; or in the best team of ``grid_id``; or of the grid with most room.

    Raises GridFull / TeamFull (409), Conflict ``departed``, InvalidInput, OutOfScope."""
    now = now or utcnow()
    newcomer = queries.get_newcomer(session, actor, newcomer_id)
    if not newcomer.present:
        raise Conflict(
            _("%(name)s has left; record their return first.", name=newcomer.name),
            code="departed",
        )
    village = newcomer.village
    if household_id is not None:
        return _join(session, actor, newcomer, household_id, now)
    door_no = clean_text(door_no, field="door_no", max_len=50, label=_("Door number"))
    address = clean_text(address, field="address", max_len=200, label=_("Address"))
    if team_id is not None:
        team = scope.load_unit(session, actor, team_id, "view")
        if not scope.is_under(team.path, village.path):
            raise InvalidInput(
                _("Choose a team of the station's village."), fields={"team_id": "not_a_team"}
            )
        candidates = [team]
    else:
        grid = (
            _grid_of_village(session, actor, village, grid_id)
            if grid_id is not None
            else suggested_grid(session, village)
        )
        if grid is None:
            raise GridFull(
                _(
                    "Every team of the village has %(n)s households.",
                    n=registry.team_max_households(),
                ),
                fields={"grid_id": "grid_full"},
            )
        candidates = [p["team"] for p in team_proposals(session, grid, door_no)]
        if not candidates:
            raise _grid_full(grid)
    for i, team in enumerate(candidates):
        try:
            household = _new_household(session, actor, newcomer, team, door_no, address)
        except TeamFull:
            if team_id is not None:
                raise
            if i == len(candidates) - 1:
                raise _grid_full(session.get(Unit, team.parent_id)) from None
            continue
        return _record(session, actor, newcomer, household, household.members[0], "new", now)
    raise AssertionError("unreachable")  # the loop returns or raises


def _grid_full(grid: Unit | None) -> GridFull:
    cap = registry.team_max_households()
    name = grid.name if grid is not None else ""
    return GridFull(
        _(
            "Every team of %(grid)s has %(cap)s households. Open a new team under the grid "
            "for this household.",
            grid=name,
            cap=cap,
        ),
        fields={"grid_id": "grid_full", "new_team_under": grid.id if grid is not None else None},
    )


def _new_household(
    session: Session, actor: User | None, newcomer: Newcomer, team: Unit, door_no: str, address: str
) -> Household:
    """A rental household headed by the newcomer, through the registry (and its cap)."""
    end_current(session, actor, newcomer, "moved")
    return registry.create_household(
        session,
        actor,
        team_id=team.id,
        data={
            "head_name": newcomer.name,
            "phone": newcomer.phone,
            "door_no": door_no,
            "address": address,
            "flags": ["rental"],
        },
        members=[
            {
                "name": newcomer.name,
                "relation": "head",
                "sex": newcomer.sex,
                "phone": newcomer.phone,
            }
        ],
    )


def _join(
    session: Session, actor: User | None, newcomer: Newcomer, household_id: int, now: datetime
) -> Placement:
    household = scope.load_household(session, actor, household_id, "edit_household")
    if not scope.is_under(household.team.path, newcomer.village.path):
        raise InvalidInput(
            _("Choose a household of the station's village."),
            fields={"household_id": "outside_village"},
        )
    current = queries.current_placement(session, newcomer.id)
    if current is not None and current.household_id == household.id:
        return current
    end_current(session, actor, newcomer, "moved")
    vacant = household.id in queries.vacant_households(session, [household.id])
    if vacant:  # an emptied rental: the newcomer heads it now
        registry.update_household(
            session, actor, household.id, {"head_name": newcomer.name, "phone": newcomer.phone}
        )
    member = registry.add_member(
        session,
        actor,
        household.id,
        {
            "name": newcomer.name,
            "relation": "head" if vacant else "tenant",
            "sex": newcomer.sex,
            "phone": newcomer.phone,
        },
    )
    return _record(session, actor, newcomer, household, member, "joined", now)


def _record(
    session: Session,
    actor: User | None,
    newcomer: Newcomer,
    household: Household,
    member: Member,
    kind: str,
    now: datetime,
) -> Placement:
    placement = Placement(
        newcomer_id=newcomer.id,
        household_id=household.id,
        team_id=household.team_id,
        member_id=member.id,
        kind=kind,
        placed_at=now,
        placed_by_id=actor.id if actor is not None else None,
    )
    session.add(placement)
    session.flush()
    record(
        session,
        actor,
        "newcomer.place",
        object_type="newcomer",
        object_id=newcomer.id,
        unit_path=household.team.path,
        after={"name": newcomer.name, "household": household.code, "team": household.team.name},
    )
    _tell_team(session, household, newcomer, placement, arrived=True)
    return placement


def end_current(
    session: Session,
    actor: User | None,
    newcomer: Newcomer,
    reason: str,
    now: datetime | None = None,
) -> Placement | None:
    """The newcomer no longer lives where they did (``moved`` or ``departed``): their
    member row leaves the household, and a household left with nobody in it whose
    head they were is marked vacant (its phone cleared) — the team lead must not
    call someone who has gone. The household keeps its place and its history."""
    placement = queries.current_placement(session, newcomer.id)
    if placement is None:
        return None
    placement.ended_at = now or utcnow()
    placement.end_reason = reason
    household = placement.household
    if placement.member_id is not None and session.get(Member, placement.member_id) is not None:
        registry.remove_member(session, actor, placement.member_id)
    placement.member_id = None
    session.flush()
    if household.head_name == newcomer.name and queries.member_count(session, household.id) == 0:
        with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
            vacant = _("(vacant)")
        registry.update_household(session, actor, household.id, {"head_name": vacant, "phone": ""})
    if reason == "departed":
        _tell_team(session, household, newcomer, placement, arrived=False)
    return placement


def _tell_team(
    session: Session,
    household: Household,
    newcomer: Newcomer,
    placement: Placement,
    *,
    arrived: bool,
) -> None:
    """A message to whoever answers for the household's team: name, phone and household
    only (never an ID number)."""
    decision = routing.responsible(get_graph(session), household.team_id)
    if decision.assignee is None:
        return
    link = f"{current_app.config['BASE_URL']}/field/teams/{household.team_id}"
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        if arrived:
            body = _(
                "[Migrant-worker station] %(name)s %(phone)s now lives in household %(code)s "
                "%(door)s of your team %(team)s. Your team: %(link)s",
                name=newcomer.name,
                phone=newcomer.phone,
                code=household.code,
                door=household.door_no,
                team=household.team.name,
                link=link,
            )
        else:
            body = _(
                "[Migrant-worker station] %(name)s has left household %(code)s of your team "
                "%(team)s. Your team: %(link)s",
                name=newcomer.name,
                code=household.code,
                team=household.team.name,
                link=link,
            )
    notify.enqueue(
        session,
        event_key=f"station:{'placed' if arrived else 'left'}:{placement.id}",
        body=body,
        recipient_id=decision.assignee.id,
        recipient_label=decision.assignee.name,
    )


def next_team_name(session: Session, grid: Unit) -> str:
    """A name for a new team under ``grid`` that no sibling has: "5小队" after four."""
    taken = queries.sibling_names(session, grid.id)
    n = len(taken) + 1
    while _("Team %(n)s", n=n) in taken:
        n += 1
    return _("Team %(n)s", n=n)


def open_team(
    session: Session,
    actor: User | None,
    newcomer_id: int,
    *,
    grid_id: int,
    name: str = "",
    door_no: str = "",
    address: str = "",
    now: datetime | None = None,
) -> Placement:
    """Open a new team under a grid whose every team is full, and place the newcomer's
    new household in it. Refused (409 ``grid_has_room``) while a team there has room."""
    newcomer = queries.get_newcomer(session, actor, newcomer_id)
    grid = _grid_of_village(session, actor, newcomer.village, grid_id)
    if team_proposals(session, grid, limit=1):
        raise Conflict(
            _("A team of %(grid)s still has room: place the household there.", grid=grid.name),
            code="grid_has_room",
        )
    team = registry.create_unit(
        session,
        actor,
        kind=TEAM,
        name=(name or "").strip() or next_team_name(session, grid),
        parent_id=grid.id,
        action="station",
    )
    return place(
        session, actor, newcomer.id, team_id=team.id, door_no=door_no, address=address, now=now
    )
