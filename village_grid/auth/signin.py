"""One-time sign-in links: team leads and grid members sign in without a password.

A link is made for one person (a button on their page, a grid's printed sheet, the
API, ``village-grid``) by someone who may (``scope.may_make_sign_in_link``), for a
person who signs in by link (``scope.signs_in_by_link``: cadres, station staff and
administrators keep their passwords). It carries two secrets for the same link:

- the token in the URL (``/in/<token>``, the QR code): 128 random bits;
- its short form to type (``/login/code``): 8 characters from an alphabet without
  look-alikes (no 0/O, 1/I/L), about 40 bits — counted with the failed logins of the
  address that types it (``auth/throttle.py``), so it cannot be guessed.

Only keyed hashes (HMAC-SHA-256 with the secret key) of both are stored. Opened once
on a phone, it opens a long-lived login (the phone's "bookmarked page", ended from
the person's page) and is used up; opened again it is refused, and the page says
whom to ask. A new link for a person voids their earlier unused ones (a lost slip is
dead once its replacement is made).

A person signed in on their phone's browser who taps a link in a chat app, whose
own browser shares no cookies with it, types a *code* shown on their own "my team"
page (:func:`make_own_code`): the same kind of row, made by themselves, good for
``SIGN_IN_CODE_MINUTES``. Links are never put in a group message: group messages
carry plain page links, which sign nobody in.

Audit: ``signin.link`` (made, by whom), ``signin.used`` (when, which address and
device), ``signin.refused`` is not logged per attempt (the throttle counts them).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from village_grid.audit.service import iso_time, record
from village_grid.auth import scope, sessions, throttle
from village_grid.auth.queries import people_on
from village_grid.auth.service import locked_error
from village_grid.errors import Conflict, DomainError, NotFound
from village_grid.models import SignInLink, Unit, User
from village_grid.models.base import utcnow

# No 0/O, 1/I/L: what is printed is what is typed, read aloud or copied by hand.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8
TOKEN_BYTES = 16  # 128 bits
# The throttle's name for short codes typed from an address (any person's).
CODE_LOGIN_KEY = "sign-in-code"
# How a login opened by each purpose is recorded (login_sessions.via).
VIA = {"link": "link", "code": "code"}


class SignInRefused(DomainError):
    """The link or code does not sign anyone in. ``reason``: unknown, used, expired,
    voided, not_allowed. ``person``: whom it was for (None when unknown)."""

    status = 410
    code = "sign_in_refused"

    def __init__(self, reason: str, message: str, person: User | None = None, link=None):
        super().__init__(message)
        self.reason = reason
        self.person = person
        self.link = link


@dataclass
class IssuedLink:
    """A link just made: its secrets exist only here (shown or printed once)."""

    row: SignInLink
    person: User
    token: str
    code: str

    @property
    def path(self) -> str:
        return f"/in/{self.token}"

    @property
    def code_display(self) -> str:
        return format_code(self.code)


def _digest(secret_key: str, kind: str, value: str) -> str:
    return hmac.new(
        secret_key.encode(), f"sign-in-{kind}:{value}".encode(), hashlib.sha256
    ).hexdigest()


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def format_code(code: str) -> str:
    """``ABCD2345`` → ``ABCD 2345``: two groups are easier to read out and type."""
    return f"{code[:4]} {code[4:]}" if len(code) == CODE_LENGTH else code


def normalise_code(text: str | None) -> str:
    """What a person typed, as a code: upper case, spaces and dashes gone. Anything
    not of the alphabet stays (and so matches nothing)."""
    return "".join(ch for ch in (text or "").upper() if ch not in " -\t\u3000")[:40]


def _refuse_person(person: User) -> Conflict:
    return Conflict(
        _(
            "%(name)s signs in with a password (a cadre, station staff or administrator): "
            "no sign-in link is made for them.",
            name=person.display_name,
        ),
        fields={"user_id": "signs_in_with_password"},
        code="signs_in_with_password",
    )


def _issue(
    session: Session,
    actor: User | None,
    person: User,
    *,
    secret_key: str,
    purpose: str,
    lifetime: timedelta,
    now: datetime,
) -> IssuedLink:
    """Void the person's unused links of this purpose and make a new one (audited)."""
    session.execute(
        update(SignInLink)
        .where(
            SignInLink.user_id == person.id,
            SignInLink.purpose == purpose,
            SignInLink.used_at.is_(None),
            SignInLink.voided_at.is_(None),
        )
        .values(voided_at=now)
    )
    token = secrets.token_urlsafe(TOKEN_BYTES)
    code = new_code()
    row = SignInLink(
        user_id=person.id,
        token_hash=_digest(secret_key, "token", token),
        code_hash=_digest(secret_key, "code", code),
        purpose=purpose,
        created_by_id=actor.id if actor is not None else None,
        created_at=now,
        expires_at=now + lifetime,
        used_addr="",
        used_agent="",
    )
    session.add(row)
    session.flush()
    record(
        session,
        actor,
        "signin.link",
        object_type="user",
        object_id=person.id,
        unit_path=scope.user_unit_path(person),
        after={"link_id": row.id, "purpose": purpose, "expires_at": iso_time(row.expires_at)},
    )
    return IssuedLink(row, person, token, code)


