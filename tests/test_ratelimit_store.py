"""The in-process rate-limit store (ratelimit_store.py): fixed windows that end on
time, counters dropped as they end without a walk over all of them, and the
store behind the app's limits by default."""

from __future__ import annotations

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from village_grid.extensions import limiter
from village_grid.ratelimit_store import ExpiringMemoryStorage


class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self):
        return self.now


def store_with_clock():
    store = storage_from_string("expiring-memory://")
    assert isinstance(store, ExpiringMemoryStorage)
    store.clock = Clock()
    return store, store.clock


def test_a_window_counts_then_ends_on_time():
    store, clock = store_with_clock()
    limiter_ = FixedWindowRateLimiter(store)
    three = parse("3/minute")
    assert [limiter_.hit(three, "plate:a") for _ in range(4)] == [True, True, True, False]
    assert not limiter_.test(three, "plate:a")
    stats = limiter_.get_window_stats(three, "plate:a")
    assert stats.remaining == 0 and stats.reset_time == clock.now + 60
    clock.now += 59.9
    assert not limiter_.hit(three, "plate:a")  # still the same minute
    clock.now += 0.2
    assert limiter_.hit(three, "plate:a")  # a new window
    assert limiter_.get_window_stats(three, "plate:a").remaining == 2


def test_keys_are_counted_apart_and_ended_counters_are_dropped():
    store, clock = store_with_clock()
    for i in range(1000):
        store.incr(f"plate:{i}", 60)
    store.incr("plate:0", 60)
    assert store.get("plate:0") == 2 and store.get("plate:1") == 1
    assert store.live_counters() == 1000
    clock.now += 30
    store.incr("late", 60)
    clock.now += 31  # the first thousand ended, "late" did not
    assert store.get("late") == 1
    assert store.live_counters() == 1
    assert store.get("plate:0") == 0


def test_clear_and_reset():
    store, clock = store_with_clock()
    store.incr("a", 60, amount=5)
    store.clear("a")
    assert store.get("a") == 0
    store.incr("a", 10)  # a fresh window after the clear
    clock.now += 11
    assert store.get("a") == 0  # ended on its own time, not the cleared window's
    store.incr("b", 60)
    assert store.reset() == 1 and store.get("b") == 0
    assert store.check()


def test_the_apps_limits_count_in_it(app):
    assert isinstance(limiter.storage, ExpiringMemoryStorage)
