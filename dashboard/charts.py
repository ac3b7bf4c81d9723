"""Altair charts for the dashboard: each is a plain function of API data, readable at a glance."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt
import pandas as pd

from dashboard.basemap import DistrictMap
from dashboard.i18n import N_, _, language
from dashboard.models import Alert, Bucket, DailyRow, OccupancyPoint, StationStatus

STATE_COLOURS = {"alert": "#d62728", "offline": "#7f7f7f", "full": "#ff7f0e", "ok": "#2ca02c"}
STATE_LABELS = {
    "alert": N_("open alert"),
    "offline": N_("node offline"),
    "full": N_("full"),
    "ok": N_("open, all well"),
}
_STATION_COLUMNS = ["station", "id", "longitude", "latitude", "state", "inside", "capacity"]
_STATION_COLUMNS += ["occupancy", "open alerts"]
VERDICT_COLOURS = {"confirmed": "#d62728", "false_alarm": "#1f77b4", "not judged": "#bbbbbb"}
VERDICTS = {
    "confirmed": N_("confirmed"),
    "false_alarm": N_("false alarm"),
    "not judged": N_("not judged"),
}
KINDS = {
    "person": N_("person"),
    "fall": N_("fall"),
    "fire": N_("fire"),
    "smoke": N_("smoke"),
    "crowd": N_("crowd"),
    "heat": N_("heat"),
    "door_forced": N_("door forced"),
    "door_held_open": N_("door held open"),
    "overcurrent": N_("overcurrent"),
    "device_offline": N_("device offline"),
    "station_offline": N_("station offline"),
}
STATUSES = {"open": N_("open"), "acknowledged": N_("acknowledged"), "resolved": N_("resolved")}
SEVERITIES = {"info": N_("info"), "warning": N_("warning"), "critical": N_("critical")}
# altair's fluent builders are untyped (they return Any); a chart is whatever they build.
Chart = Any
WEEKDAYS = [N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun")]


def station_map(stations: Sequence[StationStatus], districts: DistrictMap) -> Chart:
    """Stations on their city's district outlines (no tiles: works offline). Districts are
    shaded by their stations' open alerts; each station is coloured by its state and sized
    by how full it is."""
    rows = [
        {
            "station": s.name,
            "id": s.station_id,
            "longitude": s.longitude,
            "latitude": s.latitude,
            "state": _(STATE_LABELS[s.state]),
            "inside": s.inside,
            "capacity": s.capacity,
            "occupancy": min(1.0, s.inside / s.capacity) if s.capacity else 0.0,
            "open alerts": s.open_alerts,
        }
        for s in stations
        if s.latitude is not None and s.longitude is not None
    ]
    return (
        alt.layer(_districts(stations, districts), _stations(rows), _district_names(districts))
        .project(type="identity", reflectY=True)  # planar: a city is small
        .properties(height=520)
    )


def _districts(stations: Sequence[StationStatus], districts: DistrictMap) -> Chart:
    alerts: dict[str, int] = {}
    for s in stations:
        alerts[s.region] = alerts.get(s.region, 0) + s.open_alerts
    chinese = language() != "en"
    features = []
    for d in districts.features:
        names = {d.properties.name, d.properties.name_zh}
        count = sum(n for region, n in alerts.items() if region in names)
        label = d.properties.name_zh if chinese and d.properties.name_zh else d.properties.name
        feature = d.model_dump()
        feature["properties"] = {"label": label, "alerts": count}
        features.append(feature)
    most = max([1, *(f["properties"]["alerts"] for f in features)])
    return (
        alt.Chart(alt.InlineData(values=features))
        .mark_geoshape(stroke="#ffffff", strokeWidth=1.5)
        .encode(
            color=alt.Color(
                "properties.alerts:Q",
                scale=alt.Scale(domain=[0, most], range=["#eef0f3", "#f4a3a3"]),
                legend=alt.Legend(
                    title=_("Open alerts in the district"), orient="top", format="d", tickMinStep=1
                ),
            ),
            tooltip=[
                alt.Tooltip("properties.label:N", title=_("district")),
                alt.Tooltip("properties.alerts:Q", title=_("open alerts")),
            ],
        )
    )


def _stations(rows: Sequence[Mapping[str, object]]) -> Chart:
    states = [_(STATE_LABELS[k]) for k in STATE_COLOURS]
    colour = alt.Color(
        "state:N",
        scale=alt.Scale(domain=states, range=list(STATE_COLOURS.values())),
        legend=alt.Legend(title=_("State"), orient="top"),
    )
    size = alt.Size(
        "occupancy:Q",
        scale=alt.Scale(domain=[0, 1], range=[70, 520]),
        legend=alt.Legend(title=_("How full"), format="%", orient="top"),
    )
    tooltip = [
        alt.Tooltip("station:N", title=_("station")),
        alt.Tooltip("id:N", title=_("id")),
        alt.Tooltip("state:N", title=_("state")),
        alt.Tooltip("inside:Q", title=_("inside")),
        alt.Tooltip("capacity:Q", title=_("capacity")),
        alt.Tooltip("open alerts:Q", title=_("open alerts")),
    ]
    return (
        alt.Chart(pd.DataFrame(rows, columns=_STATION_COLUMNS))
        .mark_circle(opacity=0.9, stroke="white", strokeWidth=1.2)
        .encode(
            longitude="longitude:Q", latitude="latitude:Q", color=colour, size=size, tooltip=tooltip
        )
    )


def _district_names(districts: DistrictMap) -> Chart:
    chinese = language() != "en"
    names = [
        {
            "label": d.properties.name_zh
            if chinese and d.properties.name_zh
            else d.properties.name,
            "longitude": d.centre()[0],
            "latitude": d.centre()[1],
        }
        for d in districts.features
    ]
    return (
        alt.Chart(pd.DataFrame(names))
        .mark_text(fontSize=11, color="#6b7280", dy=-14)
        .encode(longitude="longitude:Q", latitude="latitude:Q", text="label:N")
    )


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
            y=alt.Y("inside:Q", title=_("people inside")),
            tooltip=[
                alt.Tooltip("time:T", title=_("time"), format="%H:%M"),
                alt.Tooltip("inside:Q", title=_("inside")),
            ],
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
    tooltip = [
        alt.Tooltip("label:N", title=x_title),
        alt.Tooltip("visits:Q", title=_("visits")),
    ]
    if sort:
        return (
            alt.Chart(frame)
            .mark_bar()
            .encode(
                y=alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=200)),
                x=alt.X("visits:Q", title=_("visits")),
                tooltip=tooltip,
            )
            .properties(height=alt.Step(26))
        )
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("label:N", sort=order, title=x_title, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("visits:Q", title=_("visits")),
            tooltip=tooltip,
        )
        .properties(height=220)
    )


def hourly(by_hour: Sequence[int]) -> Chart:
    """Visits by local hour of entry."""
    return bars([f"{h:02d}" for h in range(24)], by_hour, _("hour of day"))


def weekly(by_weekday: Sequence[int]) -> Chart:
    """Visits by weekday, Monday first."""
    return bars([_(day) for day in WEEKDAYS], by_weekday, _("day of week"))


def buckets(items: Sequence[Bucket], title: str, *, sort: bool = False) -> Chart:
    """A bar chart of labelled counts."""
    return bars([b.label for b in items], [b.count for b in items], title, sort=sort)


def alert_timeline(alerts: Sequence[Alert], tz: str) -> Chart:
    """Alerts on a time line, one row per kind, coloured by the staff verdict."""
    frame = pd.DataFrame(
        [
            {
                "first seen": pd.Timestamp(a.first_at).tz_convert(tz).tz_localize(None),
                "kind": _(KINDS.get(a.kind, a.kind)),
                "verdict": _(VERDICTS[a.verdict or "not judged"]),
                "status": _(STATUSES.get(a.status, a.status)),
                "id": a.id,
            }
            for a in alerts
        ]
    )
    colour = alt.Color(
        "verdict:N",
        scale=alt.Scale(
            domain=[_(VERDICTS[v]) for v in VERDICT_COLOURS], range=list(VERDICT_COLOURS.values())
        ),
        legend=alt.Legend(orient="top", title=_("verdict")),
    )
    return (
        alt.Chart(frame)
        .mark_point(size=90, filled=True)
        .encode(
            x=alt.X("first seen:T", title=None),
            y=alt.Y("kind:N", title=None),
            color=colour,
            shape=alt.Shape("status:N", legend=alt.Legend(orient="top", title=_("status"))),
            tooltip=[
                alt.Tooltip("id:N", title=_("id")),
                alt.Tooltip("kind:N", title=_("kind")),
                alt.Tooltip("first seen:T", title=_("first seen"), format="%Y-%m-%d %H:%M"),
                alt.Tooltip("verdict:N", title=_("verdict")),
                alt.Tooltip("status:N", title=_("status")),
            ],
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
            y=alt.Y("visits:Q", title=_("visits")),
            tooltip=[
                alt.Tooltip("day:T", title=_("day"), format="%Y-%m-%d"),
                alt.Tooltip("visits:Q", title=_("visits")),
            ],
        )
        .properties(height=200)
    )
