"""Overview: every station on a map, coloured by state, with today's visits and who is inside."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import basemap, charts, data
from dashboard.client import DutyError
from dashboard.i18n import _
from dashboard.models import FaceFiling

_SEVERITY = {"alert": 0, "offline": 1, "full": 2, "ok": 3}


def _show_faces(faces: FaceFiling) -> None:
    """The enrolled faces against the filing threshold, with a warning from `warn_at` on."""
    st.metric(_("Enrolled faces / filing threshold"), f"{faces.enrolled} / {faces.threshold}")
    if not faces.network:
        st.caption(_("Your stations only: the filing threshold counts the whole network."))
    share = round(100 * faces.enrolled / faces.threshold)
    if faces.enrolled >= faces.threshold:
        st.warning(
            _(
                "{enrolled} people's faces are enrolled, at or above the filing threshold of "
                "{threshold}: the face recognition measures require filing with the provincial "
                "cyberspace office within 30 working days."
            ).format(enrolled=faces.enrolled, threshold=faces.threshold)
        )
    elif faces.enrolled >= faces.warn_at:
        st.warning(
            _(
                "{enrolled} people's faces are enrolled, {share}% of the filing threshold of "
                "{threshold}: prepare the filing with the provincial cyberspace office."
            ).format(enrolled=faces.enrolled, share=share, threshold=faces.threshold)
        )


st.title(_("Overview"))
try:
    view = data.overview(data.token())
except DutyError as err:
    data.show_error(err)
stations = view.stations
if not stations:
    st.info(_("No stations are in your care yet."))
    st.stop()

cols = st.columns(5)
cols[0].metric(_("Stations"), len(stations))
cols[1].metric(_("Open alerts"), sum(s.open_alerts for s in stations))
cols[2].metric(_("Nodes offline"), sum(s.nodes_offline for s in stations))
cols[3].metric(_("Inside now"), sum(s.inside for s in stations))
cols[4].metric(_("Visits today"), sum(s.visits_today for s in stations))
if view.faces is not None:
    _show_faces(view.faces)

st.subheader(_("Stations on the map"))
try:
    districts = basemap.load(data.SETTINGS.map_geojson)
except basemap.BaseMapError as err:
    st.error(str(err))
else:
    st.altair_chart(charts.station_map(stations, districts), width="stretch")
    st.caption(
        _("Colour: the station's state; size: how full it is; districts: their open alerts.")
    )

st.subheader(_("Needs attention first"))
ordered = sorted(stations, key=lambda s: (_SEVERITY[s.state], -s.open_alerts, s.station_id))
table = pd.DataFrame(
    [
        {
            _("station"): s.station_id,
            _("name"): s.name,
            _("region"): s.region,
            _("state"): _(charts.STATE_LABELS[s.state]),
            _("open alerts"): s.open_alerts,
            _("nodes offline"): f"{s.nodes_offline} / {s.nodes_total}",
            _("inside"): f"{s.inside} / {s.capacity if s.capacity is not None else '?'}",
            _("visits today"): s.visits_today,
        }
        for s in ordered
    ]
)
size = data.SETTINGS.page_size
pages = max(1, -(-len(table) // size))
page = st.number_input(_("Page"), min_value=1, max_value=pages, value=1, key="overview_page")
st.dataframe(table.iloc[(page - 1) * size : page * size], hide_index=True, width="stretch")
st.caption(
    _("{count} stations, {pages} page(s); figures refresh every {ttl} s.").format(
        count=len(table), pages=pages, ttl=data.TTL
    )
)

choice = st.selectbox(
    _("Open a station"),
    [s.station_id for s in ordered],
    format_func=lambda i: f"{i}",
    key="overview_pick",
)
if st.button(_("Open station page")):
    st.session_state["station_id"] = choice
    st.switch_page("pages/station.py")
