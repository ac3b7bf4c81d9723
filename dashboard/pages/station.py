"""Station: occupancy over the day, visits by hour and weekday, dwell, visitors, alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import streamlit as st

from dashboard import charts, data
from dashboard.client import DutyError
from dashboard.models import Alert

ZONE = ZoneInfo(data.SETTINGS.timezone)
_PERIODS = {"7 days": 7, "30 days": 30, "90 days": 90, "365 days": 365}

token = data.token()
try:
    stations = data.overview(token).stations
except DutyError as err:
    data.show_error(err)
if not stations:
    st.info("No stations are in your care yet.")
    st.stop()
ids = [s.station_id for s in stations]
chosen = st.session_state.get("station_id")
names = {s.station_id: f"{s.station_id} · {s.name}" for s in stations}
left, right = st.columns([3, 1])
station_id = left.selectbox(
    "Station", ids, index=ids.index(chosen) if chosen in ids else 0, format_func=names.__getitem__
)
st.session_state["station_id"] = station_id
period = right.selectbox("Period", list(_PERIODS), index=1)
status = next(s for s in stations if s.station_id == station_id)
until = datetime.now(UTC).replace(second=0, microsecond=0)  # minute steps keep the cache warm
since = until - timedelta(days=_PERIODS[period])
try:
    stats = data.station_stats(token, station_id, since, until)
    curve = data.occupancy(token, station_id)
except DutyError as err:
    data.show_error(err)

st.title(status.name)
st.caption(
    f"{status.region} · capacity {status.capacity or '?'}"
    f" · state: {charts.STATE_LABELS[status.state]}"
)
cols = st.columns(5)
cols[0].metric("Inside now", f"{status.inside} / {status.capacity or '?'}")
cols[1].metric(f"Visits, {period}", f"{stats.visits:,}")
cols[2].metric("Distinct members", f"{stats.unique_members:,}")
dwell = f"{stats.mean_dwell_s / 60:.0f} min" if stats.mean_dwell_s is not None else "-"
cols[3].metric("Mean stay", dwell)
cols[4].metric("Open alerts", status.open_alerts)

st.subheader("Occupancy over the last 24 hours")
st.altair_chart(
    charts.occupancy_line(curve, status.capacity, data.SETTINGS.timezone), width="stretch"
)
left, right = st.columns(2)
left.subheader("Visits by hour")
left.altair_chart(charts.hourly(stats.by_hour), width="stretch")
right.subheader("Visits by day of week")
right.altair_chart(charts.weekly(stats.by_weekday), width="stretch")
left, right = st.columns(2)
left.subheader("Length of stay")
left.altair_chart(charts.buckets(stats.dwell, "stay"), width="stretch")
right.subheader("Visitors' occupations")
right.altair_chart(charts.buckets(stats.occupations, "occupation", sort=True), width="stretch")


def _alert_card(alert: Alert) -> None:
    """One alert with its blurred snapshot and the staff verdict."""
    image, text = st.columns([1, 2])
    jpeg = data.snapshot(token, alert.last_event_id) if alert.last_event_id else None
    if jpeg:
        image.image(jpeg, caption="blurred snapshot", width="stretch")
    else:
        image.caption("no snapshot")
    verdict = {"confirmed": "confirmed", "false_alarm": "false alarm"}.get(
        alert.verdict or "", "not judged yet"
    )
    local = alert.first_at.astimezone(ZONE)
    text.markdown(
        f"**{alert.kind}** in {alert.zone or 'the station'} · {alert.severity}  \n"
        f"{local:%Y-%m-%d %H:%M} · {alert.status} · {alert.count} event(s)  \n"
        f"Verdict: **{verdict}**" + (f" by {alert.verdict_by}" if alert.verdict_by else "")
    )


st.subheader("Alerts")
size = 5
page_no = st.number_input("Alert page", min_value=1, value=1, key="alert_page")
try:
    page = data.alerts(token, station_id, size, (page_no - 1) * size)
    recent = data.alerts(token, station_id, 200, 0)
except DutyError as err:
    data.show_error(err)
if recent.items:
    st.altair_chart(charts.alert_timeline(recent.items, data.SETTINGS.timezone), width="stretch")
    st.caption(
        f"The {len(recent.items)} most recent of {recent.total} alerts;"
        " verdicts are staff judgements."
    )
if not page.items:
    st.info("No alerts on this page." if recent.items else "No alerts for this station.")
for alert in page.items:
    _alert_card(alert)
st.caption(f"Page {page_no} of {max(1, -(-page.total // size))}")
