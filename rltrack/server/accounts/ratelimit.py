"""Login attempts limited per user name and per client address: brute force gets 429, never a password.

Failures are counted in a sliding window (:data:`WINDOW_S`). Once a user name has :data:`PER_USER`
failures, or an address :data:`PER_ADDRESS`, further attempts are refused before the password is even
hashed (so guessing also cannot burn the server's CPU on argon2) until the oldest failure leaves the
window. A successful login clears that user's count. Counts live in the server process: with several
uvicorn workers each keeps its own (the limit is per worker, documented in the README).

An attempt is counted when it starts (:meth:`LoginLimiter.attempt`), not when its password check
ends: checked first and counted after, 40 guesses sent at once all passed the check while the first
argon2 hash was still running, 8 times the per-user limit.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque

__all__ = ["PER_ADDRESS", "PER_USER", "WINDOW_S", "LoginLimiter"]

PER_USER = 5
PER_ADDRESS = 20
WINDOW_S = 300.0
#: Names and addresses remembered at most (the least recently failing go first): memory stays bounded.
_MAX_ENTRIES = 50_000


class LoginLimiter:
    """Count failed logins per user and per address; say when to refuse."""

    def __init__(self, *, per_user: int = PER_USER, per_address: int = PER_ADDRESS, window_s: float = WINDOW_S) -> None:
        self.per_user = per_user
        self.per_address = per_address
        self.window_s = window_s
        self._failures: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()
        self._lock = threading.RLock()  # attempt() holds it around retry_after()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and now - times[0] >= self.window_s:
            times.popleft()
        return times

    def retry_after(self, user: str, address: str) -> int | None:
        """Return seconds to wait when this user or address is over its limit, else None."""
        now = time.monotonic()
        waits = []
        with self._lock:
            for key, limit in ((("user", user.lower()), self.per_user), (("address", address), self.per_address)):
                times = self._recent(key, now)
                if len(times) >= limit:
                    waits.append(self.window_s - (now - times[0]))
        return max(1, math.ceil(max(waits))) if waits else None

    def attempt(self, user: str, address: str) -> int | None:
        """Start a login: return seconds to wait when over the limit, else count it as failed until it succeeds.

        The check and the count are one step under the lock, so attempts sent at once cannot all pass
        the check before any of them is counted; :meth:`succeeded` takes the count back.
        """
        with self._lock:
            wait = self.retry_after(user, address)
            if wait is None:
                self._count(user, address, time.monotonic())
            return wait

    def failed(self, user: str, address: str) -> None:
        """Count one failed login (one not started with :meth:`attempt`)."""
        with self._lock:
            self._count(user, address, time.monotonic())

    def _count(self, user: str, address: str, now: float) -> None:
        for key in (("user", user.lower()), ("address", address)):
            times = self._recent(key, now)
            times.append(now)
            self._failures[key] = times
            self._failures.move_to_end(key)
        while len(self._failures) > _MAX_ENTRIES:
            self._failures.popitem(last=False)

    def succeeded(self, user: str, address: str | None = None) -> None:
        """Forget a user's failures after a good login (and the address's count of this attempt)."""
        with self._lock:
            self._failures.pop(("user", user.lower()), None)
            times = self._failures.get(("address", address)) if address is not None else None
            if times:
                times.pop()
