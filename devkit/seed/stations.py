"""`station seed`: fill cloud-duty's database with a realistic city of stations for demos.

Stations in Shenzhen's districts, nodes with health, members with occupations, visits with
a lunch and evening peak, lognormal stays, and alerts with staff verdicts. Everything is
generated with numpy and written in bulk (COPY on PostgreSQL), so 50 stations x 365 days
(about a million visits) takes tens of seconds, not hours.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import Connection, Engine, func, select

from devkit.seed import alerts as seeded_alerts
from devkit.seed.bulk import bulk, table_of
from devkit.seed.options import SeedError, SeedOptions, SeedSummary
from station.contracts import CameraHealth, NodeHealth
from station.duty.alerting.snapshots import SnapshotStorage
from station.duty.fleet.models import Node, NodeState, Station
from station.duty.people.consents import current as current_consent_text
from station.duty.people.models import ConsentKind, ConsentRecord, Member, VisitRecord

logger = logging.getLogger(__name__)

CITY_TZ = ZoneInfo("Asia/Shanghai")
# Shenzhen districts and their rough centres (lat, lon).
DISTRICTS = {
    "Futian": (22.541, 114.055),
    "Luohu": (22.548, 114.131),
    "Nanshan": (22.533, 113.930),
    "Bao'an": (22.555, 113.884),
    "Longgang": (22.721, 114.247),
    "Longhua": (22.657, 114.045),
}
STREETS = ("Shennan Rd", "Binhe Ave", "Hongli Rd", "Beihuan Ave", "Xinzhou Rd", "Bulong Rd")
OCCUPATIONS = {
    "courier": 0.30,
    "food delivery rider": 0.28,
    "sanitation worker": 0.16,
    "construction worker": 0.10,
    "ride-hailing driver": 0.08,
    "security guard": 0.05,
    "": 0.03,
}
PLATFORMS = ("Meituan", "Ele.me", "SF Express", "JD Logistics", "city sanitation", "")
# Relative visits by local hour: quiet nights, a lunch peak and an evening peak.
HOURLY = np.array(
    [2, 1, 1, 1, 1, 2, 4, 6, 7, 7, 9, 14, 16, 12, 9, 8, 9, 12, 14, 11, 8, 6, 4, 3], dtype=float
)
WEEKDAY = np.array([1.0, 1.0, 1.0, 1.0, 1.05, 0.85, 0.75])


def seed(
    engine: Engine, options: SeedOptions, now: datetime, snapshots: SnapshotStorage | None = None
) -> SeedSummary:
    """Generate and insert everything in one transaction; refuse a non-empty registry."""
    rng = np.random.default_rng(options.random_seed)
    with engine.begin() as conn:
        if conn.execute(select(func.count()).select_from(table_of(Station))).scalar_one():
            raise SeedError("the database already has stations: seed a fresh database")
        stations = _stations(rng, options.stations, now)
        bulk(conn, table_of(Station), stations)
        nodes = _nodes(rng, stations, now)
        bulk(conn, table_of(Node), nodes)
        member_ids = _members(conn, rng, stations, options.members_per_station, now)
        visits = _visits(conn, rng, stations, nodes, member_ids, options, now)
        alerts, events = seeded_alerts.alerts(conn, rng, stations, nodes, options, now)
    written = seeded_alerts.snapshots(events, now, options.media_dir, snapshots)
    logger.info("seeded %d stations, %d visits, %d alerts", len(stations), visits, alerts)
    return SeedSummary(len(stations), len(nodes), len(member_ids), visits, alerts, written)


def _stations(rng: np.random.Generator, count: int, now: datetime) -> list[dict[str, Any]]:
    names = list(DISTRICTS)
    rows = []
    for i in range(count):
        district = names[i % len(names)]
        lat, lon = DISTRICTS[district]
        rows.append(
            {
                "id": f"st-{i + 1:03d}",
                "name": f"{district} {STREETS[i % len(STREETS)]} No.{i + 1}",
                "region": district,
                "capacity": int(rng.integers(8, 31)),
                "latitude": round(lat + float(rng.normal(0, 0.025)), 5),
                "longitude": round(lon + float(rng.normal(0, 0.03)), 5),
                "created_at": now - timedelta(days=800),
            }
        )
    return rows


def _nodes(
    rng: np.random.Generator, stations: list[dict[str, Any]], now: datetime
) -> list[dict[str, Any]]:
    rows = []
    for station in stations:
        count = 2 if rng.random() < 0.2 else 1
        for k in range(count):
            node_id = f"node-{station['id'][3:]}-{'ab'[k]}"
            online = rng.random() > 0.06
            seen = now - timedelta(seconds=float(rng.uniform(1, 25)))
            if not online:
                seen = now - timedelta(hours=float(rng.uniform(1, 30)))
            rows.append(
                {
                    "id": node_id,
                    "station_id": station["id"],
                    "name": f"{station['name']} box {k + 1}",
                    "state": (NodeState.ONLINE if online else NodeState.OFFLINE).value,
                    "version": "0.1.0",
                    "last_seen_at": seen,
                    "health": _health(rng, node_id, seen, online),
                    "created_at": now - timedelta(days=800),
                }
            )
    return rows


def _health(rng: np.random.Generator, node_id: str, at: datetime, online: bool) -> dict[str, Any]:
    cameras = []
    for c in range(int(rng.integers(1, 4))):
        connected = online and rng.random() > 0.08
        cameras.append(
            CameraHealth(
                camera_id=f"cam-{c + 1}",
                connected=connected,
                fps=round(float(rng.uniform(9, 15)), 1) if connected else 0.0,
                reconnects=int(rng.poisson(0.5 if connected else 6)),
            )
        )
    health = NodeHealth(
        node_id=node_id,
        ts=at,
        uptime_s=float(rng.uniform(3600, 30 * 86400)),
        inference_ms=round(float(rng.lognormal(np.log(28), 0.3)), 1),
        cpu_percent=round(float(rng.uniform(15, 85)), 1),
        memory_mb=round(float(rng.uniform(600, 1800)), 0),
        temperature_c=round(float(rng.uniform(42, 78)), 1),
        outbox_depth=0 if online else int(rng.integers(20, 900)),
        cameras=cameras,
    )
    result: dict[str, Any] = json.loads(health.model_dump_json(by_alias=True))
    return result


def _members(
    conn: Connection,
    rng: np.random.Generator,
    stations: list[dict[str, Any]],
    per_station: int,
    now: datetime,
) -> list[str]:
    count = len(stations) * per_station
    jobs = rng.choice(list(OCCUPATIONS), size=count, p=list(OCCUPATIONS.values()))
    platforms = rng.choice(PLATFORMS, size=count)
    ids = [f"m-{i + 1:06d}" for i in range(count)]
    rows = [
        {
            "id": ids[i],
            "occupation": str(jobs[i]),
            "employer_platform": str(platforms[i]),
            "phone_hash": None,
            "station_id": stations[i // per_station]["id"],
            "created_at": now - timedelta(days=int(rng.integers(1, 800))),
        }
        for i in range(count)
    ]
    bulk(conn, table_of(Member), rows)
    # A third gave separate, recorded consent to face entry at their home station.
    face_text = current_consent_text(ConsentKind.FACE)
    consents = [
        {
            "member_id": ids[i],
            "kind": "face",
            "text_version": face_text.version,
            "text_sha256": face_text.sha256,
            "station_id": stations[i // per_station]["id"],
            "granted_at": rows[i]["created_at"],
            "withdrawn_at": None,
        }
        for i in range(0, count, 3)
    ]
    bulk(conn, table_of(ConsentRecord), consents)
    return ids


def _day_starts(days: int, now: datetime) -> np.ndarray:
    """Epoch seconds of each local midnight, oldest first, today last."""
    today = now.astimezone(CITY_TZ).date()
    starts = [
        datetime.combine(today - timedelta(days=d), time(), CITY_TZ).timestamp()
        for d in range(days - 1, -1, -1)
    ]
    return np.array(starts, dtype=np.int64)


def _visit_times(
    rng: np.random.Generator, stations: int, options: SeedOptions, now: datetime
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Station index, entry and exit (epoch s) of every visit up to now."""
    starts = _day_starts(options.days, now)
    weekday = np.array([WEEKDAY[datetime.fromtimestamp(s, CITY_TZ).weekday()] for s in starts])
    rate = rng.lognormal(np.log(options.visits_per_day), 0.45, size=stations)
    counts = rng.poisson(np.outer(rate, weekday))
    station_ix = np.repeat(np.arange(stations), counts.sum(axis=1))
    day_ix = np.concatenate([np.repeat(np.arange(len(starts)), row) for row in counts])
    hours = rng.choice(24, size=len(day_ix), p=HOURLY / HOURLY.sum())
    entered = starts[day_ix] + hours * 3600 + rng.integers(0, 3600, size=len(day_ix))
    stay = np.clip(rng.lognormal(np.log(18 * 60), 0.75, size=len(day_ix)), 60, 5 * 3600)
    exited = entered + stay.astype(np.int64)
    keep = entered < int(now.timestamp())
    return station_ix[keep], entered[keep], exited[keep]


