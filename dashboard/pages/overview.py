"""Overview: every station on a map, coloured by state, with today's visits and who is inside."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, data
from dashboard.client import DutyError

_SEVERITY = {"alert": 0, "offline": 1, "full": 2, "ok": 3}

st.title("Overview")
try:
    view = data.overview(data.token())
except DutyError as err:
    data.show_error(err)
stations = view.stations
if not stations:
    st.info("No stations are in your care yet.")
    st.stop()

cols = st.columns(5)
cols[0].metric("Stations", len(stations))
cols[1].metric("Open alerts", sum(s.open_alerts for s in stations))
cols[2].metric("Nodes offline", sum(s.nodes_offline for s in stations))
cols[3].metric("Inside now", sum(s.inside for s in stations))
cols[4].metric("Visits today", sum(s.visits_today for s in stations))

st.subheader("Stations by state")
st.altair_chart(charts.station_map(stations), width="stretch")

st.subheader("Needs attention first")
ordered = sorted(stations, key=lambda s: (_SEVERITY[s.state], -s.open_alerts, s.station_id))
table = pd.DataFrame(
    [
        {
            "station": s.station_id,
            "name": s.name,
            "region": s.region,
            "state": charts.STATE_LABELS[s.state],
            "open alerts": s.open_alerts,
            "nodes offline": f"{s.nodes_offline} of {s.nodes_total}",
            "inside": f"{s.inside} / {s.capacity if s.capacity is not None else '?'}",
            "visits today": s.visits_today,
        }
        for s in ordered
    ]
)
size = data.SETTINGS.page_size
pages = max(1, -(-len(table) // size))
page = st.number_input("Page", min_value=1, max_value=pages, value=1, key="overview_page")
st.dataframe(table.iloc[(page - 1) * size : page * size], hide_index=True, width="stretch")
st.caption(f"{len(table)} stations, {pages} page(s); figures refresh every {data.TTL} s.")

choice = st.selectbox(
    "Open a station",
    [s.station_id for s in ordered],
    format_func=lambda i: f"{i}",
    key="overview_pick",
)
if st.button("Open station page"):
    st.session_state["station_id"] = choice
    st.switch_page("pages/station.py")
