"""The clock that cloud-duty reads, behind a Protocol so tests can move time."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from station.contracts import utcnow


class Clock(Protocol):
    """Where the time comes from."""

    def now(self) -> datetime:
        """Return the current UTC time."""
        ...


class SystemClock:
    """The real time."""

    def now(self) -> datetime:
        """Return the current UTC time."""
        return utcnow()
