"""Users, passwords, roles, logging in and API tokens.

Every change here is written to the audit log in the caller's transaction
(``user.create``, ``role.assign``, ``role.remove``, ``user.available``,
``user.password``, ``user.password_reset``); a locked login is written by
``auth/throttle.py`` in the failure's own. No password or hash is ever logged.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import math
import re
from datetime import UTC, datetime

from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from village_grid.audit.service import record, request_addr
from village_grid.auth import throttle
from village_grid.auth.labels import role_label
from village_grid.auth.passwords import (
    check_password_rule,
    generate_password,
    hash_password,
    password_matches,
)
from village_grid.auth.scope import (
    has_role,
    load_unit,
    may,
    may_end_logins,
    may_manage_person,
    require_unit,
    scope_paths,
    user_unit_path,
)
from village_grid.auth.sessions import end_all_logins, end_login_by_id
from village_grid.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from village_grid.kinds import kind_label
from village_grid.models import ROLES, RoleAssignment, Unit, User
from village_grid.models.base import utcnow
from village_grid.models.units import TOWNSHIP_KINDS, VILLAGE_KINDS, bump_tree_version
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


class LoginLocked(DomainError):
    """Too many failed logins for this name or from this address: wait."""

    status = 429
    code = "too_many_attempts"


def locked_error(until: datetime, now: datetime) -> LoginLocked:
    """The refusal while a login name or an address is locked, saying for how long."""
    minutes = max(1, math.ceil((until - now).total_seconds() / 60))
    return LoginLocked(_("Too many failed attempts. Please try again in %(n)s minutes.", n=minutes))


def _find_login(session: Session, login: str) -> User | None:
    candidates = [login]
    with contextlib.suppress(InvalidInput):
        candidates.append(normalise_phone(login))
    return session.scalars(
        select(User).where(or_(User.username == login, User.phone.in_(candidates)))
    ).first()


def authenticate(
    session: Session,
    login: str,
    password: str,
    *,
    client_addr: str | None = None,
    rule: throttle.ThrottleRule | None = None,
) -> User | None:
    """The active user whose username or phone is ``login`` and whose password matches.

    Raises :class:`LoginLocked` (429) while the name or the client address is
    locked (``auth/throttle.py``). A failure is counted (committed on its own);
    an unknown name costs the same time as a known one (a dummy hash is checked).
    ``client_addr`` defaults to the current request's. Call before the caller's
    transaction writes anything.
    """
    login = (login or "").strip()
    if not login or not password:
        return None
    rule = throttle.rule_or_configured(rule)
    addr = request_addr() if client_addr is None else client_addr[:64]
    user = _find_login(session, login)
    typed = throttle.login_key(login)
    key = user.username.lower() if user is not None else typed
    now = utcnow()
    until, _by = throttle.lock_state(session, {typed, key}, addr, rule, now)
    if until is not None:
        raise locked_error(until, now)
    matches = password_matches(user.password_hash if user is not None else None, password)
    if user is None or not matches or not user.active:
        throttle.record_failure(
            session.get_bind(), key=key, addr=addr, user=user, rule=rule, now=now
        )
        return None
    if throttle.has_failures(session, {typed, key}, addr):
        throttle.clear_failures(session.get_bind(), {typed, key}, addr)
    return user


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    name: str = "",
    phone: str | None = None,
    actor: User | None = None,
) -> User:
    """Create a login. Raises InvalidInput for a bad username/password/phone, Conflict if taken.
    ``actor`` (None: the command line) is who the audit log names."""
    username = (username or "").strip()
    if not _USERNAME.match(username):
        raise InvalidInput(
            _("Username: 2-50 letters, digits, dot, dash or underscore."),
            fields={"username": "invalid"},
        )
    phone_value = normalise_phone(phone) or None
    check_password_rule(password, username=username, phone=phone_value)
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
        password_hash=hash_password(password),
    )
    session.add(user)
    session.flush()
    record(
        session,
        actor,
        "user.create",
        object_type="user",
        object_id=user.id,
        after={"username": user.username, "name": user.name, "phone": user.phone},
    )
    return user


def free_usernames(session: Session, bases: list[str]) -> list[str]:
    """A login name for each of ``bases`` that no one has: the base itself, else
    ``base_2``, ``base_3`` … (a thousand looked up per query)."""
    bases = [b[:44] for b in bases]
    taken: set[str] = set()
    for i in range(0, len(bases), 1000):
        taken.update(
            session.scalars(select(User.username).where(User.username.in_(bases[i : i + 1000])))
        )
    out = []
    for base in bases:
        name = base
        if name in taken:
            similar = set(
                session.scalars(
                    select(User.username).where(User.username.like(f"{base}\\_%", escape="\\"))
                )
            )
            n = 2
            while f"{base}_{n}" in taken or f"{base}_{n}" in similar:
                n += 1
            name = f"{base}_{n}"
        taken.add(name)
        out.append(name)
    return out


def create_person(session: Session, *, name: str, phone: str, actor: User | None = None) -> User:
    """A team lead or grid member without a password: they sign in by one-time link
    (``auth/signin.py``). Matched by phone (one phone, one person): raises Conflict
    when the phone is someone's already. Their login name is made from the phone."""
    name = clean_text(name, field="name", max_len=50, required=True, label=_("Full name"))
    phone_value = normalise_phone(phone, required=True)
    if session.scalar(select(User.id).where(User.phone == phone_value)):
        raise Conflict(
            _("Phone %(p)s belongs to another user.", p=phone_value), fields={"phone": "taken"}
        )
    user = User(
        username=free_usernames(session, ["p" + phone_value.replace("-", "")])[0],
        name=name,
        phone=phone_value,
        password_hash="",
    )
    session.add(user)
    session.flush()
    record(
        session,
        actor,
        "user.create",
        object_type="user",
        object_id=user.id,
        after={"username": user.username, "name": user.name, "phone": user.phone},
    )
    return user


