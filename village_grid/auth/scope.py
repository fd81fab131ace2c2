"""Who may see and change what — decided here and nowhere else.

A role on a unit is a right on everything under it. Every page, API endpoint,
export and task route asks these functions; none compares roles on its own.
An object outside the actor's scope is reported as *not found*, never as
forbidden, so ids cannot be probed.
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import and_, false, or_, select, true
from sqlalchemy.orm import Session

from village_grid.errors import Forbidden, OutOfScope
from village_grid.models import Household, Unit, User

# Which roles carry which action. "view" is implied by holding any role on a unit.
ACTIONS: dict[str, frozenset[str]] = {
    "view": frozenset({"admin", "cadre", "grid_member", "team_lead", "station_staff"}),
    "edit_household": frozenset({"admin", "cadre", "grid_member", "station_staff"}),
    "manage_units": frozenset({"admin", "cadre", "grid_member"}),
    "assign_roles": frozenset({"admin", "cadre"}),
    # Seeing the people of an area and making their one-time sign-in links (and
    # printing a grid's sheet of them): a grid member for their grid's people.
    "sign_in_links": frozenset({"admin", "cadre", "grid_member"}),
    "import": frozenset({"admin", "cadre"}),
    "dispatch": frozenset({"admin", "cadre", "grid_member"}),
    "report_status": frozenset({"admin", "cadre", "grid_member", "team_lead"}),
    "handle_escalations": frozenset({"admin", "cadre", "grid_member"}),
    "mailbox": frozenset({"admin", "cadre", "grid_member", "team_lead"}),
    "manage_plates": frozenset({"admin", "cadre", "grid_member"}),
    # Printing door plates, and so reading their URLs (qr/service.py: report_url_for):
    # the tree's people, and station staff for the households they place newcomers in.
    "print_plates": frozenset({"admin", "cadre", "grid_member", "team_lead", "station_staff"}),
    "station": frozenset({"admin", "cadre", "station_staff"}),
    # Seeing a newcomer's full ID number (one at a time, with a reason) or exporting
    # them all: station staff alone, not even an administrator (station/registration.py).
    "reveal_id": frozenset({"station_staff"}),
    "audit": frozenset({"admin", "cadre"}),
    # Running the server: the background worker, its queue and failed messages.
    "operate": frozenset({"admin"}),
}


def _check_action(action: str) -> frozenset[str]:
    try:
        return ACTIONS[action]
    except KeyError:
        raise ValueError(f"unknown action {action!r}") from None


def scope_paths(user: User | None, action: str = "view") -> list[str] | None:
    """Paths of the subtrees where ``user`` may do ``action``; ``None`` means everywhere.

    An anonymous or inactive user gets an empty list (nowhere).
    """
    roles = _check_action(action)
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    paths: list[str] = []
    for ra in user.roles:
        if ra.role not in roles:
            continue
        if ra.role == "admin":
            return None
        if ra.unit is not None:
            paths.append(ra.unit.path)
    # Drop paths inside other paths: fewer clauses, same scope.
    paths.sort(key=len)
    kept: list[str] = []
    for p in paths:
        if not within(p, kept):
            kept.append(p)
    return kept


def may_somewhere(user: User | None, action: str) -> bool:
    """Does ``user`` hold ``action`` on at least one unit (an administrator: everywhere)?
    Whether to offer a page or a menu entry at all."""
    return scope_paths(user, action) != []


def within(path: str, paths: list[str] | None) -> bool:
    """Does the unit at ``path`` lie in one of the subtrees rooted at ``paths``?

    ``None`` means everywhere (an administrator's scope); an empty list, nowhere.
    The one prefix comparison on unit paths in Python; :func:`subtree_clause`
    is its twin in SQL.
    """
    return paths is None or any(path.startswith(p) for p in paths)


def is_under(path: str, root_path: str) -> bool:
    """Is the unit at ``path`` the unit at ``root_path`` or one below it?"""
    return within(path, [root_path])


def narrow(paths: list[str] | None, path: str) -> list[str]:
    """The part of the subtrees at ``paths`` that lies under the unit at ``path``: the unit
    itself when it is within them, else those of them below it (a grid member looking at
    their village's sweep sees their grid); empty when the two do not meet."""
    if within(path, paths):
        return [path]
    return [p for p in paths or () if is_under(p, path)]


def path_upper_bound(path: str) -> str:
    """The first string after every path that starts with ``path`` ("/1/7/" → "/1/70").

    Paths hold only digits and "/", and "0" follows "/" in byte order.
    """
    return path[:-1] + "0"


def subtree_clause(path_column, path: str):
    """SQL condition: ``path_column`` lies in the subtree rooted at ``path``. One index range."""
    return and_(path_column >= path, path_column < path_upper_bound(path))


def under_clause(unit_or_path: Unit | str, path_column=Unit.path):
    """SQL condition: ``path_column`` lies in the subtree of a unit (given as the unit or
    its path) — the unit and everything below it. :func:`is_under` in SQL."""
    path = unit_or_path if isinstance(unit_or_path, str) else unit_or_path.path
    return subtree_clause(path_column, path)


def paths_clause(paths: list[str] | None, path_column=Unit.path):
    """SQL condition: ``path_column`` lies in one of the subtrees at ``paths``
    (``None``: everywhere; empty: nowhere). :func:`within` in SQL."""
    if paths is None:
        return true()
    if not paths:
        return false()
    return or_(*(subtree_clause(path_column, p) for p in paths))


def scope_clause(user: User | None, action: str, path_column=Unit.path):
    """SQL condition restricting ``path_column`` to the user's scope for ``action``."""
    return paths_clause(scope_paths(user, action), path_column)


def may(user: User | None, action: str, unit: Unit) -> bool:
    """May ``user`` do ``action`` on ``unit`` (and so on everything under it)?"""
    return within(unit.path, scope_paths(user, action))


def is_team_lead_for(user: User | None, unit: Unit) -> bool:
    """Does ``user`` lead the team ``unit`` lies in (a lead's own households)?

    Decides whether a status from this user is recorded as a team lead's or a
    cadre's (grid member, cadre or administrator acting for the lead)."""
    return leads_team_at(user, unit.path)


def leads_team_at(user: User | None, team_path: str) -> bool:
    """:func:`is_team_lead_for` by the team's path (a batch of reports reads the paths of
    its households' teams in one query, not their units)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return any(
        ra.role == "team_lead" and ra.unit is not None and is_under(team_path, ra.unit.path)
        for ra in user.roles
    )


def _by_id(session: Session, model, row_id):
    """The row of ``model`` with id ``row_id``; None when there is none, or when the id is
    not an integer at all (a string or a float from a JSON body)."""
    return session.get(model, row_id) if isinstance(row_id, int) else None


def require_unit(session: Session, user: User | None, unit_id: int, action: str = "view") -> Unit:
    """Load a unit the user may act on.

    Raises :class:`OutOfScope` (404) when it does not exist or the user may not
    even see it, :class:`Forbidden` (403) when they may see it but not do ``action``.
    """
    unit = _by_id(session, Unit, unit_id)
    if unit is None or not may(user, "view", unit):
        raise OutOfScope(_("No such unit."))
    if action != "view" and not may(user, action, unit):
        raise Forbidden(_("You may not do this here."))
    return unit


def require_household(
    session: Session, user: User | None, household_id: int, action: str = "view"
) -> Household:
    """Load a household the user may act on; same errors as :func:`require_unit`."""
    household = _by_id(session, Household, household_id)
    if household is None:
        raise OutOfScope(_("No such household."))
    check_household(user, household.team.path, action)
    return household


def check_household(user: User | None, team_path: str | None, action: str = "view") -> None:
    """:func:`require_household`'s rule for a household whose team lies at ``team_path``
    (None: no such household), for callers that read many households at once."""
    if team_path is None or not within(team_path, scope_paths(user, "view")):
        raise OutOfScope(_("No such household."))
    if action != "view" and not within(team_path, scope_paths(user, action)):
        raise Forbidden(_("You may not do this here."))


def household_teams(session: Session, household_ids) -> dict[int, tuple[int, str]]:
    """(team id, team path) of each of these households that exists (one query)."""
    ids = sorted({h for h in household_ids if isinstance(h, int)})
    if not ids:
        return {}
    rows = session.execute(
        select(Household.id, Household.team_id, Unit.path)
        .join(Unit, Unit.id == Household.team_id)
        .where(Household.id.in_(ids))
    )
    return {hh: (team, path) for hh, team, path in rows}


def load_unit(session: Session, actor: User | None, unit_id: int, action: str = "view") -> Unit:
    """:func:`require_unit` for services that also run as the system itself:
    ``actor=None`` (command line, demo data, the importer run from the shell)
    checks only that the unit exists. Routes always pass the logged-in user."""
    if actor is not None:
        return require_unit(session, actor, unit_id, action)
    unit = _by_id(session, Unit, unit_id)
    if unit is None:
        raise OutOfScope(_("No such unit."))
    return unit


def load_household(
    session: Session, actor: User | None, household_id: int, action: str = "view"
) -> Household:
    """:func:`require_household`, with ``actor=None`` as in :func:`load_unit`."""
    if actor is not None:
        return require_household(session, actor, household_id, action)
    household = _by_id(session, Household, household_id)
    if household is None:
        raise OutOfScope(_("No such household."))
    return household


def scope_roots(session: Session, user: User | None, action: str = "view") -> list[Unit]:
    """The top units of the user's scope (for admin: the roots of the tree)."""
    paths = scope_paths(user, action)
    if paths is None:
        return list(
            session.scalars(select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.sort_path))
        )
    if not paths:
        return []
    return list(session.scalars(select(Unit).where(Unit.path.in_(paths)).order_by(Unit.sort_path)))


def has_role(user: User | None, *roles: str) -> bool:
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return any(ra.role in roles for ra in user.roles)


def user_unit_path(user: User | None) -> str | None:
    """The unit a person's own events (password, availability, a locked login) are
    filed under in the audit log: the highest unit they hold a role on. None for an
    administrator (admin-wide) or a person with no role."""
    if user is None or any(ra.unit is None for ra in user.roles):
        return None
    paths = sorted((ra.unit.path for ra in user.roles if ra.unit is not None), key=len)
    return paths[0] if paths else None


def may_manage_person(actor: User | None, person: User) -> bool:
    """May ``actor`` act on ``person``'s login (reset their password)? Only if every
    role ``person`` holds lies where ``actor`` may give roles: a cadre must not take
    over the login of someone who also answers for units above or beside them.
    An administrator's role sits on no unit, so only an administrator manages one.
    Nobody manages their own login this way (they change their own password)."""
    if actor is None or person is None or actor.id == person.id:
        return False
    paths = scope_paths(actor, "assign_roles")
    if paths is None:
        return True
    if not paths or not person.roles:
        return False
    return all(ra.unit is not None and within(ra.unit.path, paths) for ra in person.roles)


# Roles whose holders sign in by one-time link or code, without a password. Anyone
# holding another role (cadre, station staff, administrator) keeps their password.
LINK_ROLES = frozenset({"team_lead", "grid_member"})


def signs_in_by_link(person: User | None) -> bool:
    """Does ``person`` sign in by one-time link: active, holding at least one role, and
    only team lead or grid member roles? A link opens a login with the person's own
    roles, so it never grants more than that."""
    if person is None or not person.active or not person.roles:
        return False
    return all(ra.role in LINK_ROLES for ra in person.roles)


def may_make_sign_in_link(actor: User | None, person: User) -> bool:
    """May ``actor`` make a sign-in link for ``person`` (or print it on a grid's sheet)?
    Every role ``person`` holds must lie where ``actor`` holds ``sign_in_links`` (a grid
    member: their grid's leads and members). Nobody makes one for themselves this way
    (their own signed-in page gives a code for another browser)."""
    if actor is None or person is None or actor.id == person.id:
        return False
    paths = scope_paths(actor, "sign_in_links")
    if paths is None:
        return True
    if not paths or not person.roles:
        return False
    return all(ra.unit is not None and within(ra.unit.path, paths) for ra in person.roles)


def may_end_logins(actor: User | None, person: User) -> bool:
    """May ``actor`` end ``person``'s logins from their page (a lost phone)? Whoever
    manages their login (:func:`may_manage_person`) or makes their sign-in links
    (:func:`may_make_sign_in_link`)."""
    return may_manage_person(actor, person) or may_make_sign_in_link(actor, person)


def may_all(user: User | None, action: str, paths: list[str] | None) -> bool:
    """May ``user`` do ``action`` on every subtree at ``paths`` (``None``: everywhere,
    which only an administrator's scope covers)? Who may read a file made of them."""
    mine = scope_paths(user, action)
    if paths is None:
        return mine is None
    return bool(paths) and all(within(p, mine) for p in paths)
