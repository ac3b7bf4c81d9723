"""Station: occupancy over the day, visits by hour and weekday, dwell, visitors, alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import streamlit as st

from dashboard import charts, data
from dashboard.client import DutyError
from dashboard.i18n import N_, _
from dashboard.models import Alert

NOT_JUDGED = N_("not judged yet")
_PERIODS = {N_("7 days"): 7, N_("30 days"): 30, N_("90 days"): 90, N_("365 days"): 365}

token = data.token()
try:
    stations = data.overview(token).stations
except DutyError as err:
    data.show_error(err)
if not stations:
    st.info(_("No stations are in your care yet."))
    st.stop()
ids = [s.station_id for s in stations]
chosen = st.session_state.get("station_id")
names = {s.station_id: f"{s.station_id} · {s.name}" for s in stations}
left, right = st.columns([3, 1])
station_id = left.selectbox(
    _("Station"),
    ids,
    index=ids.index(chosen) if chosen in ids else 0,
    format_func=names.__getitem__,
)
st.session_state["station_id"] = station_id
periods = {_(label): days for label, days in _PERIODS.items()}
period = right.selectbox(_("Period"), list(periods), index=1)
status = next(s for s in stations if s.station_id == station_id)
zone = ZoneInfo(status.time_zone)  # the station's own clock
until = datetime.now(UTC).replace(second=0, microsecond=0)  # minute steps keep the cache warm
since = until - timedelta(days=periods[period])
try:
    stats = data.station_stats(token, station_id, since, until)
    curve = data.occupancy(token, station_id)
except DutyError as err:
    data.show_error(err)

st.title(status.name)
st.caption(
    _("{region} · capacity {capacity} · state: {state} · time zone {zone}").format(
        region=status.region,
        capacity=status.capacity or "?",
        state=_(charts.STATE_LABELS[status.state]),
        zone=status.time_zone,
    )
)
cols = st.columns(5)
cols[0].metric(_("Inside now"), f"{status.inside} / {status.capacity or '?'}")
cols[1].metric(_("Visits, {period}").format(period=period), f"{stats.visits:,}")
cols[2].metric(_("Distinct members"), f"{stats.unique_members:,}")
minutes = _("{n} min")
dwell = minutes.format(n=f"{stats.mean_dwell_s / 60:.0f}") if stats.mean_dwell_s else "-"
cols[3].metric(_("Mean stay"), dwell)
cols[4].metric(_("Open alerts"), status.open_alerts)

st.subheader(_("Occupancy over the last 24 hours"))
st.altair_chart(charts.occupancy_line(curve, status.capacity, status.time_zone), width="stretch")
left, right = st.columns(2)
left.subheader(_("Visits by hour"))
left.altair_chart(charts.hourly(stats.by_hour), width="stretch")
right.subheader(_("Visits by day of week"))
right.altair_chart(charts.weekly(stats.by_weekday), width="stretch")
left, right = st.columns(2)
left.subheader(_("Length of stay"))
left.altair_chart(charts.buckets(stats.dwell, _("stay")), width="stretch")
right.subheader(_("Visitors' occupations"))
right.altair_chart(charts.buckets(stats.occupations, _("occupation"), sort=True), width="stretch")


def _alert_card(alert: Alert) -> None:
    """One alert with its blurred snapshot and the staff verdict."""
    image, text = st.columns([1, 2])
    # The last event with a picture: a sensor's event folded in after a camera's has none.
    shown = alert.snapshot_event_id or alert.last_event_id
    jpeg = data.snapshot(token, shown) if shown else None
    if jpeg:
        image.image(jpeg, caption=_("blurred snapshot"), width="stretch")
    else:
        image.caption(_("no snapshot"))
    verdict = _(charts.VERDICTS.get(alert.verdict or "", NOT_JUDGED))
    local = alert.first_at.astimezone(zone)
    where = alert.zone or _("the station")
    kind, severity = (
        _(charts.KINDS.get(alert.kind, alert.kind)),
        _(charts.SEVERITIES.get(alert.severity, alert.severity)),
    )
    status_word = _(charts.STATUSES.get(alert.status, alert.status))
    judged = _("Verdict: **{verdict}**").format(verdict=verdict)
    if alert.verdict_by:
        judged += " " + _("by {name}").format(name=alert.verdict_by)
    text.markdown(
        _("**{kind}** in {where} · {severity}").format(kind=kind, where=where, severity=severity)
        + "  \n"
        + f"{local:%Y-%m-%d %H:%M} · {status_word} · "
        + _("{count} event(s)").format(count=alert.count)
        + "  \n"
        + judged
    )


st.subheader(_("Alerts"))
size = 5
page_no = st.number_input(_("Alert page"), min_value=1, value=1, key="alert_page")
try:
    page = data.alerts(token, station_id, size, (page_no - 1) * size)
    recent = data.alerts(token, station_id, 200, 0)
except DutyError as err:
    data.show_error(err)
if recent.items:
    st.altair_chart(charts.alert_timeline(recent.items, status.time_zone), width="stretch")
    st.caption(
        _("The {shown} most recent of {total} alerts; verdicts are staff judgements.").format(
            shown=len(recent.items), total=recent.total
        )
    )
if not page.items:
    st.info(_("No alerts on this page.") if recent.items else _("No alerts for this station."))
for alert in page.items:
    _alert_card(alert)
st.caption(_("Page {page} of {pages}").format(page=page_no, pages=max(1, -(-page.total // size))))
