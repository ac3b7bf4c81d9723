"""The live alert feed: Server-Sent Events replayed from the feed table.

Every replica reads the same table, so a client sees changes made on any replica; a
local change wakes the streams at once, others are picked up by a short poll.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import Engine, func
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from station.duty.alerting.models import Alert, AlertPublic, FeedEntry

logger = logging.getLogger(__name__)

FEED_PAGE = 200


class FeedHub:
    """Wakes waiting SSE streams when this replica commits an alert change."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self.clients = 0  # open streams on this replica, for the metrics
        # Set where replicas can signal each other (PostgreSQL): see feed_signal.
        self.tell_others: Callable[[], None] | None = None

    def joined(self, change: int) -> None:
        """Count a stream that opened (+1) or closed (-1)."""
        with self._lock:
            self.clients += change

    def notify(self) -> None:
        """Wake every stream here and on the other replicas; safe to call from any thread."""
        self.wake()
        tell = self.tell_others
        if tell is None:
            return
        try:
            tell()
        except SQLAlchemyError as err:
            # The change is committed: the other replicas' poll still finds it.
            logger.warning("could not tell the other replicas of a feed change: %s", err)

    def wake(self) -> None:
        """Wake every stream of this replica."""
        with self._lock:
            waiters = list(self._waiters)
        for loop, event in waiters:
            loop.call_soon_threadsafe(event.set)

    async def wait(self, timeout_s: float) -> bool:
        """Return True on the next wake, False after the timeout."""
        event = asyncio.Event()
        key = (asyncio.get_running_loop(), event)
        with self._lock:
            self._waiters.add(key)
        try:
            await asyncio.wait_for(event.wait(), timeout_s)
        except TimeoutError:
            return False
        finally:
            with self._lock:
                self._waiters.discard(key)
        return True


def latest_feed_id(engine: Engine) -> int:
    """Return the newest feed entry id, 0 when the feed is empty."""
    with Session(engine) as session:
        return session.exec(select(func.max(FeedEntry.id))).one() or 0


@dataclass(frozen=True)
class FeedPage:
    """Entries the caller may see, the id of the last entry read, and whether more wait."""

    entries: list[tuple[int, str, AlertPublic]]
    cursor: int
    full: bool


def feed_since(
    engine: Engine, after_id: int, visible: Callable[[str], bool] = lambda _s: True
) -> FeedPage:
    """Read the entries after `after_id`, oldest first, with each alert as it is now."""
    with Session(engine) as session:
        rows = session.exec(
            select(FeedEntry, Alert)
            .join(Alert, col(Alert.id) == col(FeedEntry.alert_id))
            .where(col(FeedEntry.id) > after_id)
            .order_by(col(FeedEntry.id))
            .limit(FEED_PAGE)
        ).all()
        entries = [
            (e.id or 0, e.change, AlertPublic.model_validate(a))
            for e, a in rows
            if visible(a.station_id)
        ]
    # Entries hidden from this caller still move the cursor on.
    cursor = (rows[-1][0].id or after_id) if rows else after_id
    return FeedPage(entries, cursor, len(rows) == FEED_PAGE)


async def alert_stream(
    engine: Engine,
    hub: FeedHub,
    after_id: int | None,
    poll_s: float,
    disconnected: Callable[[], Awaitable[bool]],
    visible: Callable[[str], bool],
) -> AsyncIterator[dict[str, str]]:
    """Yield SSE events for alert changes after `after_id` (None: from now on)."""
    hub.joined(+1)
    try:
        cursor = (
            after_id if after_id is not None else await asyncio.to_thread(latest_feed_id, engine)
        )
        while True:
            if await disconnected():
                return
            page = await asyncio.to_thread(feed_since, engine, cursor, visible)
            for entry_id, change, alert in page.entries:
                body = {"change": change, "alert": alert.model_dump(mode="json")}
                yield {"id": str(entry_id), "event": "alert", "data": json.dumps(body)}
            cursor = page.cursor
            if not page.full:
                await hub.wait(poll_s)
    finally:
        hub.joined(-1)
