"""Scale: simulated nodes (a heartbeat, events, every tenth node a burst) into 1 and 2
cloud-duty replicas on PostgreSQL, and the raw broker rate of the same messages in the same run.

Each node has its own station, so its first event opens an alert: the time from that event's
publish to its alert on the SSE feed (of the first replica) is the latency sample. Publishers
are separate processes, each speaking for a share of the nodes with QoS 1. Prints JSON:
persisted msg/s, p50/p99 event -> SSE, lost, duplicated, and the ratio to the raw rate.

    .venv/bin/python bench/scale.py --nodes 1000          # the default suits a 2-core machine
    .venv/bin/python bench/scale.py --nodes 10000 --publishers 8
    .venv/bin/python bench/scale.py --nodes 10000 --events 1 --rate 500   # paced: latency

Unpaced, it measures the most the replicas persist against the raw broker rate; paced at a
rate they can take, the event -> SSE latency is that of the pipeline, not of a backlog.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import random
import subprocess
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import text
from sqlmodel import Session

from bench.alert_latency import Arrivals, read_feed, start_duty, summary
from devkit.localbroker import LocalBroker
from devkit.processes import stop_process
from station.contracts import (
    Event,
    EventKind,
    EventPhase,
    NodeHealth,
    NodeTopics,
    TopicKind,
    utcnow,
)
from station.duty.db import make_engine, migrate
from station.duty.fleet.models import NodeCreate, StationCreate
from station.duty.fleet.registry import create_node, create_station
from tests.support.database import fresh_database


class FirstEvents(Arrivals):
    """SSE arrivals keyed by the node's first event: the feed names an alert's latest event,
    which by then may be a later one of the same node."""

    def saw(self, event_id: str | None, when: float) -> None:
        """Keep the first arrival of any alert change of the node."""
        if event_id and event_id.startswith("sc-"):
            with self.lock:
                self.at.setdefault(event_id.rsplit("-e", 1)[0] + "-e000", when)


def node_id(i: int) -> str:
    """Id of simulated node i."""
    return f"sc-{i:05d}"


Message = tuple[str, bytes, str | None]


def has_events(i: int, every: int) -> bool:
    """Whether node i publishes events (every `every`-th node; the rest only heartbeats)."""
    return i % every == 0


def node_messages(i: int, events: int, burst: int, every: int = 1) -> list[Message]:
    """(topic, payload, first-event id or None) of node i: heartbeat, events, maybe a burst."""
    node, now = node_id(i), utcnow()
    topics = NodeTopics(node)
    beat = NodeHealth(
        node_id=node,
        ts=now,
        uptime_s=1,
        inference_ms=40,
        cpu_percent=30,
        memory_mb=400,
        outbox_depth=0,
    )
    out: list[Message] = [(topics.topic(TopicKind.HEALTH), beat.to_payload(), None)]
    bursting = (i // every) % 10 == 0  # every tenth node that has events bursts
    count = (events + (burst if bursting else 0)) if has_events(i, every) else 0
    for n in range(count):
        event = Event(
            event_id=f"{node}-e{n:03d}",
            node_id=node,
            camera_id="cam-1",
            kind=EventKind.FALL,
            phase=EventPhase.NEW,
            seq=0,
            ts=now,
            started_at=now - timedelta(seconds=1),
            score=0.9,
            zone="z0",
        )
        first = event.event_id if n == 0 else None
        out.append((topics.topic(TopicKind.EVENT), event.to_payload(), first))
    return out


def spread(per_node: list[list[Message]], seed: int) -> list[Message]:
    """Each node's heartbeat, and its events as one burst, at random points of the run (the
    same points every run), so a paced run is a fleet's ordinary traffic, not all of its
    heartbeats followed by an alert storm. A node's own messages keep their order."""
    rng = random.Random(seed)
    placed: list[tuple[float, int, Message]] = []
    for messages in per_node:
        beat, events = rng.random(), rng.random()
        placed.append((beat, 0, messages[0]))
        placed += [(max(beat, events), k, m) for k, m in enumerate(messages[1:], 1)]
    placed.sort(key=lambda item: (item[0], item[1]))
    return [m for _, _, m in placed]


