"""Which outbox rows the broker took but cloud-duty has not receipted, and when each goes again."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass
class _Awaiting:
    """A row the broker took (PUBACK) that cloud-duty has not yet receipted."""

    retry_at: float
    tries: int


class ReceiptWindow:
    """Rows awaiting a receipt, with a doubling re-send timeout; touched by the drain only."""

    def __init__(
        self,
        timeout_s: float,
        backoff_max_s: float,
        limit: int,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """Re-send after `timeout_s`, doubling up to `backoff_max_s`; hold at most `limit`."""
        self._timeout_s = timeout_s
        self._backoff_max_s = backoff_max_s
        self._limit = limit
        self._monotonic = monotonic
        self._awaiting: dict[int, _Awaiting] = {}
        self._receipted_early: set[int] = set()

    def __len__(self) -> int:
        """Return how many rows await a receipt."""
        return len(self._awaiting)

    def __contains__(self, row_id: object) -> bool:
        """Return whether a row awaits a receipt."""
        return row_id in self._awaiting

    @property
    def full(self) -> bool:
        """Return whether no new row may go out (only re-sends)."""
        return len(self._awaiting) >= self._limit

    def not_due(self) -> set[int]:
        """Return the rows whose re-send time has not come."""
        now = self._monotonic()
        return {row_id for row_id, a in self._awaiting.items() if a.retry_at > now}

    def acked(self, row_id: int) -> None:
        """The broker took a row: wait for its receipt (unless one came first)."""
        if row_id in self._receipted_early:
            self._receipted_early.discard(row_id)  # stored already: nothing to await
            return
        tries = self._awaiting[row_id].tries + 1 if row_id in self._awaiting else 1
        wait = min(self._timeout_s * 2 ** (tries - 1), self._backoff_max_s)
        self._awaiting[row_id] = _Awaiting(self._monotonic() + wait, tries)
        if tries > 1:
            log.info("outbox row %s sent again (try %d): no receipt yet", row_id, tries)

    def receipted(self, ids: Iterable[int], with_paho: Collection[int]) -> None:
        """cloud-duty stored these rows; those still awaiting a PUBACK must not start a wait."""
        for row_id in ids:
            self._awaiting.pop(row_id, None)
            if row_id in with_paho:
                self._receipted_early.add(row_id)
