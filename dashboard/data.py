"""Cached reads from cloud-duty, keyed by the caller's token so scopes never mix."""

from __future__ import annotations

from datetime import date, datetime

import streamlit as st
from pydantic import ValidationError

from dashboard.client import DutyClient, DutyError
from dashboard.i18n import _
from dashboard.models import (
    AlertPage,
    Consent,
    DailyRow,
    Member,
    Node,
    NodeModelRow,
    OccupancyPoint,
    Overview,
    StationStats,
    User,
)
from dashboard.settings import DashboardSettings

try:
    SETTINGS = DashboardSettings()
    SETTINGS_ERROR = ""
except ValidationError as _err:
    # The app shows this and stops; the defaults only let the module load.
    SETTINGS = DashboardSettings.model_construct()
    SETTINGS_ERROR = str(_err)
TTL = SETTINGS.cache_ttl_s


def client(token: str | None) -> DutyClient:
    """A client for one call, with the dashboard's settings."""
    return DutyClient(SETTINGS.base_url, token, timeout_s=SETTINGS.timeout_s, tz=SETTINGS.timezone)


def token() -> str:
    """The signed-in user's token (the app's login gate guarantees one)."""
    value = st.session_state.get("token")
    if not isinstance(value, str):
        st.stop()
    return str(value)


def user() -> User:
    """The signed-in user."""
    value = st.session_state.get("user")
    if not isinstance(value, User):
        st.stop()
    return value


def show_error(err: DutyError) -> None:
    """Tell the user what went wrong; sign out on an expired token."""
    if err.status == 401:
        st.session_state.pop("token", None)
        st.error(_("Your session has expired: please sign in again."))
    elif err.status == 403:
        st.error(_("Not allowed: {detail}").format(detail=err.detail))
    elif err.status == 0:
        st.error(_("cloud-duty cannot be reached: {detail}").format(detail=err.detail))
    else:
        answered = _("cloud-duty answered {status}: {detail}")
        st.error(answered.format(status=err.status, detail=err.detail))
    st.stop()


@st.cache_data(ttl=TTL, show_spinner=False)
def overview(token: str) -> Overview:
    """Every visible station and its state."""
    with client(token) as duty:
        return duty.overview()


@st.cache_data(ttl=TTL, show_spinner=False)
def station_stats(token: str, station_id: str, since: datetime, until: datetime) -> StationStats:
    """A station's figures over a window."""
    with client(token) as duty:
        return duty.station_stats(station_id, since, until)


@st.cache_data(ttl=TTL, show_spinner=False)
def occupancy(token: str, station_id: str, day: date | None = None) -> list[OccupancyPoint]:
    """People inside over a day."""
    with client(token) as duty:
        return duty.occupancy(station_id, day)


@st.cache_data(ttl=TTL, show_spinner=False)
def daily(
    token: str, station_ids: tuple[str, ...], since: datetime, until: datetime
) -> list[DailyRow]:
    """Per station and day figures."""
    with client(token) as duty:
        return duty.daily(list(station_ids), since, until)


@st.cache_data(ttl=TTL, show_spinner=False)
def alerts(token: str, station_id: str, limit: int, offset: int) -> AlertPage:
    """One page of a station's alerts."""
    with client(token) as duty:
        return duty.alerts(station_id, limit, offset)


@st.cache_data(ttl=3600, show_spinner=False, max_entries=500)
def snapshot(token: str, event_id: str) -> bytes | None:
    """An event's blurred snapshot; snapshots never change, so they are kept long."""
    with client(token) as duty:
        return duty.snapshot(event_id)


@st.cache_data(ttl=TTL, show_spinner=False)
def nodes(token: str) -> list[Node]:
    """Every visible node."""
    with client(token) as duty:
        return duty.nodes()


@st.cache_data(ttl=TTL, show_spinner=False)
def fleet_models(token: str) -> list[NodeModelRow]:
    """Which model version each visible node runs."""
    with client(token) as duty:
        return duty.fleet_models()


def member(token: str, member_id: str) -> tuple[Member, list[Consent]]:
    """A member and their consents: personal data, never cached."""
    with client(token) as duty:
        return duty.member(member_id), duty.consents(member_id)