def publisher(port: int, share: list[int], args: Any, go: Any, done: Any) -> None:
    """Connect, wait for `go`, publish the share's messages with QoS 1, report send times."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"sc-pub-{share[0]}")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    per_node = [node_messages(i, args.events, args.burst, args.events_every) for i in share]
    messages = spread(per_node, seed=share[0])
    # Paced: this publisher's share of the total rate; 0 publishes as fast as it can.
    gap = args.publishers / args.rate if args.rate else 0.0
    go.wait()
    sent: dict[str, float] = {}
    infos = []
    start = time.perf_counter()
    for n, (topic, payload, first) in enumerate(messages):
        if gap and (ahead := start + n * gap - time.perf_counter()) > 0:
            time.sleep(ahead)
        if first is not None:
            sent[first] = time.perf_counter()  # CLOCK_MONOTONIC: one clock for every process
        infos.append(client.publish(topic, payload, qos=1))
    for info in infos:
        info.wait_for_publish(timeout=120)
    done.put(sent)
    client.loop_stop()
    client.disconnect()


def total_messages(args: argparse.Namespace) -> tuple[int, int]:
    """(messages, events) the run publishes."""
    alerting = [i for i in range(args.nodes) if has_events(i, args.events_every)]
    bursts = sum(1 for i in alerting if (i // args.events_every) % 10 == 0)
    events = len(alerting) * args.events + bursts * args.burst
    return events + args.nodes, events


def publish_all(port: int, args: argparse.Namespace) -> tuple[float, dict[str, float]]:
    """Run the publisher processes; return the start time and every first event's send time."""
    ctx = mp.get_context("spawn")
    go, done = ctx.Event(), ctx.Queue()
    shares = [list(range(p, args.nodes, args.publishers)) for p in range(args.publishers)]
    procs = [ctx.Process(target=publisher, args=(port, s, args, go, done)) for s in shares if s]
    for proc in procs:
        proc.start()
    time.sleep(args.warmup)  # the publishers import, build their messages and connect
    started = time.perf_counter()
    go.set()
    sent: dict[str, float] = {}
    for _ in procs:
        sent.update(done.get(timeout=600))
    for proc in procs:
        proc.join(timeout=60)
    return started, sent


def raw_rate(port: int, args: argparse.Namespace) -> dict[str, Any]:
    """Baseline: the same messages through the same broker to a plain paho subscriber."""
    expected, _ = total_messages(args)
    got, last = [0], [0.0]

    def on_message(_c: mqtt.Client, _u: object, _m: mqtt.MQTTMessage) -> None:
        got[0] += 1
        last[0] = time.perf_counter()

    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="sc-raw-sub")
    sub.on_message = on_message
    sub.connect("127.0.0.1", port)
    sub.subscribe("uws/v1/#", qos=1)
    sub.loop_start()
    started, _ = publish_all(port, args)
    deadline = time.monotonic() + args.timeout
    while got[0] < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    sub.loop_stop()
    sub.disconnect()
    window = max(last[0] - started, 1e-6)
    return {"received": got[0], "expected": expected, "msg_per_s": round(got[0] / window, 1)}


def prepare(db_url: str, nodes: int) -> None:
    """Migrate, and register one station and node per simulated node."""
    engine = make_engine(db_url)
    migrate(engine)
    for start in range(0, nodes, 200):
        # A short session per chunk: one long one re-reads all it holds after each commit.
        with Session(engine) as session:
            for i in range(start, min(start + 200, nodes)):
                create_station(session, StationCreate(id=f"st-{node_id(i)}", name=node_id(i)))
                create_node(session, NodeCreate(id=node_id(i), station_id=f"st-{node_id(i)}"))
    engine.dispose()


def persisted(urls: list[str]) -> int:
    """Messages the replicas have written so far."""
    return sum(int(httpx.get(f"{u}/healthz", timeout=10).json()["persisted"]) for u in urls)


