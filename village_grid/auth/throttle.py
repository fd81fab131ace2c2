"""Failed logins, counted in the database (``login_failures``) so that every
worker and every host sees the same count.

The rule: ``LOGIN_MAX_FAILURES`` (10) failures within ``LOGIN_FAILURE_WINDOW_MINUTES``
(15) lock, for ``LOGIN_LOCKOUT_MINUTES`` (15) after the last of them,

- the login name they were made against (a known user's username, whichever of
  username or phone was typed; an unknown name as typed), and
- the client address they came from, whatever names it tried.

While locked, nothing is checked and nothing is counted (so an attacker cannot
keep a lock going for ever, and a lock is the same for a known and an unknown
name). A successful login clears that name's failures from that address only:
the count of another address, or of another name from this address, stays.

Failures are written in a transaction of their own, committed at once: the
caller is about to refuse the login (and the API's error handler rolls the
request's transaction back). Call before the caller's transaction writes anything.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from village_grid.audit.service import record
from village_grid.auth.scope import user_unit_path
from village_grid.errors import InvalidInput
from village_grid.models import LoginFailure, User
from village_grid.models.base import iso_z
from village_grid.validation import normalise_phone

# More rows than any lock needs: while locked nothing is counted, so one name or
# address collects about LOGIN_MAX_FAILURES rows per window.
_ROWS = 500


@dataclass(frozen=True)
class ThrottleRule:
    """How many failed logins lock a name or an address, within what window, for how
    long (``LOGIN_*`` in ``config.py``)."""

    max_failures: int
    window: timedelta
    lockout: timedelta

    @classmethod
    def from_config(cls, config: Mapping) -> ThrottleRule:
        """The rule from the app's configuration."""
        return cls(
            max_failures=max(1, int(config["LOGIN_MAX_FAILURES"])),
            window=timedelta(minutes=int(config["LOGIN_FAILURE_WINDOW_MINUTES"])),
            lockout=timedelta(minutes=int(config["LOGIN_LOCKOUT_MINUTES"])),
        )


def rule_or_configured(rule: ThrottleRule | None) -> ThrottleRule:
    """``rule``, or when None the running app's (``LOGIN_*`` in ``config.py``)."""
    return rule if rule is not None else ThrottleRule.from_config(current_app.config)


def login_key(login: str) -> str:
    """The name a failure is counted under: a phone number in its one written form,
    anything else lower-cased."""
    login = (login or "").strip()
    with contextlib.suppress(InvalidInput):
        phone = normalise_phone(login)
        if phone:
            return phone[:100]
    return login.lower()[:100]


def _lock_end(times: list[datetime], rule: ThrottleRule) -> datetime | None:
    """The end of the latest lock in these failure times (ascending): a run of
    ``max_failures`` within ``window`` locks until ``lockout`` after its last."""
    n = rule.max_failures
    end = None
    for i in range(n - 1, len(times)):
        if times[i] - times[i - n + 1] <= rule.window:
            end = times[i] + rule.lockout
    return end


def _failure_times(session: Session, column, values: list[str], since: datetime) -> list[datetime]:
    if not values:
        return []
    rows = session.scalars(
        select(LoginFailure.at)
        .where(column.in_(values), LoginFailure.at > since)
        .order_by(LoginFailure.at.desc())
        .limit(_ROWS)
    ).all()
    return sorted(rows)


def lock_state(
    session: Session, keys: Iterable[str], addr: str, rule: ThrottleRule, now: datetime
) -> tuple[datetime | None, str]:
    """(until when, "login" or "address") if one of ``keys`` or ``addr`` is locked
    at ``now``; (None, "") otherwise."""
    since = now - rule.window - rule.lockout
    found: tuple[datetime | None, str] = (None, "")
    for by, column, values in (
        ("login", LoginFailure.login, sorted({k for k in keys if k})),
        ("address", LoginFailure.client_addr, [addr] if addr else []),
    ):
        end = _lock_end(_failure_times(session, column, values, since), rule)
        if end is not None and end > now and (found[0] is None or end > found[0]):
            found = (end, by)
    return found


def has_failures(session: Session, keys: Iterable[str], addr: str) -> bool:
    """Any failure counted for one of ``keys`` from ``addr``?"""
    return (
        session.scalar(
            select(LoginFailure.id)
            .where(LoginFailure.login.in_(sorted(set(keys))), LoginFailure.client_addr == addr)
            .limit(1)
        )
        is not None
    )


def record_failure(
    engine: Engine,
    *,
    key: str,
    addr: str,
    user: User | None,
    rule: ThrottleRule,
    now: datetime,
) -> bool:
    """Count a failed login against ``key`` and ``addr`` and commit it at once.
    Writes "login.locked" to the audit log (same transaction) when this failure
    locks the name or the address. Returns whether it did."""
    locked = False
    with Session(bind=engine) as session, session.begin():
        since = now - rule.window - rule.lockout
        # Rows too old to count again: keep the table to what a lock can need.
        session.execute(
            delete(LoginFailure).where(LoginFailure.login == key, LoginFailure.at < since)
        )
        if addr:
            session.execute(
                delete(LoginFailure).where(
                    LoginFailure.client_addr == addr, LoginFailure.at < since
                )
            )
        session.add(LoginFailure(login=key, client_addr=addr, at=now))
        session.flush()
        for by, column, value in (
            ("login", LoginFailure.login, key),
            ("address", LoginFailure.client_addr, addr),
        ):
            if not value:
                continue
            end = _lock_end(_failure_times(session, column, [value], since), rule)
            if end is None or end <= now:
                continue
            locked = True
            about_user = by == "login" and user is not None
            record(
                session,
                None,
                "login.locked",
                object_type="user" if about_user else by,
                object_id=user.id if about_user else None,
                unit_path=user_unit_path(user) if about_user else None,
                after={
                    "by": by,
                    "login": key if by == "login" else None,
                    "client_addr": addr,
                    "until": iso_z(end.replace(microsecond=0)),
                    "failures": rule.max_failures,
                },
                client_addr=addr,
                at=now,
            )
    return locked


def clear_failures(engine: Engine, keys: Iterable[str], addr: str) -> None:
    """A successful login: forget this name's failures from this address (only)."""
    with Session(bind=engine) as session, session.begin():
        session.execute(
            delete(LoginFailure).where(
                LoginFailure.login.in_(sorted(set(keys))), LoginFailure.client_addr == addr
            )
        )
