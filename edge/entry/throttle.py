"""Slowing down repeated failures at the door, per code or face."""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta


class FailureThrottle:
    """Slows down repeated failures from one code or face: pauses that double each time."""

    def __init__(self, limit: int, window_s: float, lockout_s: float) -> None:
        self._limit = limit
        self._window = timedelta(seconds=window_s)
        self._lockout_s = lockout_s
        self._failures: dict[str, deque[datetime]] = {}
        self._blocked_until: dict[str, datetime] = {}
        self._strikes: dict[str, int] = {}

    def blocked(self, key: str, now: datetime) -> bool:
        """Return whether attempts from `key` are paused now."""
        until = self._blocked_until.get(key)
        return until is not None and now < until

    def fail(self, key: str, now: datetime) -> None:
        """Count a failure; too many in the window start (or lengthen) a pause."""
        recent = self._failures.setdefault(key, deque())
        recent.append(now)
        while recent and now - recent[0] > self._window:
            recent.popleft()
        if len(recent) >= self._limit:
            strikes = self._strikes.get(key, 0)
            self._strikes[key] = strikes + 1
            self._blocked_until[key] = now + timedelta(seconds=self._lockout_s * 2**strikes)
            recent.clear()

    def succeed(self, key: str) -> None:
        """Forget a key's failures."""
        for table in (self._failures, self._blocked_until, self._strikes):
            table.pop(key, None)