def duty_run(port: int, replicas: int, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """Publish into `replicas` replicas on a fresh database; measure rate, latency, losses."""
    expected, events = total_messages(args)
    with fresh_database("uws_scale") as db_url:
        prepare(db_url, args.nodes)
        procs: list[subprocess.Popen[bytes]] = []
        try:
            urls = []
            for r in range(replicas):
                env = [f"UWS_MQTT_CLIENT_ID=scale-{r}", f"UWS_FEED_POLL_S={args.feed_poll_s}"]
                folder = tmp / f"duty-{replicas}-{r}"
                folder.mkdir()
                proc, url = start_duty(db_url, port, folder, env + args.duty_env, ready_s=240)
                procs.append(proc)
                urls.append(url)
            feed, opened, stop = FirstEvents(), threading.Event(), threading.Event()
            threading.Thread(
                target=read_feed, args=(urls[0], feed, opened, stop), daemon=True
            ).start()
            opened.wait(30)
            started, sent = publish_all(port, args)
            deadline = time.monotonic() + args.timeout
            while persisted(urls) < expected and time.monotonic() < deadline:
                time.sleep(0.05)
            finished = time.perf_counter()
            time.sleep(2 * args.feed_poll_s)
            stop.set()
            stored, folded = _stored(db_url)
        finally:
            for proc in procs:
                proc.terminate()  # all at once: they stop together
            for proc in procs:
                stop_process(proc)
    window = finished - started
    return {
        "replicas": replicas,
        "persisted_msg_per_s": round(expected / window, 1),
        "event_to_sse": summary(sent, feed),
        "lost": events - stored,
        "duplicated": max(0, folded - stored),
    }


def _stored(db_url: str) -> tuple[int, int]:
    engine = make_engine(db_url)
    with engine.connect() as conn:
        stored = int(conn.execute(text("SELECT count(*) FROM event")).scalar_one())
        folded = int(conn.execute(text("SELECT coalesce(sum(count), 0) FROM alert")).scalar_one())
    engine.dispose()
    return stored, folded


def main() -> None:
    """Measure raw, then 1 and 2 replicas; print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1000, help="simulated nodes (issue: 10000)")
    parser.add_argument("--events", type=int, default=3, help="events per node")
    parser.add_argument("--burst", type=int, default=10, help="extra events of every 10th node")
    parser.add_argument(
        "--events-every", type=int, default=1, help="only every n-th node has events (1: all)"
    )
    parser.add_argument("--publishers", type=int, default=2, help="publisher processes")
    parser.add_argument(
        "--rate", type=float, default=0, help="total msg/s to pace at (0: as fast as possible)"
    )
    parser.add_argument("--replicas", default="1,2", help="replica counts to run")
    parser.add_argument(
        "--feed-poll-s", type=float, default=1.0, help="UWS_FEED_POLL_S (the product default)"
    )
    parser.add_argument("--warmup", type=float, default=8, help="publisher start-up (s)")
    parser.add_argument("--timeout", type=float, default=300, help="wait for stragglers (s)")
    parser.add_argument("--duty-env", action="append", default=[], metavar="UWS_NAME=VALUE")
    args = parser.parse_args()
    expected, events = total_messages(args)
    with tempfile.TemporaryDirectory() as tmp:
        broker = LocalBroker(Path(tmp) / "broker")
        broker.start()
        try:
            raw = raw_rate(broker.port, args)
            runs = [
                duty_run(broker.port, int(r), args, Path(tmp)) for r in args.replicas.split(",")
            ]
        finally:
            broker.stop()
    for run in runs:
        run["ratio_to_raw"] = round(run["persisted_msg_per_s"] / max(raw["msg_per_s"], 1e-6), 3)
    print(
        json.dumps(
            {
                "bench": "scale",
                "nodes": args.nodes,
                "messages": expected,
                "events": events,
                "nodes_with_events": len(range(0, args.nodes, args.events_every)),
                "publishers": args.publishers,
                "paced_msg_per_s": args.rate or None,
                "feed_poll_s": args.feed_poll_s,
                "raw_paho": raw,
                "duty": runs,
                "target": {"ratio_to_raw": 0.8, "p99_ms": 500},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
