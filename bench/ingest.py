"""Ingest throughput: simulated nodes -> Mosquitto -> cloud-duty on PostgreSQL.

Prints JSON with messages persisted per second, beside the raw paho publish-to-subscribe
rate through the same broker with the same publishers, measured in the same run.

    .venv/bin/python bench/ingest.py --nodes 200 --messages 40000
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlmodel import Session, func, select

from devkit.localbroker import LocalBroker
from station.contracts import (
    Event,
    EventKind,
    EventPhase,
    NodeHealth,
    NodeTopics,
    TopicKind,
    subscription,
    utcnow,
)
from station.duty.alerting.models import EventRecord
from station.duty.clock import SystemClock
from station.duty.db import make_engine, migrate
from station.duty.fleet.ingest import IngestPipeline
from station.duty.fleet.models import Node, NodeCreate, StationCreate
from station.duty.fleet.node_link import MqttIngest
from station.duty.fleet.registry import NodeDirectory, create_node, create_station
from station.duty.settings import DutySettings
from tests.support.database import fresh_database


def node_id(i: int) -> str:
    """Id of simulated node i."""
    return f"bench-node-{i:05d}"


def messages_for(
    worker: int, workers: int, nodes: int, total: int, event_share: float
) -> list[tuple[str, bytes]]:
    """Build this worker's share of (topic, payload): heartbeats, and events in new/end pairs."""
    out: list[tuple[str, bytes]] = []
    now = utcnow()
    for k in range(worker, total, workers):
        node = node_id(k % nodes)
        topics = NodeTopics(node)
        rnd, every = k // nodes, max(2, round(2 / event_share)) if event_share else 0
        if every and rnd % every in (0, 1):
            # Two rounds in `every` carry events: one opens, the next ends the same event.
            phase = EventPhase.NEW if rnd % every == 0 else EventPhase.END
            msg: Event | NodeHealth = Event(
                event_id=f"ev-{node}-{rnd - rnd % every}",
                node_id=node,
                camera_id="cam-1",
                kind=EventKind.FALL,
                phase=phase,
                seq=0 if phase is EventPhase.NEW else 1,
                ts=now + timedelta(milliseconds=k),
                started_at=now,
                score=0.9,
                zone=f"zone-{k % 3}",
            )
            out.append((topics.topic(TopicKind.EVENT), msg.to_payload()))
        else:
            beat = NodeHealth(
                node_id=node,
                ts=now,
                uptime_s=k,
                inference_ms=40.0,
                cpu_percent=30.0,
                memory_mb=400.0,
                outbox_depth=0,
            )
            out.append((topics.topic(TopicKind.HEALTH), beat.to_payload()))
    return out


def publisher(port: int, worker: int, args: argparse.Namespace, ready, go) -> None:  # type: ignore[no-untyped-def]
    """One publisher process: connect, wait for go, publish its share at QoS 1."""
    batch = messages_for(worker, args.publishers, args.nodes, args.messages, args.event_share)
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{worker}-{uuid.uuid4().hex[:6]}"
    )
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    ready.put(worker)
    go.wait()
    infos = [client.publish(topic, payload, qos=1) for topic, payload in batch]
    for info in infos:
        info.wait_for_publish(timeout=120)
    client.disconnect()
    client.loop_stop()


def run_publishers(port: int, args: argparse.Namespace) -> float:
    """Start the publishers, release them together, and return the release time."""
    ctx = mp.get_context("spawn")
    ready, go = ctx.Queue(), ctx.Event()
    procs = [
        ctx.Process(target=publisher, args=(port, w, args, ready, go))
        for w in range(args.publishers)
    ]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=120)
    started = time.perf_counter()
    go.set()
    run_publishers.procs = procs  # type: ignore[attr-defined]
    return started


def join_publishers() -> None:
    """Wait for the publisher processes."""
    for p in run_publishers.procs:  # type: ignore[attr-defined]
        p.join(timeout=300)


