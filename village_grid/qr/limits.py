"""Rate limits for the public door-plate endpoints (page and JSON API share them).

Two keys for every limit: the plate token (one plate cannot be hammered, from
however many addresses) and the client address (one address cannot sweep many
plates). Reads are generous — a whole village can sit behind one carrier NAT
address during a typhoon — writes are tight. Every value can be changed in
config (``QR_*_LIMIT_*``, Flask-Limiter syntax such as "10/minute;60/hour");
the counters live in ``RATELIMIT_STORAGE_URI`` (memory by default, Redis for
several workers or hosts).
"""

from __future__ import annotations

import hashlib

from flask import current_app, request
from flask_limiter.util import get_remote_address

from village_grid.extensions import limiter


def _limit(name: str):
    """The limit named ``name`` in config (defaults in village_grid/config.py)."""
    return lambda: current_app.config[name]


def token_key() -> str:
    """The plate token from the URL, hashed: raw tokens never reach the limiter's storage."""
    token = (request.view_args or {}).get("token", "")
    return "plate:" + hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def client_addr() -> str:
    """The address every submission is logged with, and limited by."""
    return get_remote_address() or ""


_read_token = limiter.shared_limit(
    _limit("QR_READ_LIMIT_PER_TOKEN"), scope="plate-read-token", key_func=token_key
)
_read_addr = limiter.shared_limit(
    _limit("QR_READ_LIMIT_PER_ADDR"), scope="plate-read-addr", key_func=client_addr
)
_write_token = limiter.shared_limit(
    _limit("QR_WRITE_LIMIT_PER_TOKEN"), scope="plate-write-token", key_func=token_key
)
_write_addr = limiter.shared_limit(
    _limit("QR_WRITE_LIMIT_PER_ADDR"), scope="plate-write-addr", key_func=client_addr
)


def plate_read(view):
    """Limit a public read (GET) of a plate, per token and per address."""
    return _read_token(_read_addr(view))


def plate_write(view):
    """Limit a public submission, per token and per address."""
    return _write_token(_write_addr(view))
