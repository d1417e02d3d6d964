"""Failed sign-ins counted per account and per client address in a sliding window, in memory.

Per process: each `evidence serve` (or worker) keeps its own counts, and a restart forgets them
(docs/DEPLOYMENT.md). Argon2's cost already slows each guess; this stops a patient one.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict, deque
from collections.abc import Callable


class SignInLimiter:
    def __init__(self, limit: int, window_seconds: int, now: Callable[[], float]) -> None:
        self.limit, self.window, self.now = limit, window_seconds, now
        self._failures: defaultdict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()  # sync routes run in a thread pool

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures[key]
        while times and now - times[0] >= self.window:
            times.popleft()
        if not times:
            del self._failures[key]  # the map holds only keys with recent failures
            return deque()
        return times

    def retry_after(self, *keys: str) -> int | None:
        """Seconds until another attempt is allowed, or None when every key is under its limit."""
        with self._lock:
            now = self.now()
            waits = []
            for key in keys:
                times = self._recent(key, now)
                if len(times) >= self.limit:
                    waits.append(max(1, math.ceil(times[-self.limit] + self.window - now)))
            return max(waits) if waits else None

    def failed(self, *keys: str) -> None:
        with self._lock:
            now = self.now()
            for key in keys:
                self._failures[key].append(now)

    def succeeded(self, account_key: str) -> None:
        """A right password clears the account's count (the address keeps its own)."""
        with self._lock:
            self._failures.pop(account_key, None)
