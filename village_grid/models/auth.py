"""Logins that can be ended from the server, and failed logins counted for throttling."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from village_grid.extensions import db
from village_grid.models.base import Timestamp, utcnow


class LoginSession(db.Model):
    """One login on one device. The session cookie and the remember cookie carry a
    random token whose SHA-256 is stored here; ending the row ends the login
    (logout, a password change, an administrator's reset)."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    remember: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(Timestamp)
    client_addr: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(200), default="")
    # How this login began: "password", "link" (a one-time sign-in link or its short
    # code) or "code" (a one-time code from the person's own signed-in page).
    via: Mapped[str] = mapped_column(String(10), default="password", server_default="password")


class SignInLink(db.Model):
    """A one-time sign-in link for a team lead or grid member (``auth/signin.py``).

    The link carries 128 random bits; its short form (8 characters to type) is a
    second secret for the same link. Only keyed hashes of both are stored. Used
    once: ``used_at`` is set in the transaction that opens the login. ``voided_at``:
    a newer link for the same person replaced it, or the person's roles changed."""

    __tablename__ = "sign_in_links"
    __table_args__ = (Index("ix_sign_in_links_user_created", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # "link": made by someone for this person (a button, a printed sheet, the API);
    # "code": made by the person on their own signed-in page, for another browser.
    purpose: Mapped[str] = mapped_column(String(10), default="link")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(Timestamp)
    used_at: Mapped[datetime | None] = mapped_column(Timestamp)
    used_addr: Mapped[str] = mapped_column(String(64), default="")
    used_agent: Mapped[str] = mapped_column(String(200), default="")
    voided_at: Mapped[datetime | None] = mapped_column(Timestamp)
    login_session_id: Mapped[int | None] = mapped_column(
        ForeignKey("login_sessions.id", ondelete="SET NULL")
    )


class LoginFailure(db.Model):
    """A failed login, by the login name tried and the address it came from: every
    worker and host counts the same rows for throttling."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_login_at", "login", "at"),
        Index("ix_login_failures_addr_at", "client_addr", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The login name as typed, lower-cased (a username or a phone number).
    login: Mapped[str] = mapped_column(String(100))
    client_addr: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
