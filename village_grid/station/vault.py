"""ID numbers at rest: encrypted with Fernet, found again through a keyed hash.

One secret, ``ID_NUMBER_KEY`` (the environment, or ``instance/id_key`` written by
scripts/run), gives through HKDF-SHA256 (``village_grid/vault.py``, which also
seals the door-plate tokens under a value of their own) three independent values: the Fernet key
that encrypts a number (AES-128-CBC with HMAC-SHA256, ``cryptography``), the
HMAC-SHA256 key of the lookup hash that finds a second registration of the
same number without decrypting anything, and a short fingerprint stored with
each row so a server started with another key says so instead of missing
duplicates. Nothing here logs, and no error carries a number.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app
from flask_babel import gettext as _

from village_grid.errors import DomainError
from village_grid.vault import derive


class IdKeyProblem(DomainError):
    """The station cannot store or read ID numbers with this server's key."""

    status = 503
    code = "id_key_missing"


@dataclass(frozen=True)
class Keys:
    fernet: Fernet
    lookup: bytes
    fingerprint: str


@lru_cache(maxsize=4)
def keys_for(secret: str) -> Keys:
    """The three values of one secret (cached: HKDF runs once per key and process)."""
    fernet_key = base64.urlsafe_b64encode(derive(secret, b"village-grid/id-number/encrypt"))
    return Keys(
        fernet=Fernet(fernet_key),
        lookup=derive(secret, b"village-grid/id-number/lookup"),
        fingerprint=derive(secret, b"village-grid/id-number/key-id").hex()[:16],
    )


def keys() -> Keys:
    """This server's keys; :class:`IdKeyProblem` (503) when none is configured."""
    secret = current_app.config.get("ID_NUMBER_KEY") or ""
    if not secret:
        raise IdKeyProblem(
            _(
                "ID numbers cannot be stored: this server has no ID-number key "
                "(ID_NUMBER_KEY, or instance/id_key made by scripts/run)."
            )
        )
    return keys_for(secret)


def seal(number: str) -> str:
    """The number encrypted (a Fernet token, ASCII)."""
    return keys().fernet.encrypt(number.encode("utf-8")).decode("ascii")


def unseal(token: str) -> str:
    """The number back from :func:`seal`'s token."""
    try:
        return keys().fernet.decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise IdKeyProblem(
            _(
                "This ID number was stored with another key: copy instance/id_key "
                "(or ID_NUMBER_KEY) from the server that stored it."
            ),
            code="id_key_mismatch",
        ) from None


def lookup(id_type: str, number: str) -> str:
    """The keyed hash (hex) a second registration of the same document finds."""
    message = f"{id_type}:{number}".encode()
    return hmac.new(keys().lookup, message, hashlib.sha256).hexdigest()


def fingerprint() -> str:
    """Which key this server holds (stored with each row; never the key itself)."""
    return keys().fingerprint


def require_same_key(stored_fingerprint: str | None) -> None:
    """Refuse to store or look up with a key other than the one the stored numbers use:
    duplicates would go unseen and the old numbers could not be read."""
    if stored_fingerprint and stored_fingerprint != fingerprint():
        raise IdKeyProblem(
            _(
                "The ID numbers here were stored with another key: copy instance/id_key "
                "(or ID_NUMBER_KEY) from the server that stored them."
            ),
            code="id_key_mismatch",
        )
