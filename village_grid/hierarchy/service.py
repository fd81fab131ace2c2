"""The unit tree and the household registry: every write to them goes through here.

Functions take the session and the acting user explicitly and return the
object they made or changed, or raise a domain error. They flush but do not
commit: the caller (a route, the importer, the CLI) owns the transaction, so
an import can be all-or-nothing.

``actor=None`` means the system itself (command line, demo data); routes
always pass the logged-in user.

Every change is written to the audit log (``village_grid.audit.service.record``)
in the same transaction: who, what, the changed fields before and after —
whichever path called (form, API, import, command line).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from village_grid.audit.service import changes, record
from village_grid.auth.scope import (
    has_role,
    load_household,
    load_unit,
    require_household,
    require_unit,
)
from village_grid.errors import Conflict, DuplicateCode, InvalidInput, NotFound, TeamFull
from village_grid.hierarchy import divisions, events, ordering, queries
from village_grid.hierarchy.labels import HOUSEHOLD_FIELD_LABELS, UNIT_CODE_MAX
from village_grid.models import HOUSEHOLD_FLAGS, Household, Member, Unit, User
from village_grid.models.base import utcnow
from village_grid.models.units import TEAM, UNIT_KINDS, bump_tree_version
from village_grid.validation import clean_text, normalise_phone

RELATIONS = ("head", "spouse", "child", "parent", "grandchild", "sibling", "tenant", "other")


def team_max_households() -> int:
    try:
        return int(current_app.config["TEAM_MAX_HOUSEHOLDS"])
    except RuntimeError:  # outside an app context (pure scripts)
        return 10


def new_qr_token() -> str:
    """A door-plate token: 192 random bits, URL-safe."""
    return secrets.token_urlsafe(24)


# --- the tree ---------------------------------------------------------------


def clean_unit_name(name: str | None) -> str:
    """A unit's name: required, at most 100 characters."""
    return clean_text(name, field="name", max_len=100, required=True, label=_("Name"))


def clean_unit_code(code: str | None) -> str:
    """A unit's code as given (upper-cased; "" when none): letters and digits, at most
    ``UNIT_CODE_MAX``."""
    code = (code or "").strip().upper()
    if code and (len(code) > UNIT_CODE_MAX or not code.isalnum()):
        raise InvalidInput(
            _("Code “%(c)s”: letters and digits only, at most %(n)s.", c=code, n=UNIT_CODE_MAX),
            fields={"code": "invalid"},
        )
    return code


def next_unit_code(taken: set[str]) -> str:
    """The code a unit gets when none is given: the first free "01", "02" … among its
    siblings' codes ``taken``."""
    n = len(taken) + 1
    while f"{n:02d}" in taken:
        n += 1
    return f"{n:02d}"


def _unit_code(session: Session, parent: Unit | None, kind: str, code: str | None) -> str:
    code = clean_unit_code(code)
    siblings = select(Unit.code).where(
        Unit.parent_id.is_(None) if parent is None else Unit.parent_id == parent.id
    )
    taken = set(session.scalars(siblings))
    if code:
        if code in taken:
            raise DuplicateCode(
                _("Code %(c)s is already used here.", c=code), fields={"code": "taken"}
            )
        if kind == "village" and session.scalar(
            select(Unit.id).where(Unit.kind == "village", Unit.code == code)
        ):
            raise DuplicateCode(
                _("Village code %(c)s is already used by another village.", c=code),
                fields={"code": "taken"},
            )
        return code
    return next_unit_code(taken)


def create_unit(
    session: Session,
    actor: User | None,
    *,
    kind: str,
    name: str,
    parent_id: int | None,
    code: str | None = None,
    division_code: str | None = None,
    action: str = "manage_units",
) -> Unit:
    """Add a unit under ``parent_id`` (or a new root, admins only).

    Teams are leaves: they hold households, not units. Names are unique among
    siblings; a division code lies inside the parent's (``hierarchy/divisions.py``).
    ``action`` is the right the actor needs on the parent (the station
    opens a team under a full grid with ``station``). Raises InvalidInput,
    NotFound/OutOfScope, Conflict.
    """
    kind = (kind or "").strip()
    if kind not in UNIT_KINDS:
        raise InvalidInput(_("Unknown unit kind %(k)s.", k=kind or "—"), fields={"kind": "unknown"})
    name = clean_unit_name(name)
    parent: Unit | None = None
    if parent_id is None:
        if actor is not None and not has_role(actor, "admin"):
            raise InvalidInput(
                _("Choose the unit this one belongs to."), fields={"parent_id": "required"}
            )
    else:
        parent = load_unit(session, actor, parent_id, action)
        if parent.kind == TEAM:
            raise InvalidInput(
                _("A team holds households, not other units."), fields={"parent_id": "is_team"}
            )
    if session.scalar(
        select(Unit.id).where(
            Unit.parent_id.is_(None) if parent is None else Unit.parent_id == parent.id,
            Unit.name == name,
        )
    ):
        raise Conflict(
            _("%(name)s already exists here.", name=name),
            fields={"name": "taken"},
            code="duplicate_name",
        )
    division = divisions.clean(
        division_code, parent_code=parent.division_code if parent is not None else ""
    )
    unit = Unit(
        kind=kind,
        name=name,
        parent=parent,
        code=_unit_code(session, parent, kind, code),
        division_code=division,
        depth=0 if parent is None else parent.depth + 1,
    )
    session.add(unit)
    session.flush()
    unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    unit.sort_path = ordering.sort_path(parent.sort_path if parent else None, name, unit.id)
    bump_tree_version(session)
    after = {"kind": unit.kind, "name": unit.name, "code": unit.code}
    if division:
        after["division_code"] = division
    after["parent"] = parent.name if parent is not None else None
    record(
        session,
        actor,
        "unit.create",
        object_type="unit",
        object_id=unit.id,
        unit_path=unit.path,
        after=after,
    )
    return unit


