"""Rate limits for the public door-plate endpoints (page and JSON API share them).

Two keys for every limit: the plate token (one plate cannot be hammered, from
however many addresses) and the client address (one address cannot sweep many
plates). Reads are generous — a whole village can sit behind one carrier NAT
address during a typhoon — writes are tight. Every value can be changed in
config (``QR_*_LIMIT_*``, the usual syntax such as "10/minute;60/hour"); the
counters live in ``RATELIMIT_STORAGE_URI`` (memory by default, Redis for
several workers or hosts), under ``RATELIMIT_KEY_PREFIX``.

The counting is Flask-Limiter's: its storage and strategy (``limiter.limiter``,
the ``limits`` library underneath), configured once for the whole app. Only
the per-request bookkeeping is ours. Flask-Limiter's route decorators resolve
a route's limits, exemption scopes and response headers on every request:
measured on the door-plate answer, that was a third of the request's CPU
(about 250 µs of 750 in one process), for two counter increments. These
endpoints are the ones a whole village hits within minutes of a sweep, so
they count directly: build the two keys, hit each configured limit, and on a
breach answer 429 with ``Retry-After``.

If the counter store fails (Redis down), the request goes through and the
failure is logged: a household reporting that water is coming in must not be
turned away because the limiter's store is unavailable.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from functools import wraps

from flask import current_app, request
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, parse_many
from werkzeug.exceptions import TooManyRequests

from village_grid.extensions import limiter

log = logging.getLogger(__name__)


def token_key() -> str:
    """The plate token from the URL, hashed: raw tokens never reach the limiter's storage."""
    token = (request.view_args or {}).get("token", "")
    return "plate:" + hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def client_addr() -> str:
    """The address every submission is logged with, and limited by."""
    return get_remote_address() or ""


_parsed: dict[str, list[RateLimitItem]] = {}


def _limits(setting: str) -> list[RateLimitItem]:
    """The limits in config ``setting`` (parsed once per value: tests and operators change it)."""
    value = current_app.config[setting]
    found = _parsed.get(value)
    if found is None:
        found = _parsed[value] = sorted(parse_many(value))
    return found


def check_plate_limits(kind: str) -> None:
    """Count this request against the plate's and the address's ``kind`` ("read" or
    "write") limits; raise 429 (with ``Retry-After``) when one is used up."""
    if not limiter.enabled:
        return
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX") or ""
    strategy = limiter.limiter
    setting = f"QR_{kind.upper()}_LIMIT_PER_"
    for scope, key, limits in (
        (f"plate-{kind}-token", token_key(), _limits(setting + "TOKEN")),
        (f"plate-{kind}-addr", client_addr(), _limits(setting + "ADDR")),
    ):
        if not key:
            continue
        args = (prefix, key, scope) if prefix else (key, scope)
        for limit in limits:
            try:
                allowed = strategy.hit(limit, *args)
            except Exception:  # the store, not the request: let the household through
                log.exception("rate limit store failed; %s not counted", scope)
                return
            if not allowed:
                log.info("rate limit %s (%s) used up on %s", limit, scope, request.path)
                raise TooManyRequests(retry_after=_retry_after(strategy, limit, args))


def _retry_after(strategy, limit: RateLimitItem, args: tuple) -> int:
    try:
        reset = strategy.get_window_stats(limit, *args).reset_time
    except Exception:
        return limit.get_expiry()
    return max(1, math.ceil(reset - time.time()))


def _limited(kind: str, view):
    @wraps(view)
    def limited(*args, **kwargs):
        check_plate_limits(kind)
        return view(*args, **kwargs)

    limited.counts_plate_limits = True
    return limited


@limiter.request_filter
def _counted_here() -> bool:
    """Flask-Limiter's own per-request pass (app-wide limits, which these routes do
    not have) skips the routes counted above: it cost about 55 µs a request."""
    view = current_app.view_functions.get(request.endpoint or "")
    return getattr(view, "counts_plate_limits", False)


def plate_read(view):
    """Limit a public read (GET) of a plate, per token and per address."""
    return _limited("read", view)


def plate_write(view):
    """Limit a public submission, per token and per address."""
    return _limited("write", view)