def end_logins(session: Session, actor: User, person_id: int, login_id: int | None = None) -> int:
    """End one login of a person (``login_id``) or all of them, from their page: a lost
    phone is signed out at its next page. ``actor`` must manage the person's login or
    make their sign-in links (``scope.may_end_logins``). Audited ``login.end``. How many
    were open."""
    person = session.get(User, person_id) if isinstance(person_id, int) else None
    if person is None or not may_end_logins(actor, person):
        raise NotFound(_("No such person."))
    if login_id is None:
        ended = end_all_logins(session, person.id)
    else:
        ended = int(end_login_by_id(session, person.id, login_id))
    if ended:
        record(
            session,
            actor,
            "login.end",
            object_type="user",
            object_id=person.id,
            unit_path=user_unit_path(person),
            after={"login_id": login_id, "ended": ended},
        )
    return ended


def set_password(
    session: Session,
    user: User,
    password: str,
    *,
    actor: User | None = None,
    reset: bool = False,
    generated: bool = False,
) -> int:
    """Give ``user`` a new password (it must follow the rule) and end every login
    of theirs: sessions, remember cookies, and API tokens (they carry a digest of
    the password hash). Audited as ``user.password`` (their own change, or the
    command line) or ``user.password_reset`` (someone else's). Returns how many
    logins were ended."""
    check_password_rule(password, username=user.username, phone=user.phone)
    user.password_hash = hash_password(password)
    session.flush()
    ended = end_all_logins(session, user.id)
    record(
        session,
        actor,
        "user.password_reset" if reset else "user.password",
        object_type="user",
        object_id=user.id,
        unit_path=user_unit_path(user),
        after={"logins_ended": ended, **({"generated": True} if generated else {})},
    )
    return ended


def change_own_password(
    session: Session,
    user: User,
    current_password: str,
    new_password: str,
    *,
    client_addr: str | None = None,
    rule: throttle.ThrottleRule | None = None,
) -> int:
    """A person changes their own password: the current one must match (a wrong one
    counts as a failed login, and a locked name or address is refused as at login).
    Ends every login of theirs, this one included: the caller opens a new one for
    the device in hand. Returns how many logins were ended."""
    rule = throttle.rule_or_configured(rule)
    addr = request_addr() if client_addr is None else client_addr[:64]
    key = user.username.lower()
    now = utcnow()
    until, _by = throttle.lock_state(session, {key}, addr, rule, now)
    if until is not None:
        raise locked_error(until, now)
    if not password_matches(user.password_hash, current_password):
        throttle.record_failure(
            session.get_bind(), key=key, addr=addr, user=user, rule=rule, now=now
        )
        raise InvalidInput(
            _("The current password is not right."), fields={"current_password": "wrong"}
        )
    if new_password == current_password:
        raise InvalidInput(
            _("The new password must differ from the current one."),
            fields={"password": "unchanged"},
        )
    return set_password(session, user, new_password, actor=user)


