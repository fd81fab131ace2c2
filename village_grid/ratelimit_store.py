"""An in-process store for rate-limit counters whose upkeep does not grow with their number.

``limits``' own ``memory://`` store re-arms a 10 ms timer on every hit, and
each run of it walks every live counter. With the 200,000 counters that a
county's 100,000 door plates leave under "10/minute;60/hour", one walk took
53 ms: during a surge the timer thread would hold the interpreter most of the
time in every worker. Here each counter's end is kept in a heap, and a hit
drops only the counters that have ended (amortised O(log n)); there is no
thread.

Registered with ``limits`` as ``expiring-memory://`` (the default
``RATELIMIT_STORAGE_URI``). Fixed windows only — the strategy this app uses —
and, like ``memory://``, one store per process: ``redis://`` shares the counts
between workers and hosts.
"""

from __future__ import annotations

import heapq
import threading
import time

from limits.storage import Storage


class ExpiringMemoryStorage(Storage):
    """Fixed-window counters in a dict; their ends in a heap."""

    STORAGE_SCHEME = ["expiring-memory"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options):
        self._counts: dict[str, int] = {}
        self._ends: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        self.clock = time.time  # tests move time forward
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self) -> type[Exception]:
        return ValueError

    def _drop_ended(self, now: float) -> None:
        heap, ends = self._heap, self._ends
        while heap and heap[0][0] <= now:
            end, key = heapq.heappop(heap)
            if ends.get(key) == end:  # not cleared and started again since
                del ends[key]
                self._counts.pop(key, None)

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add ``amount`` to ``key``'s counter, starting a window of ``expiry`` seconds
        if it has none; the new count."""
        now = self.clock()
        with self._lock:
            self._drop_ended(now)
            if key not in self._ends:
                end = now + expiry
                self._ends[key] = end
                self._counts[key] = 0
                heapq.heappush(self._heap, (end, key))
            self._counts[key] += amount
            return self._counts[key]

    def get(self, key: str) -> int:
        with self._lock:
            self._drop_ended(self.clock())
            return self._counts.get(key, 0)

    def get_expiry(self, key: str) -> float:
        with self._lock:
            return self._ends.get(key, self.clock())

    def check(self) -> bool:
        return True

    def reset(self) -> int | None:
        with self._lock:
            count = len(self._counts)
            self._counts.clear()
            self._ends.clear()
            self._heap.clear()
            return count

    def clear(self, key: str) -> None:
        with self._lock:
            self._counts.pop(key, None)
            self._ends.pop(key, None)  # its heap entry is skipped when it comes up

    def live_counters(self) -> int:
        """Counters whose window has not ended (ended ones may linger until the next hit).

        Not ``__len__``: Flask-Limiter checks the store's truth value."""
        return len(self._counts)
