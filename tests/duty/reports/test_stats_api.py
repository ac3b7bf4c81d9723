"""The statistics endpoints against a seeded cloud-duty, checked against the raw listings."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from station.contracts import utcnow
from tests.support.seeded_city import MANAGED, SeededDuty

pytestmark = pytest.mark.integration
ZONE = ZoneInfo("Asia/Shanghai")


def _all_visits(http: httpx.Client, station_id: str, since: datetime, until: datetime) -> list[Any]:
    rows: list[Any] = []
    while True:
        params: dict[str, str | int] = {
            "station_id": station_id,
            "since": since.isoformat(),
            "until": until.isoformat(),
            "limit": 500,
            "offset": len(rows),
        }
        page = http.get("/api/v1/visits", params=params).raise_for_status().json()
        rows += page["items"]
        if len(rows) >= page["total"]:
            return rows


def test_station_stats_agree_with_the_visit_listing(seeded: SeededDuty) -> None:
    until = utcnow()
    since = until - timedelta(days=30)
    window = {"since": since.isoformat(), "until": until.isoformat()}
    with seeded.server.client() as http:
        stats = http.get("/api/v1/stations/st-003/stats", params=window).raise_for_status().json()
        visits = _all_visits(http, "st-003", since, until)
    entered = [datetime.fromisoformat(v["entered_at"]).astimezone(ZONE) for v in visits]
    assert stats["visits"] == len(visits) > 100
    hours = Counter(e.hour for e in entered)
    assert stats["by_hour"] == [hours.get(h, 0) for h in range(24)]
    days = Counter(e.weekday() for e in entered)
    assert stats["by_weekday"] == [days.get(d, 0) for d in range(7)]
    assert stats["unique_members"] == len({v["member_id"] for v in visits if v["member_id"]})
    finished = [v for v in visits if v["exited_at"]]
    assert sum(b["count"] for b in stats["dwell"]) == len(finished)
    assert sum(b["count"] for b in stats["occupations"]) == len(visits)
    methods = Counter(v["method"] for v in visits)
    assert {b["label"]: b["count"] for b in stats["methods"]} == dict(methods)
    # Realistic shape: the lunch hour is busier than the small hours.
    assert stats["by_hour"][12] > 3 * stats["by_hour"][3]


def test_daily_rows_add_up_to_the_window(seeded: SeededDuty) -> None:
    until = utcnow()
    since = until - timedelta(days=20)
    window = {"since": since.isoformat(), "until": until.isoformat()}
    with seeded.server.client() as http:
        stats = http.get("/api/v1/stations/st-001/stats", params=window).raise_for_status().json()
        daily = http.get(
            "/api/v1/stats/daily", params={**window, "station_id": "st-001"}
        ).raise_for_status()
        alerts = http.get(
            "/api/v1/alerts",
            params={"station_id": "st-001", "since": since.isoformat(), "limit": 500},
        ).raise_for_status()
    rows = daily.json()
    assert {r["station_id"] for r in rows} == {"st-001"}
    assert sum(r["visits"] for r in rows) == stats["visits"]
    assert len(rows) in (20, 21)  # a partial local day at each end of the window
    days_with_visits = {r["day"] for r in rows}
    alerts_per_day = Counter(
        datetime.fromisoformat(a["first_at"]).astimezone(ZONE).date().isoformat()
        for a in alerts.json()["items"]
    )
    for row in rows:
        assert row["alerts"] == alerts_per_day.get(row["day"], 0)
    assert set(alerts_per_day) <= days_with_visits


def test_overview_shows_a_manager_only_their_stations(seeded: SeededDuty) -> None:
    with seeded.manager() as http:
        mine = http.get("/api/v1/stats/overview").raise_for_status().json()
    with seeded.server.client() as http:
        everything = http.get("/api/v1/stats/overview").raise_for_status().json()
        open_alerts = http.get("/api/v1/alerts", params={"status": "open", "limit": 500}).json()
        nodes = http.get("/api/v1/nodes", params={"limit": 500}).json()["items"]
    assert [s["station_id"] for s in mine["stations"]] == MANAGED
    assert (mine["faces"]["network"], everything["faces"]["network"]) == (False, True)
    assert 0 < mine["faces"]["enrolled"] < everything["faces"]["enrolled"]
    assert len(everything["stations"]) == seeded.summary.stations
    by_id = {s["station_id"]: s for s in everything["stations"]}
    opened = Counter(a["station_id"] for a in open_alerts["items"])
    for sid, status in by_id.items():
        assert status["open_alerts"] == opened.get(sid, 0)
        down = [n for n in nodes if n["station_id"] == sid and n["state"] != "online"]
        assert status["nodes_offline"] == len(down)
        expected = "alert" if opened.get(sid) else "offline" if down else None
        if expected:
            assert status["state"] == expected
    assert {s["state"] for s in everything["stations"]} >= {"alert", "full"}


def test_occupancy_curve_ends_at_the_people_inside_now(seeded: SeededDuty) -> None:
    with seeded.server.client() as http:
        overview = http.get("/api/v1/stats/overview").raise_for_status().json()
        full = next(s for s in overview["stations"] if s["state"] == "full")
        curve = http.get(f"/api/v1/stations/{full['station_id']}/stats/occupancy").json()
    assert len(curve) == 24 * 4 + 1
    assert curve[-1]["inside"] == full["inside"] >= full["capacity"]


@pytest.mark.parametrize(
    ("path", "params", "code"),
    [
        ("/api/v1/stations/st-001/stats", {}, 403),  # not the manager's station
        ("/api/v1/stations/st-001/stats/occupancy", {}, 403),
        ("/api/v1/stats/daily", {"station_id": "st-001"}, 403),
        ("/api/v1/stations/st-404/stats", {}, 404),
        ("/api/v1/stations/st-002/stats", {"tz": "Mars/Olympus"}, 422),
        ("/api/v1/stations/st-002/stats", {"tz": "x" * 65}, 422),
        (
            "/api/v1/stations/st-002/stats",
            {"since": "2026-02-01T00:00:00+00:00", "until": "2026-01-01T00:00:00+00:00"},
            422,
        ),
        (
            "/api/v1/stations/st-002/stats",
            {"since": "2020-01-01T00:00:00+00:00", "until": "2026-01-01T00:00:00+00:00"},
            422,
        ),
        ("/api/v1/stations/st-002/stats", {"since": "yesterday"}, 422),
        ("/api/v1/stations/st-002/stats/occupancy", {"day": "2999-01-01"}, 422),
    ],
)
def test_bad_requests_are_refused(
    seeded: SeededDuty, path: str, params: dict[str, str], code: int
) -> None:
    with seeded.manager() as http:
        assert http.get(path, params=params).status_code == code


def test_statistics_need_a_token(seeded: SeededDuty) -> None:
    with httpx.Client(base_url=seeded.server.url) as http:
        assert http.get("/api/v1/stats/overview").status_code == 401