def lock_team_with_room(session: Session, team_id: int) -> Unit:
    """Take the team's write lock and check it has room for one more household.

    The UPDATE takes a row lock on PostgreSQL and the database write lock on
    SQLite, so two requests racing for the last place are serialised: the
    second one counts after the first commits and gets TeamFull. The one
    function every path that adds a household to a team calls.
    """
    locked = session.execute(
        update(Unit)
        .where(Unit.id == team_id, Unit.kind == TEAM)
        .values(lock_version=Unit.lock_version + 1)
        .execution_options(synchronize_session=False)
    )
    team = session.get(Unit, team_id)
    if locked.rowcount == 0 or team is None:
        raise InvalidInput(
            _("Households belong to a team; choose a team."), fields={"team_id": "not_a_team"}
        )
    cap = team_max_households()
    if queries.team_household_count(session, team_id) >= cap:
        room = queries.teams_with_room(session, team, cap)
        if room:
            hint = _(
                "Teams with room in the same grid: %(teams)s.",
                teams=", ".join(f"{u.name} ({n}/{cap})" for u, n in room),
            )
        else:
            hint = _("No team in the same grid has room; split a team first.")
        raise TeamFull(
            _("Team %(team)s already has %(cap)s households.", team=team.name, cap=cap)
            + " "
            + hint,
            fields={"team_id": "team_full", "suggested_team_ids": [u.id for u, _n in room]},
        )
    return team


def code_of(unit_codes: list[str], seq: int) -> str:
    """A household's printable code: its units' codes from the village down to the
    team, then its number in the team ("HG-01-03-07")."""
    return "-".join([*unit_codes, f"{seq:02d}"])


def household_code(session: Session, team: Unit, seq: int) -> str:
    """Printable code: codes from the village (or the tree's root) down to the team, then the number."""
    return code_of([u.code for u in queries.village_chain(session, team)], seq)


def _next_seq(session: Session, team_id: int) -> int:
    return (
        session.scalar(select(func.max(Household.seq)).where(Household.team_id == team_id)) or 0
    ) + 1


# --- households ---------------------------------------------------------------

_TEXT_FIELDS = {"door_no": 50, "address": 200, "head_name": 50}
# A household's fields as the audit log keeps them (never its door-plate token).
_AUDITED_FIELDS = ("door_no", "address", "head_name", "phone", "latitude", "longitude")


def audit_fields(household: Household, *, members: bool = False) -> dict:
    """A household as the audit log shows it: its fields, flags and, with ``members``,
    its members' names."""
    fields = {f: getattr(household, f) for f in _AUDITED_FIELDS}
    fields["flags"] = household.flags
    if members:
        fields["members"] = [m.name for m in household.members]
    return fields


def member_fields(member: Member) -> dict:
    """A member as the audit log shows it."""
    return {
        "name": member.name,
        "relation": member.relation,
        "sex": member.sex,
        "birth_year": member.birth_year,
        "phone": member.phone,
    }


def clean_flags(flags: Iterable[str] | None) -> dict[str, bool]:
    """Map a list of flag names to the household's boolean columns. Unknown names are an error."""
    given = [f.strip() for f in (flags or []) if f and f.strip()]
    unknown = [f for f in given if f not in HOUSEHOLD_FLAGS]
    if unknown:
        raise InvalidInput(
            _("Unknown flag: %(f)s.", f=", ".join(unknown)), fields={"flags": "unknown"}
        )
    return {f: f in given for f in HOUSEHOLD_FLAGS}