def raw_baseline(port: int, args: argparse.Namespace) -> dict[str, float]:
    """Raw paho: one subscriber on the same topics, counting arrivals."""
    received = 0
    done = threading.Event()
    last = 0.0

    def on_message(_c: mqtt.Client, _u: object, _m: mqtt.MQTTMessage) -> None:
        nonlocal received, last
        received += 1
        last = time.perf_counter()
        if received >= args.messages:
            done.set()

    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-raw-sub", protocol=mqtt.MQTTv5)
    sub.on_message = on_message
    sub.connect("127.0.0.1", port)
    sub.subscribe([(subscription(k, "raw"), 1) for k in (TopicKind.EVENT, TopicKind.HEALTH)])
    sub.loop_start()
    time.sleep(1)
    started = run_publishers(port, args)
    done.wait(timeout=args.timeout)
    join_publishers()
    sub.disconnect()
    sub.loop_stop()
    seconds = last - started
    return {
        "received": received,
        "seconds": round(seconds, 3),
        "per_second": round(received / seconds, 1),
    }


def duty_ingest(port: int, db_url: str, args: argparse.Namespace) -> dict[str, float]:
    """cloud-duty's ingest on PostgreSQL: wait until every message is persisted."""
    engine = make_engine(db_url)
    migrate(engine)
    with Session(engine) as session:
        create_station(session, StationCreate(id="bench-st", name="bench"))
        for i in range(args.nodes):
            create_node(session, NodeCreate(id=node_id(i), station_id="bench-st"))
    settings = DutySettings(
        database_url=db_url,
        mqtt_port=port,
        mqtt_client_id="bench-duty",
        ingest_batch_size=args.batch_size,
    )
    pipeline = IngestPipeline(engine, SystemClock(), NodeDirectory(10))
    ingest = MqttIngest(settings, pipeline)
    ingest.start()
    ingest.connected.wait(10)
    time.sleep(1)
    started = run_publishers(port, args)
    deadline = time.perf_counter() + args.timeout
    stats = pipeline.stats
    while stats.persisted + stats.rejected < args.messages and time.perf_counter() < deadline:
        time.sleep(0.005)
    finished = time.perf_counter()
    join_publishers()
    ingest.stop()
    with Session(engine) as session:
        events = session.exec(select(func.count()).select_from(EventRecord)).one()
        online = session.exec(
            select(func.count()).select_from(Node).where(Node.state == "online")
        ).one()
    engine.dispose()
    seconds = finished - started
    return {
        "persisted": pipeline.stats.persisted,
        "rejected": pipeline.stats.rejected,
        "batches": pipeline.stats.batches,
        "events_in_db": events,
        "nodes_online": online,
        "seconds": round(seconds, 3),
        "per_second": round(pipeline.stats.persisted / seconds, 1),
    }


def main() -> None:
    """Run the baseline and cloud-duty's ingest through one broker; print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=200, help="simulated nodes")
    parser.add_argument("--messages", type=int, default=40_000, help="messages per phase")
    parser.add_argument("--publishers", type=int, default=2, help="publisher processes")
    parser.add_argument("--event-share", type=float, default=0.1, help="share of events")
    parser.add_argument("--batch-size", type=int, default=500, help="ingest batch size")
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, fresh_database("uws_bench") as db_url:
        broker = LocalBroker(Path(tmp))
        broker.start()
        try:
            raw = raw_baseline(broker.port, args)
            duty = duty_ingest(broker.port, db_url, args)
        finally:
            broker.stop()
    print(
        json.dumps(
            {
                "bench": "ingest",
                "nodes": args.nodes,
                "messages": args.messages,
                "event_share": args.event_share,
                "raw_paho": raw,
                "cloud_duty_postgres": duty,
                "ratio_to_raw": round(duty["per_second"] / raw["per_second"], 3),
                "target_per_second": 3300,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
