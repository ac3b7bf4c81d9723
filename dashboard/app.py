"""The station managers' dashboard: `streamlit run dashboard/app.py` (or `station dashboard`)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import data
from dashboard.client import DutyError
from dashboard.i18n import N_, _

HERE = Path(__file__).resolve().parent
PAGES = {
    "overview": (N_("Overview"), ":material/map:"),
    "station": (N_("Station"), ":material/monitoring:"),
    "devices": (N_("Devices and nodes"), ":material/memory:"),
    "members": (N_("Members"), ":material/badge:"),
    "reports": (N_("Reports"), ":material/summarize:"),
}
ROLES = {"admin": N_("admin"), "duty": N_("duty"), "manager": N_("manager")}


def _login() -> None:
    st.title(_("Worker stations"))
    st.caption(_("Sign in with your cloud-duty account."))
    with st.form("login"):
        username = st.text_input(_("Username"), max_chars=64)
        password = st.text_input(_("Password"), type="password", max_chars=256)
        submitted = st.form_submit_button(_("Sign in"))
    if not submitted:
        return
    if not username or not password:
        st.error(_("Enter a username and a password."))
        return
    try:
        with data.client(None) as duty:
            answer = duty.login(username, password)
    except DutyError as err:
        st.error(_("Wrong username or password.") if err.status == 401 else str(err))
        return
    st.session_state["token"] = answer.access_token
    st.session_state["user"] = answer.user
    st.rerun()


def main() -> None:
    """Sign in, then the pages."""
    st.set_page_config(
        page_title=_("Worker stations"), page_icon=":material/home_work:", layout="wide"
    )
    if data.SETTINGS_ERROR:
        invalid = _("The dashboard's UWS_DASHBOARD_* settings are invalid:")
        st.error(f"{invalid}\n\n{data.SETTINGS_ERROR}")
        st.stop()
    if "token" not in st.session_state:
        _login()
        st.stop()
    who = data.user()
    with st.sidebar:
        role = _(ROLES.get(who.role, who.role))
        st.write(_("Signed in as **{name}** ({role})").format(name=who.username, role=role))
        if who.station_ids:
            st.caption(_("{count} station(s) in your care").format(count=len(who.station_ids)))
        if st.button(_("Sign out")):
            st.session_state.clear()
            st.rerun()
    pages = [
        st.Page(
            str(HERE / "pages" / f"{name}.py"),
            title=_(title),
            icon=icon,
            default=name == "overview",
        )
        for name, (title, icon) in PAGES.items()
    ]
    st.navigation(pages).run()


main()
