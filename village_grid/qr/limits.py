"""Rate limits of the public door-plate endpoints (the page and its JSON share them).

Two keys for every limit: the plate token (one plate cannot be hammered, from
however many addresses) and the client address (one address cannot sweep many
plates). Reads are generous — a whole village can sit behind one carrier NAT
address during a typhoon — writes are tight. Every value can be changed in
config (``QR_*_LIMIT_*``, the usual syntax such as "10/minute;60/hour").

Counting is Flask-Limiter's, through its own decorators and configuration:
shared limits with one scope per kind of key, so the page and the JSON API
draw on the same counters. The counters live in ``RATELIMIT_STORAGE_URI``
(memory by default, Redis for several workers or hosts). When that store
fails (Redis down), Flask-Limiter's in-memory fallback
(``RATELIMIT_IN_MEMORY_FALLBACK_ENABLED``) keeps counting in the process and
logs it; it goes back to the store once the store answers again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from flask import current_app, request
from flask_limiter.util import get_remote_address

from village_grid.extensions import limiter


def token_key() -> str:
    """The plate token from the URL, hashed: raw tokens never reach the limiter's storage."""
    token = (request.view_args or {}).get("token", "")
    return "plate:" + hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def client_addr() -> str:
    """The address every submission is logged with, and limited by."""
    return get_remote_address() or ""


def _setting(name: str) -> Callable[[], str]:
    return lambda: current_app.config[name]


def _plate_limits(kind: str) -> Callable:
    """Flask-Limiter's shared limits for ``kind`` ("read" or "write"), per token and per address."""
    prefix = f"QR_{kind.upper()}_LIMIT_PER_"
    per_token = limiter.shared_limit(
        _setting(prefix + "TOKEN"), scope=f"plate-{kind}-token", key_func=token_key
    )
    per_addr = limiter.shared_limit(
        _setting(prefix + "ADDR"), scope=f"plate-{kind}-addr", key_func=client_addr
    )
    return lambda view: per_token(per_addr(view))


# Limit a public read (GET) of a plate, and a public submission.
plate_read = _plate_limits("read")
plate_write = _plate_limits("write")