def make_link(
    session: Session,
    actor: User | None,
    person_id: int,
    *,
    secret_key: str,
    days: int,
    now: datetime | None = None,
) -> IssuedLink:
    """A one-time sign-in link for a team lead or grid member, good for ``days``.
    ``actor`` None is the command line. Raises NotFound (not theirs to make),
    Conflict ``signs_in_with_password`` (a cadre, station staff, administrator)."""
    person = session.get(User, person_id) if isinstance(person_id, int) else None
    if person is None or (actor is not None and not scope.may_make_sign_in_link(actor, person)):
        raise NotFound(_("No such person."))
    if not scope.signs_in_by_link(person):
        raise _refuse_person(person)
    return _issue(
        session,
        actor,
        person,
        secret_key=secret_key,
        purpose="link",
        lifetime=timedelta(days=days),
        now=now or utcnow(),
    )


def make_links(
    session: Session,
    actor: User,
    people: list[User],
    *,
    secret_key: str,
    days: int,
    now: datetime | None = None,
) -> list[IssuedLink]:
    """Links for several people at once (a grid's sheet): those ``actor`` may make one
    for and who sign in by link; others are left out."""
    now = now or utcnow()
    return [
        _issue(
            session,
            actor,
            person,
            secret_key=secret_key,
            purpose="link",
            lifetime=timedelta(days=days),
            now=now,
        )
        for person in people
        if scope.may_make_sign_in_link(actor, person) and scope.signs_in_by_link(person)
    ]


def make_own_code(
    session: Session, user: User, *, secret_key: str, minutes: int, now: datetime | None = None
) -> IssuedLink:
    """A code the signed-in ``user`` shows on their own page, to sign in another browser
    on their phone (a chat app's). Good for ``minutes``; the previous one is voided."""
    if not scope.signs_in_by_link(user):
        raise _refuse_person(user)
    return _issue(
        session,
        user,
        user,
        secret_key=secret_key,
        purpose="code",
        lifetime=timedelta(minutes=minutes),
        now=now or utcnow(),
    )


def _why_refused(link: SignInLink, person: User | None, now: datetime) -> SignInRefused:
    if link.used_at is not None:
        return SignInRefused(
            "used",
            _("This sign-in link was already used. Each link signs in once, on one phone."),
            person,
            link,
        )
    if link.voided_at is not None:
        return SignInRefused(
            "voided", _("This sign-in link was replaced by a newer one."), person, link
        )
    if link.expires_at <= now:
        return SignInRefused("expired", _("This sign-in link has expired."), person, link)
    if person is None or not person.active:
        return SignInRefused("not_allowed", _("This login is switched off."), person, link)
    return SignInRefused(
        "not_allowed",
        _("This person now signs in with a password; the link no longer works."),
        person,
        link,
    )


