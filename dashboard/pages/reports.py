"""Reports: a date range as CSV, and a printable monthly summary of one station."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from dashboard import charts, data
from dashboard.client import DutyError
from dashboard.i18n import N_, _, month

ZONE = ZoneInfo(data.SETTINGS.timezone)
# Shown headers; the CSV keeps the API's field names for the tools that read it.
COLUMNS = {
    "station_id": N_("station"),
    "day": N_("day"),
    "visits": N_("visits"),
    "unique_members": N_("distinct members"),
    "mean_dwell_s": N_("mean stay (s)"),
    "alerts": N_("alerts"),
}
BUCKET_COLUMNS = {"label": N_("label"), "count": N_("count")}
token = data.token()
try:
    stations = data.overview(token).stations
except DutyError as err:
    data.show_error(err)
ids = [s.station_id for s in stations]
today = datetime.now(ZONE).date()

st.title(_("Reports"))
st.subheader(_("Daily figures as CSV"))
left, right = st.columns(2)
first = left.date_input(_("From"), value=today - timedelta(days=30), max_value=today)
last = right.date_input(_("To (inclusive)"), value=today, max_value=today)
chosen = st.multiselect(_("Stations (none: all of yours)"), ids)
if not isinstance(first, date) or not isinstance(last, date) or last < first:
    st.error(_("Choose a start day on or before the end day."))
    st.stop()
if (last - first).days > 366:
    st.error(_("A report covers at most a year."))
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
st.caption(_("{count} row(s): one per station and day with visits.").format(count=len(frame)))
st.download_button(
    _("Download CSV"),
    frame.to_csv(index=False).encode(),
    file_name=f"stations-{first}-{last}.csv",
    mime="text/csv",
)
shown = frame.head(data.SETTINGS.page_size * 5)
shown = shown.rename(columns={k: _(v) for k, v in COLUMNS.items()})
st.dataframe(shown, hide_index=True, width="stretch")

st.divider()
st.subheader(_("Monthly summary"))
left, right = st.columns(2)
station_id = left.selectbox(_("Station"), ids, key="report_station")
months = [(today.replace(day=1) - timedelta(days=31 * k)).replace(day=1) for k in range(12)]
chosen_month = right.selectbox(_("Month"), months, format_func=month)
start = datetime.combine(chosen_month, time(), ZONE)
end = datetime.combine((chosen_month + timedelta(days=32)).replace(day=1), time(), ZONE)
end = min(end, datetime.now(UTC).replace(second=0, microsecond=0))
if station_id is None:
    st.stop()
try:
    stats = data.station_stats(token, station_id, start.astimezone(UTC), end.astimezone(UTC))
    days = data.daily(token, (station_id,), start.astimezone(UTC), end.astimezone(UTC))
except DutyError as err:
    data.show_error(err)
status = next(s for s in stations if s.station_id == station_id)
st.markdown(f"### {status.name}: {month(chosen_month)}")
st.caption(
    _("{region} · capacity {capacity} · printed from the dashboard (Ctrl+P saves a PDF)").format(
        region=status.region, capacity=status.capacity or "?"
    )
)
cols = st.columns(4)
cols[0].metric(_("Visits"), f"{stats.visits:,}")
cols[1].metric(_("Distinct members"), f"{stats.unique_members:,}")
minutes = _("{n} min")
dwell = minutes.format(n=f"{stats.mean_dwell_s / 60:.0f}") if stats.mean_dwell_s else "-"
cols[2].metric(_("Mean stay"), dwell)
cols[3].metric(_("Alerts"), sum(b.count for b in stats.alerts_by_kind))
st.altair_chart(charts.daily_visits(days), width="stretch")
left, right = st.columns(2)
left.altair_chart(charts.hourly(stats.by_hour), width="stretch")
right.altair_chart(charts.buckets(stats.occupations, _("occupation"), sort=True), width="stretch")
left, right = st.columns(2)
headers = {k: _(v) for k, v in BUCKET_COLUMNS.items()}
left.markdown("**" + _("Alerts by kind") + "**")
kinds = [
    {"label": _(charts.KINDS.get(b.label, b.label)), "count": b.count} for b in stats.alerts_by_kind
]
left.dataframe(pd.DataFrame(kinds).rename(columns=headers), hide_index=True)
right.markdown("**" + _("Staff verdicts") + "**")
verdicts = [
    {"label": _(charts.VERDICTS.get(b.label, b.label)), "count": b.count} for b in stats.verdicts
]
right.dataframe(pd.DataFrame(verdicts).rename(columns=headers), hide_index=True)
