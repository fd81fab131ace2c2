"""Each robot's posts within its per-minute budget.

A WeCom group robot takes at most 20 messages a minute and answers errcode 45009
beyond that (docs/operations.md, "Work-group robots"). Each robot has a bucket of
``limit`` tokens; a post spends one, and a spent token comes back ``window``
seconds (61: a minute and a margin) after it was spent. So in any ``window``
seconds a robot gets at most ``limit`` posts — whatever the phase of the robot's own minute — while a quiet
robot may still send ``limit`` at once. (A bucket refilled at a steady rate would
let ``2 × limit`` through in the minute after a quiet spell.)

:func:`take` answers 0 and spends a token when a post may go now, or how many
seconds until one comes back. :func:`hold` keeps a robot quiet until a moment
(after a rate-limit answer), for every worker.

Two stores: one process's memory, or Redis when several workers share the
robots (``REDIS_URL``, or the rate limiter's Redis storage); while Redis does not
answer, each worker counts in its own memory (logged once), so delivery goes on. Times are the
caller's clock (seconds), so tests and the bench drive them.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import deque

from flask import current_app

# A robot's minute, as this server counts it: a little more than 60 s, because the
# robot counts a post when it arrives, a moment after the token was taken here (a
# post that left 60.0 s after another may arrive 59.99 s after it).
WINDOW_SECONDS = 61.0

log = logging.getLogger("village_grid.notify")


class MemoryBudget:
    """Each robot's spent tokens in this process (one worker, or tests)."""

    def __init__(self, limit: int, window: float = WINDOW_SECONDS):
        self.limit = limit
        self.window = window
        self._spent: dict[str, deque[float]] = {}
        self._held: dict[str, float] = {}
        self._lock = threading.Lock()

    def take(self, robot: str, now: float) -> float:
        with self._lock:
            held = self._held.get(robot, 0.0)
            if held > now:
                return held - now
            spent = self._spent.setdefault(robot, deque())
            while spent and spent[0] <= now - self.window:
                spent.popleft()
            if len(spent) < self.limit:
                spent.append(now)
                return 0.0
            return spent[0] + self.window - now

    def hold(self, robot: str, until: float) -> None:
        with self._lock:
            self._held[robot] = max(self._held.get(robot, 0.0), until)


# KEYS: spent tokens (a sorted set of times), held-until. ARGV: now, window, limit, a
# unique member. Returns "0" (spent) or the seconds to wait, as a string (a Lua number
# would come back truncated to an integer).
_TAKE = """
local held = tonumber(redis.call('GET', KEYS[2]) or '0')
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
if held > now then return tostring(held - now) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000) + 1000)
  return '0'
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tostring(tonumber(oldest[2]) + window - now)
"""

_HOLD = """
local held = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > held then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', math.ceil(tonumber(ARGV[2]) * 1000) + 1000)
end
return 1
"""


class RedisBudget:
    """Each robot's spent tokens in Redis: every worker draws on the same bucket
    (one Lua script a post, so two workers never spend the same token)."""

    def __init__(self, client, limit: int, window: float = WINDOW_SECONDS, prefix: str = "vg"):
        self.client = client
        self.limit = limit
        self.window = window
        self.prefix = prefix
        self._take = client.register_script(_TAKE)
        self._hold = client.register_script(_HOLD)
        self._fallback: MemoryBudget | None = None

    def _keys(self, robot: str) -> list[str]:
        return [f"{self.prefix}:robot:{robot}:spent", f"{self.prefix}:robot:{robot}:held"]

    def take(self, robot: str, now: float) -> float:
        try:
            answer = self._take(
                keys=self._keys(robot), args=[repr(now), self.window, self.limit, uuid.uuid4().hex]
            )
        except Exception as exc:  # Redis down: this worker counts alone until it is back
            return self._failed(exc).take(robot, now)
        self._recovered()
        return max(float(answer), 0.0)

    def hold(self, robot: str, until: float) -> None:
        try:
            self._hold(keys=self._keys(robot)[1:], args=[repr(until), self.window * 2])
        except Exception as exc:
            self._failed(exc).hold(robot, until)

    def _failed(self, exc: Exception) -> MemoryBudget:
        if self._fallback is None:
            log.warning("robot budgets: Redis unreachable, counting in memory (%s)", exc)
            self._fallback = MemoryBudget(self.limit, self.window)
        return self._fallback

    def _recovered(self) -> None:
        if self._fallback is not None:
            log.warning("robot budgets: Redis answers again")
            self._fallback = None


def redis_url(config) -> str:
    """The Redis the workers share, if any: ``REDIS_URL``, else the rate limiter's."""
    if config.get("REDIS_URL"):
        return config["REDIS_URL"]
    storage = str(config.get("RATELIMIT_STORAGE_URI") or "")
    return storage if storage.startswith(("redis://", "rediss://")) else ""


def for_app():
    """This app's budget (made once): in Redis when the workers share one, else in memory."""
    ext = current_app.extensions
    budget = ext.get("notify_budget")
    if budget is None:
        config = current_app.config
        limit = int(config["NOTIFY_ROBOT_PER_MINUTE"])
        url = redis_url(config)
        if url:
            import redis

            budget = RedisBudget(
                redis.Redis.from_url(url), limit, prefix=config["NOTIFY_BUDGET_PREFIX"]
            )
        else:
            budget = MemoryBudget(limit)
        ext["notify_budget"] = budget
    return budget
