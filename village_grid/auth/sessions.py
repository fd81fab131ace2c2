"""Logins that end on the server.

Each login is a ``login_sessions`` row holding the SHA-256 of a fresh random
token. The token is what Flask-Login keeps in the session cookie and in the
remember cookie (``User.get_id()`` returns it: Flask-Login's "alternative
tokens"), so a cookie is good only while its row is: logout ends the row, a
password change or an administrator's reset ends every row of the user, and a
copied cookie is refused from then on. Two logins never share a token.

A row also ends by age: a login without "stay logged in" after the session
lifetime (``PERMANENT_SESSION_LIFETIME``), a remembered one after
``REMEMBER_COOKIE_DURATION``.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from village_grid.models import LoginSession, User
from village_grid.models.base import utcnow


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def start_login(
    session: Session,
    user: User,
    *,
    remember: bool = False,
    client_addr: str = "",
    user_agent: str = "",
    via: str = "password",
) -> str:
    """Open a login for ``user`` (in the caller's transaction) and return its token;
    ``user.get_id()`` returns it from now on, for ``login_user``. ``via``: how it began
    ("password", "link", "code"). The person's last sign-in is now."""
    return open_login(
        session, user, remember=remember, client_addr=client_addr, user_agent=user_agent, via=via
    )[0]


def open_login(
    session: Session,
    user: User,
    *,
    remember: bool,
    client_addr: str,
    user_agent: str,
    via: str,
) -> tuple[str, LoginSession]:
    """:func:`start_login`, returning the login's row too."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    login = LoginSession(
        token_hash=token_hash(token),
        user_id=user.id,
        remember=bool(remember),
        created_at=now,
        last_seen_at=now,
        client_addr=(client_addr or "")[:64],
        user_agent=(user_agent or "")[:200],
        via=via,
    )
    session.add(login)
    user.last_sign_in_at = now
    session.flush()
    user.login_token = token
    return token, login


def user_for_login(
    session: Session,
    token: str,
    *,
    lifetime: timedelta,
    remember_lifetime: timedelta,
    now: datetime | None = None,
) -> User | None:
    """The active user of the login whose token this is, while that login has not
    ended; None otherwise (an unknown token, a bare user id from before logins
    were rows, an ended or expired login)."""
    if not token or not isinstance(token, str) or len(token) > 200:
        return None
    row = session.execute(
        select(LoginSession, User)
        .join(User, User.id == LoginSession.user_id)
        .where(LoginSession.token_hash == token_hash(token), LoginSession.ended_at.is_(None))
    ).first()
    if row is None:
        return None
    login, user = row
    limit = remember_lifetime if login.remember else lifetime
    if not user.active or login.created_at + limit < (now or utcnow()):
        return None
    user.login_token = token
    return user


def end_login(session: Session, token: str | None) -> None:
    """End one login (logout), in the caller's transaction."""
    if not token:
        return
    session.execute(
        update(LoginSession)
        .where(LoginSession.token_hash == token_hash(token), LoginSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )


def end_login_by_id(session: Session, user_id: int, login_id: int) -> bool:
    """End one login of ``user_id`` by its row's id (the person's page); whether it was open."""
    result = session.execute(
        update(LoginSession)
        .where(
            LoginSession.id == login_id,
            LoginSession.user_id == user_id,
            LoginSession.ended_at.is_(None),
        )
        .values(ended_at=utcnow())
    )
    return bool(result.rowcount)


def end_all_logins(session: Session, user_id: int) -> int:
    """End every login of a user (a password change, a reset), in the caller's
    transaction. Returns how many were open."""
    result = session.execute(
        update(LoginSession)
        .where(LoginSession.user_id == user_id, LoginSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )
    return result.rowcount or 0
