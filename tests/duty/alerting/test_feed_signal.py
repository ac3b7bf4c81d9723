"""Replicas wake each other's live feeds through PostgreSQL LISTEN/NOTIFY, on a real server."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import text

from station.duty.alerting.feed_signal import FeedSignal
from station.duty.alerting.live_feed import FeedHub
from station.duty.db import make_engine

pytestmark = pytest.mark.integration

WAIT_S = 30.0  # a bound for a loaded machine, not a measure: a wake returns at once


def _woken(hub: FeedHub, act: Callable[[], None], timeout_s: float = WAIT_S) -> bool:
    """Whether a stream waiting on `hub` is woken after `act` runs in another thread."""

    async def scenario() -> bool:
        waiting = asyncio.create_task(hub.wait(timeout_s))
        await asyncio.sleep(0)  # the waiter is registered before the act
        await asyncio.to_thread(act)
        return await waiting

    return asyncio.run(scenario())


def _ready(signal: FeedSignal) -> None:
    assert signal.listening.wait(WAIT_S), "LISTEN never took effect"


@pytest.fixture
def replicas(pg_url: str) -> Iterator[tuple[FeedHub, FeedHub, FeedSignal]]:
    """Two replicas' hubs and signals on one database; the second's signal is returned."""
    engines = [make_engine(pg_url), make_engine(pg_url)]
    hubs = [FeedHub(), FeedHub()]
    signals = [
        FeedSignal(engine, hub, reconnect_s=0.2) for engine, hub in zip(engines, hubs, strict=True)
    ]
    for signal in signals:
        signal.start()
        _ready(signal)
    yield hubs[0], hubs[1], signals[1]
    for signal, engine in zip(signals, engines, strict=True):
        signal.stop()
        engine.dispose()


def test_a_change_on_one_replica_wakes_the_streams_of_another(
    replicas: tuple[FeedHub, FeedHub, FeedSignal],
) -> None:
    first, second, _ = replicas
    assert _woken(second, first.notify)
    assert _woken(first, second.notify)
    # Nothing told, nothing woken: the wait ends on its timeout.
    assert not _woken(second, lambda: None, timeout_s=0.5)


def test_the_listener_comes_back_after_its_connection_is_cut(
    replicas: tuple[FeedHub, FeedHub, FeedSignal], pg_url: str
) -> None:
    first, second, listener = replicas
    engine = make_engine(pg_url)
    cut = threading.Event()

    def cut_listeners() -> None:
        with engine.connect() as connection:
            killed = connection.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
        assert killed == 2
        cut.set()

    # The reconnect wakes the streams by itself: a change made meanwhile is read at once.
    assert _woken(second, cut_listeners)
    assert cut.is_set()
    _ready(listener)
    assert _woken(second, first.notify)
    engine.dispose()


def test_a_database_that_is_gone_leaves_the_change_to_the_poll(pg_url: str) -> None:
    engine = make_engine(pg_url.rsplit("/", 1)[0] + "/no_such_database_here")
    hub = FeedHub()
    signal = FeedSignal(engine, hub, reconnect_s=0.2)
    signal.start()
    try:
        # The local streams still wake; telling the others fails quietly.
        assert _woken(hub, hub.notify)
        assert not signal.listening.is_set()
    finally:
        signal.stop()
        engine.dispose()
