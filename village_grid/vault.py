"""Secrets at rest: one key, a separate value for each purpose.

The key is ``ID_NUMBER_KEY`` (the environment, or ``instance/id_key`` written by
scripts/run); HKDF-SHA256 derives from it one independent value per purpose, so
the station's ID numbers (``station/vault.py``) and the door-plate tokens
(``models/households.py``) are sealed under keys that say nothing of each other.
Sealing is Fernet (AES-128-CBC with HMAC-SHA256, ``cryptography``). A copy of the
database without the key holds neither an ID number nor a usable plate URL.
"""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from flask_babel import gettext as _

from village_grid.errors import DomainError


class KeyProblem(DomainError):
    """This server cannot seal or open what it keeps at rest (no key, or another key)."""

    status = 503
    code = "data_key_missing"


def derive(secret: str, purpose: bytes) -> bytes:
    """32 bytes for ``purpose`` from ``secret`` (HKDF-SHA256)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        secret.encode("utf-8")
    )


def secret() -> str:
    """This server's key ("" when none is configured)."""
    return current_app.config.get("ID_NUMBER_KEY") or ""


@lru_cache(maxsize=8)
def _fernet(key: str, purpose: bytes) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(derive(key, purpose)))


def fernet(purpose: bytes) -> Fernet:
    """The Fernet of ``purpose`` under this server's key; :class:`KeyProblem` without one."""
    key = secret()
    if not key:
        raise KeyProblem(
            _(
                "This server has no data key (ID_NUMBER_KEY, or instance/id_key made by "
                "scripts/run): what it keeps sealed cannot be written or read."
            )
        )
    return _fernet(key, purpose)


def seal(purpose: bytes, text: str) -> str:
    """``text`` sealed for ``purpose`` (a Fernet token, ASCII)."""
    return fernet(purpose).encrypt(text.encode("utf-8")).decode("ascii")


def unseal(purpose: bytes, token: str) -> str:
    """The text back from :func:`seal`; :class:`KeyProblem` when sealed under another key."""
    try:
        return fernet(purpose).decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise KeyProblem(
            _(
                "This was sealed with another data key: copy instance/id_key (or "
                "ID_NUMBER_KEY) from the server that stored it."
            ),
            code="data_key_mismatch",
        ) from None