def _clean_coord(
    value: object, field: str, low: float, high: float, label: str = ""
) -> float | None:
    if value in (None, ""):
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(
            _("%(f)s must be a number.", f=label or field), fields={field: "not_a_number"}
        ) from None
    if not low <= v <= high:  # also refuses nan
        raise InvalidInput(
            _("%(f)s is out of range.", f=label or field), fields={field: "out_of_range"}
        )
    return v


def _field_label(field: str):
    """The name a message uses for a household field, in the user's language (a lazy
    string: a county's import checks 100,000 rows and translates only their mistakes)."""
    return HOUSEHOLD_FIELD_LABELS.get(field, field)


def clean_household_fields(data: dict, *, partial: bool = False) -> dict:
    """Validate household fields (door_no, address, head_name, phone, latitude,
    longitude, flags). With ``partial`` only the keys present are checked."""
    out: dict = {}
    for field, max_len in _TEXT_FIELDS.items():
        if field in data or not partial:
            out[field] = clean_text(
                data.get(field),
                field=field,
                max_len=max_len,
                required=field == "head_name",
                label=_field_label(field),
            )
    if "phone" in data or not partial:
        out["phone"] = normalise_phone(data.get("phone"))
    if "latitude" in data or not partial:
        out["latitude"] = _clean_coord(
            data.get("latitude"), "latitude", -90, 90, _field_label("latitude")
        )
    if "longitude" in data or not partial:
        out["longitude"] = _clean_coord(
            data.get("longitude"), "longitude", -180, 180, _field_label("longitude")
        )
    if "flags" in data or not partial:
        out.update(clean_flags(data.get("flags")))
    return out


# Lazy: a county's import checks 300,000 members and translates only their mistakes.
MEMBER_NAME = _l("Member name")


def clean_member(data: dict) -> dict:
    name = clean_text(data.get("name"), field="name", max_len=50, required=True, label=MEMBER_NAME)
    relation = (data.get("relation") or "").strip()
    if relation and relation not in RELATIONS:
        raise InvalidInput(_("Unknown relation %(r)s.", r=relation), fields={"relation": "unknown"})
    sex = (data.get("sex") or "").strip().upper()
    if sex not in ("", "M", "F"):
        raise InvalidInput(_("Sex is M or F."), fields={"sex": "invalid"})
    birth_year = data.get("birth_year")
    if birth_year in (None, ""):
        birth_year = None
    else:
        try:
            birth_year = int(birth_year)
        except (TypeError, ValueError):
            raise InvalidInput(
                _("Birth year must be a year."), fields={"birth_year": "invalid"}
            ) from None
        if not 1900 <= birth_year <= 2100:
            raise InvalidInput(_("Birth year must be a year."), fields={"birth_year": "invalid"})
    return {
        "name": name,
        "relation": relation,
        "sex": sex,
        "birth_year": birth_year,
        "phone": normalise_phone(data.get("phone"), field="member_phone"),
    }


def create_household(
    session: Session,
    actor: User | None,
    *,
    team_id: int,
    data: dict,
    members: list[dict] | None = None,
    code: str | None = None,
) -> Household:
    """Register a household in a team, holding the ten-household cap.

    ``data`` holds the household fields (see :func:`clean_household_fields`).
    ``code`` keeps a given printable code (import of an export); otherwise one
    is made from the team's place in the tree. Raises TeamFull (409) when the
    team has no room, InvalidInput for bad fields, OutOfScope/Forbidden.
    """
    if actor is not None:
        require_unit(session, actor, team_id, "edit_household")
    fields = clean_household_fields(data)
    cleaned_members = [clean_member(m) for m in (members or [])]
    team = lock_team_with_room(session, team_id)
    seq = _next_seq(session, team.id)
    if code:
        code = clean_text(code, field="code", max_len=60)
        if session.scalar(select(Household.id).where(Household.code == code)):
            raise DuplicateCode(
                _("Household code %(c)s is already used.", c=code), fields={"code": "taken"}
            )
    else:
        code = household_code(session, team, seq)
        if session.scalar(select(Household.id).where(Household.code == code)):
            code = f"{code}-{secrets.token_hex(2).upper()}"
    household = Household(team_id=team.id, seq=seq, code=code, qr_token=new_qr_token(), **fields)
    household.members = [Member(**m) for m in cleaned_members]
    events.changing(session, utcnow(), joining_teams=[team.id])
    session.add(household)
    session.flush()
    events.changed(session, [household.id])  # open sweeps of the team reach it too
    after = {"code": household.code, "team": team.name}
    after.update(audit_fields(household, members=bool(cleaned_members)))
    record(
        session,
        actor,
        "household.create",
        object_type="household",
        object_id=household.id,
        unit_path=team.path,
        after=after,
    )
    return household


