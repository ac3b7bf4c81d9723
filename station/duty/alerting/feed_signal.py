"""Replicas wake each other's live feeds through PostgreSQL LISTEN/NOTIFY.

An alert a node's message opens on one replica must reach the duty staff whose consoles
hang on another replica at once, not at that replica's next feed poll. The poll stays as
the fallback: a lost notification (the listener reconnecting) delays a change, never
loses it, because the streams always read the feed table itself.
"""

from __future__ import annotations

import logging
import secrets
import threading

import psycopg
from sqlalchemy import Engine, text

from station.duty.alerting.live_feed import FeedHub

logger = logging.getLogger(__name__)

CHANNEL = "uws_feed"


class FeedSignal:
    """Tells the other replicas of a committed feed change and wakes this replica's streams
    when another tells."""

    def __init__(self, engine: Engine, hub: FeedHub, reconnect_s: float = 1.0) -> None:
        """Signal through the PostgreSQL database of `engine`; wake the streams of `hub`."""
        self._engine = engine
        self._hub = hub
        self._reconnect_s = reconnect_s
        # Our own notifications come back to us: the payload tells them apart.
        self._me = secrets.token_hex(8)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="feed-signal", daemon=True)
        self.listening = threading.Event()  # set while LISTEN is in force

    def start(self) -> None:
        """Start listening; the hub's changes are told to the other replicas from now on."""
        self._thread.start()
        self._hub.tell_others = self.send

    def stop(self) -> None:
        """Stop telling and listening."""
        self._hub.tell_others = None
        self._stop.set()
        self._thread.join(timeout=5)

    def send(self) -> None:
        """Tell the other replicas that the feed changed."""
        with self._engine.connect() as connection:
            connection.execute(
                text("SELECT pg_notify(:channel, :me)"), {"channel": CHANNEL, "me": self._me}
            )
            connection.commit()

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen_once()
            except psycopg.Error as err:
                logger.warning("feed signal lost its database connection (%s); reconnecting", err)
            finally:
                self.listening.clear()
            self._stop.wait(self._reconnect_s)

    def _listen_once(self) -> None:
        url = self._engine.url.set(drivername="postgresql")
        dsn = url.render_as_string(hide_password=False)
        with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as connection:
            connection.execute(f"LISTEN {CHANNEL}")
            # A change missed while reconnecting is in the table: wake the streams to read it.
            self._hub.wake()
            self.listening.set()
            while not self._stop.is_set():
                for notification in connection.notifies(timeout=1.0):
                    if notification.payload != self._me:
                        self._hub.wake()