def _visits(
    conn: Connection,
    rng: np.random.Generator,
    stations: list[dict[str, Any]],
    nodes: list[dict[str, Any]],
    member_ids: list[str],
    options: SeedOptions,
    now: datetime,
) -> int:
    station_ix, entered, exited = _visit_times(rng, len(stations), options, now)
    per = options.members_per_station
    # Most visitors use their home station; some pass through others.
    pick = np.where(
        rng.random(len(entered)) < 0.85,
        station_ix * per + rng.integers(0, per, size=len(entered)),
        rng.integers(0, len(member_ids), size=len(entered)),
    )
    anonymous = rng.random(len(entered)) < 0.15
    face = rng.random(len(entered)) < 0.35
    first_node = {n["station_id"]: n["id"] for n in reversed(nodes)}
    now_s = int(now.timestamp())
    rows = []
    for i in range(len(entered)):
        sid = stations[int(station_ix[i])]["id"]
        member = None if anonymous[i] else member_ids[int(pick[i])]
        left = None if exited[i] > now_s else datetime.fromtimestamp(int(exited[i]), UTC)
        rows.append(
            {
                "id": f"v-{i + 1:08d}",
                "node_id": first_node[sid],
                "station_id": sid,
                "member_id": member,
                "method": "unknown" if member is None else ("face" if face[i] else "qr"),
                "entered_at": datetime.fromtimestamp(int(entered[i]), UTC),
                "exited_at": left,
            }
        )
    rows += _crowd_now(rng, stations, first_node, now, len(rows))
    bulk(conn, table_of(VisitRecord), rows)
    return len(rows)


def _crowd_now(
    rng: np.random.Generator,
    stations: list[dict[str, Any]],
    first_node: dict[str, str],
    now: datetime,
    offset: int,
) -> list[dict[str, Any]]:
    """Fill every seventh station to its capacity now, so the map shows full stations."""
    rows = []
    for station in stations[3::7]:
        for _ in range(int(station["capacity"])):
            offset += 1
            rows.append(
                {
                    "id": f"v-{offset:08d}",
                    "node_id": first_node[station["id"]],
                    "station_id": station["id"],
                    "member_id": None,
                    "method": "unknown",
                    "entered_at": now - timedelta(minutes=float(rng.uniform(1, 40))),
                    "exited_at": None,
                }
            )
    return rows
