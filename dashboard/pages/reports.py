"""Reports: a date range as CSV, and a printable monthly summary of one station."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from dashboard import charts, data
from dashboard.client import DutyError

ZONE = ZoneInfo(data.SETTINGS.timezone)
token = data.token()
try:
    stations = data.overview(token).stations
except DutyError as err:
    data.show_error(err)
ids = [s.station_id for s in stations]
today = datetime.now(ZONE).date()

st.title("Reports")
st.subheader("Daily figures as CSV")
left, right = st.columns(2)
first = left.date_input("From", value=today - timedelta(days=30), max_value=today)
last = right.date_input("To (inclusive)", value=today, max_value=today)
chosen = st.multiselect("Stations (none: all of yours)", ids)
if not isinstance(first, date) or not isinstance(last, date) or last < first:
    st.error("Choose a start day on or before the end day.")
    st.stop()
if (last - first).days > 366:
    st.error("A report covers at most a year.")
    st.stop()
since = datetime.combine(first, time(), ZONE).astimezone(UTC)
until = datetime.combine(last + timedelta(days=1), time(), ZONE).astimezone(UTC)
try:
    rows = data.daily(token, tuple(chosen), since, until)
except DutyError as err:
    data.show_error(err)
frame = pd.DataFrame([r.model_dump() for r in rows])
if len(frame):
    frame["mean_dwell_s"] = frame["mean_dwell_s"].round(0)
st.caption(f"{len(frame)} row(s): one per station and day with visits.")
st.download_button(
    "Download CSV",
    frame.to_csv(index=False).encode(),
    file_name=f"stations-{first}-{last}.csv",
    mime="text/csv",
)
st.dataframe(frame.head(data.SETTINGS.page_size * 5), hide_index=True, width="stretch")

st.divider()
st.subheader("Monthly summary")
left, right = st.columns(2)
station_id = left.selectbox("Station", ids, key="report_station")
months = [(today.replace(day=1) - timedelta(days=31 * k)).replace(day=1) for k in range(12)]
month = right.selectbox("Month", months, format_func=lambda m: f"{m:%B %Y}")
start = datetime.combine(month, time(), ZONE)
end = datetime.combine((month + timedelta(days=32)).replace(day=1), time(), ZONE)
end = min(end, datetime.now(UTC).replace(second=0, microsecond=0))
if station_id is None:
    st.stop()
try:
    stats = data.station_stats(token, station_id, start.astimezone(UTC), end.astimezone(UTC))
    days = data.daily(token, (station_id,), start.astimezone(UTC), end.astimezone(UTC))
except DutyError as err:
    data.show_error(err)
status = next(s for s in stations if s.station_id == station_id)
st.markdown(f"### {status.name}: {month:%B %Y}")
st.caption(
    f"{status.region} · capacity {status.capacity or '?'}"
    " · printed from the dashboard (Ctrl+P saves a PDF)"
)
cols = st.columns(4)
cols[0].metric("Visits", f"{stats.visits:,}")
cols[1].metric("Distinct members", f"{stats.unique_members:,}")
dwell = f"{stats.mean_dwell_s / 60:.0f} min" if stats.mean_dwell_s is not None else "-"
cols[2].metric("Mean stay", dwell)
cols[3].metric("Alerts", sum(b.count for b in stats.alerts_by_kind))
st.altair_chart(charts.daily_visits(days), width="stretch")
left, right = st.columns(2)
left.altair_chart(charts.hourly(stats.by_hour), width="stretch")
right.altair_chart(charts.buckets(stats.occupations, "occupation", sort=True), width="stretch")
left, right = st.columns(2)
left.markdown("**Alerts by kind**")
left.dataframe(pd.DataFrame([b.model_dump() for b in stats.alerts_by_kind]), hide_index=True)
right.markdown("**Staff verdicts**")
right.dataframe(pd.DataFrame([b.model_dump() for b in stats.verdicts]), hide_index=True)