def update_household(
    session: Session, actor: User | None, household_id: int, data: dict
) -> Household:
    """Change a household's fields (only those given). Moving teams is :func:`move_household`."""
    household = load_household(session, actor, household_id, "edit_household")
    cleaned = clean_household_fields(data, partial=True)
    new_members = data.get("members")
    members = None if new_members is None else [Member(**clean_member(m)) for m in new_members]
    before = audit_fields(household, members=members is not None)
    flags_change = any(getattr(household, f) != cleaned[f] for f in HOUSEHOLD_FLAGS if f in cleaned)
    if flags_change:  # the tasks filtered by flags it reaches may change
        events.changing(
            session, utcnow(), leaving=[household.id], joining_teams=[household.team_id]
        )
    for key, value in cleaned.items():
        setattr(household, key, value)
    if members is not None:
        household.members = members
    session.flush()
    if flags_change:
        events.changed(session, [household.id])
    old, new = changes(before, audit_fields(household, members=members is not None))
    if new:
        record(
            session,
            actor,
            "household.update",
            object_type="household",
            object_id=household.id,
            unit_path=household.team.path,
            before=old,
            after=new,
        )
    return household


def move_household(
    session: Session, actor: User | None, household_id: int, team_id: int
) -> Household:
    """Move a household to another team (holding the cap there). It gets the
    next number and a new printable code in its new team."""
    household = load_household(session, actor, household_id, "edit_household")
    if actor is not None:
        require_unit(session, actor, team_id, "edit_household")
    if household.team_id == team_id:
        return household
    before = {"team": household.team.name, "code": household.code}
    team = _move(session, household, team_id)
    bump_tree_version(session)
    record(
        session,
        actor,
        "household.move",
        object_type="household",
        object_id=household.id,
        unit_path=team.path,
        before=before,
        after={"team": team.name, "code": household.code},
    )
    return household


def _move(session: Session, household: Household, team_id: int) -> Unit:
    """Put a household in another team (holding the cap there) with the next number and
    a new printable code; no checks of who asks, no audit, no tree version."""
    team = lock_team_with_room(session, team_id)
    seq = _next_seq(session, team.id)
    # The tasks that reached it keep it where they found it; open sweeps of its new
    # team reach it too.
    events.changing(session, utcnow(), leaving=[household.id], joining_teams=[team.id])
    household.team_id = team.id
    household.team = team
    household.seq = seq
    household.code = household_code(session, team, seq)
    session.flush()
    events.changed(session, [household.id])
    return team


def add_member(session: Session, actor: User | None, household_id: int, data: dict) -> Member:
    household = load_household(session, actor, household_id, "edit_household")
    member = Member(household_id=household.id, **clean_member(data))
    session.add(member)
    session.flush()
    record(
        session,
        actor,
        "member.add",
        object_type="household",
        object_id=household.id,
        unit_path=household.team.path,
        after=member_fields(member),
    )
    return member


def remove_member(session: Session, actor: User | None, member_id: int) -> None:
    member = session.get(Member, member_id)
    if member is None:
        raise NotFound(_("No such member."))
    if actor is not None:
        require_household(session, actor, member.household_id, "edit_household")
    record(
        session,
        actor,
        "member.remove",
        object_type="household",
        object_id=member.household_id,
        unit_path=member.household.team.path,
        before=member_fields(member),
    )
    session.delete(member)
    session.flush()


def split_team(
    session: Session,
    actor: User | None,
    team_id: int,
    *,
    new_name: str,
    household_ids: list[int] | None = None,
) -> Unit:
    """Split a team in two: a new sibling team takes ``household_ids`` (by
    default the second half by number). Both keep within the cap by construction."""
    team = load_unit(session, actor, team_id, "manage_units")
    if team.kind != TEAM:
        raise InvalidInput(_("Only a team can be split."), fields={"team_id": "not_a_team"})
    households = queries.team_households(session, team.id)
    if household_ids is None:
        moving = households[len(households) - len(households) // 2 :]
    else:
        wanted = set(household_ids)
        moving = [h for h in households if h.id in wanted]
        if len(moving) != len(wanted):
            raise InvalidInput(
                _("Some chosen households are not in this team."),
                fields={"household_ids": "not_in_team"},
            )
    if not moving or len(moving) == len(households):
        raise InvalidInput(
            _("Choose some, but not all, households for the new team."),
            fields={"household_ids": "empty_or_all"},
        )
    new_team = create_unit(session, actor, kind=TEAM, name=new_name, parent_id=team.parent_id)
    old_codes = [h.code for h in moving]
    for h in moving:
        _move(session, h, new_team.id)
    bump_tree_version(session)
    record(
        session,
        actor,
        "team.split",
        object_type="unit",
        object_id=team.id,
        unit_path=team.path,
        before={"households": old_codes},
        after={"new_team": new_team.name, "households": [h.code for h in moving]},
    )
    return new_team
