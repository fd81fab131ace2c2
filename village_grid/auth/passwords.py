"""The password rule, password hashes, and the dummy hash that makes an unknown
login cost as much time as a known one.

The rule (one place, called by user creation, a password change and an
administrator's reset): at least :data:`MIN_PASSWORD` characters; not on the
list of common passwords (``common_passwords.txt`` beside this file, compared
lower-cased); not one character or one short group repeated (``aaaaaaaa``,
``12121212``), not a straight run (``12345678``, ``abcdefgh``, ``87654321``);
not the person's own username or phone number.
"""

from __future__ import annotations

import secrets
from functools import cache
from pathlib import Path

from flask_babel import gettext as _
from werkzeug.security import check_password_hash, generate_password_hash

from village_grid.errors import InvalidInput

MIN_PASSWORD = 8
MAX_PASSWORD = 200
COMMON_PASSWORDS_FILE = Path(__file__).with_name("common_passwords.txt")


@cache
def common_passwords() -> frozenset[str]:
    """The list of common passwords, read once per process."""
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(
        line.strip().lower() for line in lines if line.strip() and not line.startswith("#")
    )


def _repeats_a_short_group(password: str) -> bool:
    """``aaaaaaaa``, ``12121212``, ``abcabcabc``: one group of up to 4 characters, repeated."""
    n = len(password)
    return any(n % size == 0 and password == password[:size] * (n // size) for size in (1, 2, 3, 4))


def _is_a_run(password: str) -> bool:
    """``12345678``, ``abcdefgh``, ``87654321``: each character one after (or before) the last."""
    steps = {ord(b) - ord(a) for a, b in zip(password, password[1:], strict=False)}
    return steps in ({1}, {-1})


def too_easy(password: str) -> bool:
    """Is ``password`` one that is guessed first (common, repeated, a straight run)?"""
    lowered = password.lower()
    return lowered in common_passwords() or _repeats_a_short_group(lowered) or _is_a_run(lowered)


def check_password_rule(password: str, *, username: str = "", phone: str | None = None) -> None:
    """Raise :class:`InvalidInput` (field ``password``) unless ``password`` follows the rule."""
    password = password or ""
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(
            _("Password must have at least %(n)s characters.", n=MIN_PASSWORD),
            fields={"password": "too_short"},
        )
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(
            _("Password must have at most %(n)s characters.", n=MAX_PASSWORD),
            fields={"password": "too_long"},
        )
    own = {v.strip().lower() for v in (username, phone or "") if v and v.strip()}
    if password.strip().lower() in own:
        raise InvalidInput(
            _("The password must not be the username or the phone number."),
            fields={"password": "same_as_login"},
        )
    if too_easy(password):
        raise InvalidInput(
            _(
                "This password is too easy to guess (a common password, a repeated character "
                "or a simple run). Please choose another."
            ),
            fields={"password": "too_common"},
        )


def hash_password(password: str) -> str:
    return generate_password_hash(password)


@cache
def _dummy_hash() -> str:
    # Made once per process with the same method and cost as real hashes.
    return generate_password_hash(secrets.token_urlsafe(16))


def password_matches(password_hash: str | None, password: str) -> bool:
    """Check ``password`` against ``password_hash``; with no hash (an unknown login),
    check it against a dummy hash instead, so both cost the same time. An empty hash is
    a person without a password (a team lead or grid member who signs in by link):
    no password matches it."""
    if not password_hash:
        check_password_hash(_dummy_hash(), password or "")
        return False
    return check_password_hash(password_hash, password or "")


# Digits only: easiest to type on a phone for whoever gets it read out.
GENERATED_LENGTH = 10


def generate_password() -> str:
    """A random password that follows the rule, for an administrator's reset."""
    while True:
        candidate = "".join(secrets.choice("0123456789") for _ in range(GENERATED_LENGTH))
        if not too_easy(candidate):
            return candidate
