"""Altair charts for the dashboard: each is a plain function of API data, readable at a glance."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import altair as alt
import pandas as pd

from dashboard.models import Alert, Bucket, DailyRow, OccupancyPoint, StationStatus

STATE_COLOURS = {"alert": "#d62728", "offline": "#7f7f7f", "full": "#ff7f0e", "ok": "#2ca02c"}
STATE_LABELS = {
    "alert": "open alert",
    "offline": "node offline",
    "full": "full",
    "ok": "open, all well",
}
VERDICT_COLOURS = {"confirmed": "#d62728", "false_alarm": "#1f77b4", "not judged": "#bbbbbb"}
# altair's fluent builders are untyped (they return Any); a chart is whatever they build.
Chart = Any
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def station_map(stations: Sequence[StationStatus]) -> Chart:
    """Stations on longitude/latitude, coloured by state (no tiles: works offline)."""
    rows = [
        {
            "station": s.name,
            "id": s.station_id,
            "longitude": s.longitude,
            "latitude": s.latitude,
            "state": STATE_LABELS[s.state],
            "inside": s.inside,
            "capacity": s.capacity,
            "visits today": s.visits_today,
            "open alerts": s.open_alerts,
        }
        for s in stations
        if s.latitude is not None and s.longitude is not None
    ]
    frame = pd.DataFrame(rows)
    states = [STATE_LABELS[k] for k in STATE_COLOURS]
    colour = alt.Color(
        "state:N",
        scale=alt.Scale(domain=states, range=list(STATE_COLOURS.values())),
        legend=alt.Legend(title="State", orient="top"),
    )
    base = alt.Chart(frame).encode(
        x=alt.X("longitude:Q", scale=alt.Scale(zero=False, padding=30), title="longitude"),
        y=alt.Y("latitude:Q", scale=alt.Scale(zero=False, padding=30), title="latitude"),
    )
    points = base.mark_circle(size=260, opacity=0.9, stroke="white", strokeWidth=1.5).encode(
        color=colour, tooltip=list(frame.columns) if rows else []
    )
    labels = base.mark_text(align="left", dx=10, dy=-8, fontSize=11, color="#444").encode(
        text="id:N"
    )
    return (points + labels).properties(height=460)


def occupancy_line(points: Sequence[OccupancyPoint], capacity: int | None, tz: str) -> Chart:
    """People inside over the last day, with the room's capacity as a line."""
    frame = pd.DataFrame(
        {
            "time": [pd.Timestamp(p.at).tz_convert(tz).tz_localize(None) for p in points],
            "inside": [p.inside for p in points],
        }
    )
    area = (
        alt.Chart(frame)
        .mark_area(line=True, opacity=0.4, interpolate="step-after")
        .encode(
            x=alt.X("time:T", title=None, axis=alt.Axis(format="%H:%M")),
            y=alt.Y("inside:Q", title="people inside"),
            tooltip=["time:T", "inside:Q"],
        )
    )
    if capacity is None:
        return area.properties(height=220)
    rule = (
        alt.Chart(pd.DataFrame({"capacity": [capacity]}))
        .mark_rule(color="#d62728", strokeDash=[4, 4])
        .encode(y="capacity:Q")
    )
    return (area + rule).properties(height=220)


def bars(
    labels: Sequence[str], counts: Sequence[int], x_title: str, *, sort: bool = False
) -> Chart:
    """A bar chart of counts by label; labels keep their order unless `sort`."""
    frame = pd.DataFrame({"label": list(labels), "visits": list(counts)})
    order: list[str] | str = "-x" if sort else list(labels)
    if sort:
        return (
            alt.Chart(frame)
            .mark_bar()
            .encode(
                y=alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=200)),
                x=alt.X("visits:Q", title="visits"),
                tooltip=["label", "visits"],
            )
            .properties(height=alt.Step(26))
        )
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("label:N", sort=order, title=x_title, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("visits:Q", title="visits"),
            tooltip=["label", "visits"],
        )
        .properties(height=220)
    )


def hourly(by_hour: Sequence[int]) -> Chart:
    """Visits by local hour of entry."""
    return bars([f"{h:02d}" for h in range(24)], by_hour, "hour of day")


def weekly(by_weekday: Sequence[int]) -> Chart:
    """Visits by weekday, Monday first."""
    return bars(WEEKDAYS, by_weekday, "day of week")


def buckets(items: Sequence[Bucket], title: str, *, sort: bool = False) -> Chart:
    """A bar chart of labelled counts."""
    return bars([b.label for b in items], [b.count for b in items], title, sort=sort)


def alert_timeline(alerts: Sequence[Alert], tz: str) -> Chart:
    """Alerts on a time line, one row per kind, coloured by the staff verdict."""
    frame = pd.DataFrame(
        [
            {
                "first seen": pd.Timestamp(a.first_at).tz_convert(tz).tz_localize(None),
                "kind": a.kind,
                "verdict": a.verdict or "not judged",
                "status": a.status,
                "id": a.id,
            }
            for a in alerts
        ]
    )
    colour = alt.Color(
        "verdict:N",
        scale=alt.Scale(domain=list(VERDICT_COLOURS), range=list(VERDICT_COLOURS.values())),
        legend=alt.Legend(orient="top"),
    )
    return (
        alt.Chart(frame)
        .mark_point(size=90, filled=True)
        .encode(
            x=alt.X("first seen:T", title=None),
            y=alt.Y("kind:N", title=None),
            color=colour,
            shape=alt.Shape("status:N", legend=alt.Legend(orient="top")),
            tooltip=["id", "kind", "first seen:T", "verdict", "status"],
        )
        .properties(height=alt.Step(30))
    )


def daily_visits(rows: Sequence[DailyRow]) -> Chart:
    """Visits per day."""
    frame = pd.DataFrame([{"day": pd.Timestamp(r.day), "visits": r.visits} for r in rows])
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("monthdate(day):O", title=None, axis=alt.Axis(labelAngle=-45)),
            y=alt.Y("visits:Q"),
            tooltip=["day:T", "visits"],
        )
        .properties(height=200)
    )
