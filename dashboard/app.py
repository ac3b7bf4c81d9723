"""The station managers' dashboard: `streamlit run dashboard/app.py` (or `station dashboard`)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import data
from dashboard.client import DutyError

HERE = Path(__file__).resolve().parent
PAGES = {
    "overview": ("Overview", ":material/map:"),
    "station": ("Station", ":material/monitoring:"),
    "devices": ("Devices and nodes", ":material/memory:"),
    "members": ("Members", ":material/badge:"),
    "reports": ("Reports", ":material/summarize:"),
}


def _login() -> None:
    st.title("Worker stations")
    st.caption("Sign in with your cloud-duty account.")
    with st.form("login"):
        username = st.text_input("Username", max_chars=64)
        password = st.text_input("Password", type="password", max_chars=256)
        submitted = st.form_submit_button("Sign in")
    if not submitted:
        return
    if not username or not password:
        st.error("Enter a username and a password.")
        return
    try:
        with data.client(None) as duty:
            answer = duty.login(username, password)
    except DutyError as err:
        st.error("Wrong username or password." if err.status == 401 else str(err))
        return
    st.session_state["token"] = answer.access_token
    st.session_state["user"] = answer.user
    st.rerun()


def main() -> None:
    """Sign in, then the pages."""
    st.set_page_config(
        page_title="Worker stations", page_icon=":material/home_work:", layout="wide"
    )
    if data.SETTINGS_ERROR:
        st.error(f"The dashboard's UWS_DASHBOARD_* settings are invalid:\n\n{data.SETTINGS_ERROR}")
        st.stop()
    if "token" not in st.session_state:
        _login()
        st.stop()
    who = data.user()
    with st.sidebar:
        st.write(f"Signed in as **{who.username}** ({who.role})")
        if who.station_ids:
            st.caption(f"{len(who.station_ids)} station(s) in your care")
        if st.button("Sign out"):
            st.session_state.clear()
            st.rerun()
    pages = [
        st.Page(
            str(HERE / "pages" / f"{name}.py"), title=title, icon=icon, default=name == "overview"
        )
        for name, (title, icon) in PAGES.items()
    ]
    st.navigation(pages).run()


main()
