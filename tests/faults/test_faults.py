"""Faults while nodes publish: after each, every event is stored exactly once, alerts are in
the right state, every page is delivered (directly or after failing over), and no node ever
dropped an event from its outbox that was not stored.

Each run picks its random points from a seed it prints; set UWS_FAULT_SEED to replay one.
PostgreSQL is killed on a server of the test's own; the machine's shared one is only cut off.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.faults.harness import (
    RESULTS,
    Ledger,
    ReplicaProcess,
    Site,
    TcpProxy,
    kill_broker,
    settle,
    site,
    tally,
    terminate_backends,
)
from tests.support.private_postgres import PrivatePostgres

pytestmark = pytest.mark.integration

WAN_CUT_S = 60.0  # as long as a mobile uplink's usual outage; longer than every MQTT keepalive


def _start_nodes(s: Site) -> None:
    for node in s.nodes:
        node.start()


def broker_killed(s: Site, rng: random.Random) -> None:
    """kill -9 the broker mid-stream and start it again."""
    _start_nodes(s)
    time.sleep(rng.uniform(0.5, 1.5))
    kill_broker(s.broker)
    time.sleep(rng.uniform(0.3, 1.5))
    s.broker.start()


def replica_killed(s: Site, rng: random.Random) -> None:
    """kill -9 one of two replicas sharing the subscription."""
    second = ReplicaProcess(s.pg_url, s.broker.port, "duty-b", s.tmp, s.provider.url)
    s.stack.callback(second.stop)
    second.wait_ready()
    _start_nodes(s)
    time.sleep(rng.uniform(0.3, 1.5))
    second.kill()


def postgres_cut(s: Site, rng: random.Random) -> None:
    """Terminate every database connection, three times."""
    database = s.pg_url.rsplit("/", 1)[1]
    _start_nodes(s)
    for _ in range(3):
        time.sleep(rng.uniform(0.2, 0.8))
        terminate_backends(s.engine, database)


def postgres_killed(s: Site, rng: random.Random) -> None:
    """kill -9 PostgreSQL (the server and every backend) mid-stream, then start it again."""
    assert s.postgres is not None
    _start_nodes(s)
    time.sleep(rng.uniform(0.3, 1.5))
    s.postgres.kill()
    time.sleep(rng.uniform(1.0, 3.0))
    s.postgres.start()


def edge_killed(s: Site, rng: random.Random) -> None:
    """kill -9 a node mid-stream and start it again on the same outbox."""
    _start_nodes(s)
    time.sleep(rng.uniform(0.5, 1.5))
    s.nodes[0].kill()
    time.sleep(rng.uniform(0.2, 1.0))
    s.nodes[0].start()


def _behind_wan(s: Site) -> TcpProxy:
    proxy = TcpProxy(s.broker.port)
    proxy.restore()
    s.stack.callback(proxy.cut)
    s.nodes[0].port = proxy.port
    return proxy


def wan_cut(s: Site, rng: random.Random) -> None:
    """Cut a node's WAN for a minute."""
    proxy = _behind_wan(s)
    _start_nodes(s)
    time.sleep(rng.uniform(0.3, 1.0))
    proxy.cut()
    time.sleep(WAN_CUT_S)
    proxy.restore()


def outbox_full(s: Site, rng: random.Random) -> None:
    """A node cut off past its outbox cap, a heartbeat per event: events must all survive."""
    proxy = _behind_wan(s)
    s.nodes[0].max_rows, s.nodes[0].health_every = 5, 1
    _start_nodes(s)
    time.sleep(rng.uniform(0.2, 0.5))
    proxy.cut()
    time.sleep(rng.uniform(2.5, 3.5))
    proxy.restore()


def sms_timeout(s: Site, _rng: random.Random) -> None:
    """The SMS provider hangs: every page must fail over to the voice call."""
    s.provider.slow = {"SendSms"}
    _start_nodes(s)


FAULTS: dict[str, Callable[[Site, random.Random], None]] = {
    "broker kill -9": broker_killed,
    "replica kill -9": replica_killed,
    "postgres connections cut": postgres_cut,
    "postgres kill -9": postgres_killed,
    "edge kill -9": edge_killed,
    "WAN cut": wan_cut,
    "outbox cap": outbox_full,
    "SMS provider timeout": sms_timeout,
}


def _site_for(fault: str, tmp: Path, pg_url: str, stack: ExitStack) -> Site:
    """The site, on a PostgreSQL server of its own where the fault kills the server."""
    if fault != "postgres kill -9":
        return stack.enter_context(site(tmp, pg_url))
    postgres = PrivatePostgres()
    stack.callback(postgres.stop)
    postgres.start()
    return stack.enter_context(site(tmp, postgres.create_database("faults"), postgres=postgres))


@pytest.mark.parametrize("fault", list(FAULTS))
def test_nothing_lost_or_doubled(fault: str, tmp_path: Path, pg_url: str) -> None:
    seed = int(os.environ.get("UWS_FAULT_SEED") or random.SystemRandom().randrange(1, 2**31))
    print(f"fault {fault!r}: seed {seed} (replay: UWS_FAULT_SEED={seed})")
    with ExitStack() as own:
        s = _site_for(fault, tmp_path, pg_url, own)
        ledger = Ledger(s.engine, s.nodes)
        with ledger.watching():
            FAULTS[fault](s, random.Random(seed))
            settle(s, ledger)
        result = tally(s, ledger, fault, seed)
    RESULTS.append(result)
    assert result.violations == [], f"seed {seed}"
    assert (result.lost, result.duplicated, result.stored) == (0, 0, result.produced)
    assert ledger.checks > 1
    assert result.pages_delivered == 3 * len(s.nodes)
    if fault == "SMS provider timeout":
        assert result.pages_failed_over == result.pages_delivered
