"""Users, passwords, roles and API tokens."""

from __future__ import annotations

import contextlib
import re

from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from village_grid.auth.labels import role_label
from village_grid.auth.scope import load_unit, may, require_unit, scope_paths
from village_grid.errors import Conflict, Forbidden, InvalidInput, NotFound
from village_grid.hierarchy.labels import kind_label
from village_grid.models import ROLES, RoleAssignment, Unit, User
from village_grid.models.units import TOWNSHIP_KINDS, VILLAGE_KINDS
from village_grid.validation import clean_text, normalise_phone

# The unit kinds each role is given on. None: no unit (admin).
ROLE_UNIT_KINDS: dict[str, tuple[str, ...] | None] = {
    "admin": None,
    "cadre": ("county", *TOWNSHIP_KINDS, *VILLAGE_KINDS),
    "grid_member": ("grid",),
    "team_lead": ("team",),
    "station_staff": VILLAGE_KINDS,
}
_USERNAME = re.compile(r"^[A-Za-z0-9_.\-]{2,50}$")
MIN_PASSWORD = 6


def authenticate(session: Session, login: str, password: str) -> User | None:
    """The active user whose username or phone is ``login`` and whose password matches."""
    login = (login or "").strip()
    if not login or not password:
        return None
    candidates = [login]
    with contextlib.suppress(InvalidInput):
        candidates.append(normalise_phone(login))
    user = session.scalars(
        select(User).where(or_(User.username == login, User.phone.in_(candidates)))
    ).first()
    if user is None or not user.active or not check_password_hash(user.password_hash, password):
        return None
    return user


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    name: str = "",
    phone: str | None = None,
) -> User:
    """Create a login. Raises InvalidInput for a bad username/password/phone, Conflict if taken."""
    username = (username or "").strip()
    if not _USERNAME.match(username):
        raise InvalidInput(
            _("Username: 2-50 letters, digits, dot, dash or underscore."),
            fields={"username": "invalid"},
        )
    if len(password or "") < MIN_PASSWORD:
        raise InvalidInput(
            _("Password must have at least %(n)s characters.", n=MIN_PASSWORD),
            fields={"password": "too_short"},
        )
    phone_value = normalise_phone(phone) or None
    name = clean_text(name, field="name", max_len=50)
    if session.scalar(select(User.id).where(User.username == username)):
        raise Conflict(_("Username %(u)s is taken.", u=username), fields={"username": "taken"})
    if phone_value and session.scalar(select(User.id).where(User.phone == phone_value)):
        raise Conflict(
            _("Phone %(p)s belongs to another user.", p=phone_value), fields={"phone": "taken"}
        )
    user = User(
        username=username,
        name=name,
        phone=phone_value,
        password_hash=generate_password_hash(password),
    )
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, user: User, password: str) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise InvalidInput(
            _("Password must have at least %(n)s characters.", n=MIN_PASSWORD),
            fields={"password": "too_short"},
        )
    user.password_hash = generate_password_hash(password)
    session.flush()


def assign_role(
    session: Session, actor: User | None, *, user: User, role: str, unit_id: int | None
) -> RoleAssignment:
    """Give ``user`` ``role`` on a unit. ``actor`` None is the command line (no scope check).

    Only an admin can make an admin; a cadre can give roles inside their own subtree.
    """
    if role not in ROLES:
        raise InvalidInput(_("Unknown role %(r)s.", r=role), fields={"role": "unknown"})
    kinds = ROLE_UNIT_KINDS[role]
    unit: Unit | None = None
    if kinds is None:
        if actor is not None and not _assigns_everywhere(actor):
            raise Forbidden(_("Only an administrator can make an administrator."))
    else:
        if unit_id is None:
            raise InvalidInput(_("This role needs a unit."), fields={"unit_id": "required"})
        unit = load_unit(session, actor, unit_id, "assign_roles")
        if unit.kind not in kinds:
            raise InvalidInput(
                _(
                    "A %(role)s is given a %(kinds)s, not a %(kind)s.",
                    role=role_label(role),
                    kinds="/".join(kind_label(k) for k in kinds),
                    kind=kind_label(unit.kind),
                ),
                fields={"unit_id": "wrong_kind"},
            )
    existing = session.scalar(
        select(RoleAssignment).where(
            RoleAssignment.user_id == user.id,
            RoleAssignment.role == role,
            RoleAssignment.unit_id.is_(None) if unit is None else RoleAssignment.unit_id == unit.id,
        )
    )
    if existing:
        return existing
    ra = RoleAssignment(user=user, role=role, unit=unit)
    session.add(ra)
    session.flush()
    _tree_changed(session)
    return ra


def _tree_changed(session: Session) -> None:
    """Who answers for a unit changed: task routing must rebuild its cached graph."""
    from village_grid.hierarchy.service import bump_tree_version

    bump_tree_version(session)


def set_available(session: Session, actor: User | None, user_id: int, available: bool) -> User:
    """Mark a person away (in hospital, out of the village) or back. Routing skips
    people who are away. ``actor`` must hold ``assign_roles`` over one of the
    user's units (None: the command line)."""
    user = session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None:
        raise NotFound(_("No such user."))
    if actor is not None and actor.id != user.id:
        units = [ra.unit for ra in user.roles if ra.unit is not None]
        if not any(may(actor, "assign_roles", u) for u in units):
            raise NotFound(_("No such user."))
    if user.available != bool(available):
        user.available = bool(available)
        session.flush()
        _tree_changed(session)
    return user


def _assigns_everywhere(actor: User) -> bool:
    """May ``actor`` give roles on the whole tree, and so the administrator's role
    (which sits on no unit)? Administrators only."""
    return scope_paths(actor, "assign_roles") is None


def remove_role(session: Session, actor: User, role_id: int) -> None:
    ra = session.get(RoleAssignment, role_id)
    if ra is None:
        raise NotFound(_("No such role."))
    if ra.unit is None:
        if not _assigns_everywhere(actor):
            raise NotFound(_("No such role."))
    else:
        require_unit(session, actor, ra.unit_id, "assign_roles")
    session.delete(ra)
    session.flush()
    _tree_changed(session)


# --- API bearer tokens -------------------------------------------------------
# Signed, not stored: any worker on any host can check one. Changing the
# password (or deactivating the user) invalidates every token issued before.


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="village-grid-api-token")


def issue_token(secret_key: str, user: User) -> str:
    return _serializer(secret_key).dumps({"uid": user.id, "pw": user.password_hash[-16:]})


def user_from_token(session: Session, secret_key: str, token: str, max_age: int) -> User | None:
    try:
        data = _serializer(secret_key).loads(token, max_age=max_age)
    except (BadSignature, SignatureExpired):
        return None
    if not isinstance(data, dict):
        return None
    user = session.get(User, data.get("uid")) if isinstance(data.get("uid"), int) else None
    if user is None or not user.active or user.password_hash[-16:] != data.get("pw"):
        return None
    return user