def redeem(
    session: Session,
    *,
    secret_key: str,
    token: str | None = None,
    code: str | None = None,
    client_addr: str = "",
    user_agent: str = "",
    rule: throttle.ThrottleRule | None = None,
    now: datetime | None = None,
) -> tuple[User, str]:
    """Sign in with a link's token or a typed code: the person and the new login's token
    (the caller commits, then ``login_user``). Used up in this transaction: of two
    phones opening the same link at once, one signs in. Raises :class:`SignInRefused`;
    ``auth.service.LoginLocked`` while the address is locked for guessing codes."""
    now = now or utcnow()
    rule = throttle.rule_or_configured(rule)
    addr = (client_addr or "")[:64]
    # Guessing is counted by address (the address's failed logins count too), under a
    # name of its own per address: one address's guesses lock no one else.
    key = f"{CODE_LOGIN_KEY}:{addr}"
    until, _by = throttle.lock_state(session, {key}, addr, rule, now)
    if until is not None:
        raise locked_error(until, now)
    if token is not None:
        digest = _digest(secret_key, "token", token[:100])
    else:
        digest = _digest(secret_key, "code", normalise_code(code))
    column = SignInLink.token_hash if token is not None else SignInLink.code_hash
    link = session.scalar(select(SignInLink).where(column == digest))
    if link is None:
        throttle.record_failure(
            session.get_bind(), key=key, addr=addr, user=None, rule=rule, now=now
        )
        raise SignInRefused(
            "unknown",
            _("This sign-in link or code is not known. Check it, or ask for a new one."),
        )
    person = session.get(User, link.user_id)
    if not scope.signs_in_by_link(person):
        raise _why_refused(link, person, now)
    taken = session.execute(
        update(SignInLink)
        .where(
            SignInLink.id == link.id,
            SignInLink.used_at.is_(None),
            SignInLink.voided_at.is_(None),
            SignInLink.expires_at > now,
        )
        .values(used_at=now, used_addr=addr, used_agent=(user_agent or "")[:200])
        .execution_options(synchronize_session=False)
    ).rowcount
    if not taken:
        session.refresh(link)
        raise _why_refused(link, person, now)
    login_token, login = sessions.open_login(
        session,
        person,
        remember=True,
        client_addr=addr,
        user_agent=user_agent,
        via=VIA[link.purpose],
    )
    session.execute(
        update(SignInLink)
        .where(SignInLink.id == link.id)
        .values(login_session_id=login.id)
        .execution_options(synchronize_session=False)
    )
    record(
        session,
        person,
        "signin.used",
        object_type="user",
        object_id=person.id,
        unit_path=scope.user_unit_path(person),
        after={
            "link_id": link.id,
            "purpose": link.purpose,
            "device": (user_agent or "")[:200],
        },
        client_addr=addr,
    )
    return person, login_token


def whom_to_ask(session: Session, person: User | None) -> list[tuple[User, str]]:
    """Who can give ``person`` a new link: the grid member(s) of a lead's grid, the
    cadres of a grid member's village — the first level above the person's units
    where someone may make links, going up. (person, role) pairs."""
    if person is None:
        return []
    units = sorted((ra.unit for ra in person.roles if ra.unit is not None), key=lambda u: -u.depth)
    for unit in units:
        ids = [int(p) for p in unit.path.strip("/").split("/")[:-1]]
        if not ids:
            continue
        chain = {u.id: u for u in session.scalars(select(Unit).where(Unit.id.in_(ids)))}
        for uid in reversed(ids):
            above = chain.get(uid)
            if above is None:
                continue
            found = [
                (user, role)
                for user, role in people_on(session, above)
                if role in scope.ACTIONS["sign_in_links"] and user.id != person.id
            ]
            if found:
                return found
    return []


def peek(session: Session, secret_key: str, token: str) -> tuple[SignInLink | None, User | None]:
    """The link a token belongs to and its person, using nothing up (the page before
    the tap)."""
    link = session.scalar(
        select(SignInLink).where(SignInLink.token_hash == _digest(secret_key, "token", token[:100]))
    )
    return link, (session.get(User, link.user_id) if link is not None else None)


def refusal(link: SignInLink | None, person: User | None) -> SignInRefused | None:
    """Why this link would be refused now; None when it would sign its person in."""
    if link is None:
        return SignInRefused(
            "unknown",
            _("This sign-in link or code is not known. Check it, or ask for a new one."),
        )
    now = utcnow()
    if link_state(link, now) == "open" and scope.signs_in_by_link(person):
        return None
    return _why_refused(link, person, now)


def link_state(link: SignInLink, now: datetime | None = None) -> str:
    """used, voided, expired or open: what the person's page says of a link."""
    now = now or utcnow()
    if link.used_at is not None:
        return "used"
    if link.voided_at is not None:
        return "voided"
    if link.expires_at <= now:
        return "expired"
    return "open"