def reset_password(
    session: Session, actor: User, user_id: int, new_password: str | None = None
) -> tuple[User, str | None]:
    """An administrator or cadre sets a new password for someone in their scope
    (``scope.may_manage_person``): the one they typed, or — when they typed none —
    a generated one, returned once for them to pass on. Ends every login of that
    person. Returns (the person, the generated password or None)."""
    user = session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or not may_manage_person(actor, user):
        raise NotFound(_("No such person."))
    generated = None
    if not (new_password or "").strip():
        generated = new_password = generate_password()
    set_password(session, user, new_password, actor=actor, reset=True, generated=bool(generated))
    return user, generated


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
    record(
        session,
        actor,
        "role.assign",
        object_type="role",
        object_id=ra.id,
        unit_path=unit.path if unit is not None else None,
        after=_role_fields(ra),
    )
    _tree_changed(session)
    return ra


def _role_fields(ra: RoleAssignment) -> dict:
    return {
        "user_id": ra.user_id,
        "username": ra.user.username,
        "role": ra.role,
        "unit_id": ra.unit_id,
    }


def _tree_changed(session: Session) -> None:
    """Who answers for a unit changed: task routing must rebuild its cached graph."""
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
        record(
            session,
            actor,
            "user.available",
            object_type="user",
            object_id=user.id,
            unit_path=user_unit_path(user),
            before={"available": not user.available},
            after={"available": user.available},
        )
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
    record(
        session,
        actor,
        "role.remove",
        object_type="role",
        object_id=ra.id,
        unit_path=ra.unit.path if ra.unit is not None else None,
        before=_role_fields(ra),
    )
    session.delete(ra)
    session.flush()
    _tree_changed(session)


# --- API bearer tokens -------------------------------------------------------
# Signed, not stored: any worker on any host can check one. Each carries a
# digest of the password hash (keyed with the secret key, so it tells nothing
# about the hash): changing the password (or deactivating the user) invalidates
# every token issued before.


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="village-grid-api-token")


def _password_digest(secret_key: str, user: User) -> str:
    return hmac.new(
        secret_key.encode(), b"api-token:" + user.password_hash.encode(), hashlib.sha256
    ).hexdigest()[:32]


# A token limited to one use (``only``): "warnings" posts official warnings and nothing
# else (an administrator makes it for a feed forwarder); it lives TOKEN_ONLY_MAX_AGE.
TOKEN_USES = ("warnings",)
TOKEN_ONLY_MAX_AGE = 365 * 24 * 3600


def issue_token(secret_key: str, user: User, *, only: str | None = None) -> str:
    data = {"uid": user.id, "pw": _password_digest(secret_key, user)}
    if only is not None:
        if only not in TOKEN_USES:
            raise ValueError(f"unknown token use {only!r}")
        data["only"] = only
    return _serializer(secret_key).dumps(data)


def issue_warnings_token(session: Session, secret_key: str, actor: User) -> str:
    """A token that may post official warnings and nothing else, for an administrator
    to give a feed forwarder; changing the administrator's password revokes it."""
    if not has_role(actor, "admin"):
        raise Forbidden(_("Only an administrator makes warnings tokens."))
    record(session, actor, "token.warnings", object_type="user", object_id=actor.id)
    return issue_token(secret_key, actor, only="warnings")


def user_from_token(session: Session, secret_key: str, token: str, max_age: int) -> User | None:
    try:
        data, signed_at = _serializer(secret_key).loads(token, return_timestamp=True)
    except (BadSignature, SignatureExpired):
        return None
    if not isinstance(data, dict):
        return None
    only = data.get("only")
    if only is not None and only not in TOKEN_USES:
        return None
    age = (datetime.now(UTC) - signed_at).total_seconds()
    if age > (TOKEN_ONLY_MAX_AGE if only else max_age):
        return None
    user = session.get(User, data.get("uid")) if isinstance(data.get("uid"), int) else None
    if user is None or not user.active or not isinstance(data.get("pw"), str):
        return None
    if not hmac.compare_digest(_password_digest(secret_key, user), data["pw"]):
        return None
    user.token_only = only  # checked for every API request (api/routes.py)
    return user
