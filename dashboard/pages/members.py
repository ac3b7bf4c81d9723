"""Members: register, entry QR code, revoke, consent records. No face data is shown or kept."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.client import DutyError

st.title("Members")
st.caption(
    "Members are pseudonymous ids. Face templates stay on the station's node and never come "
    "here; a QR code is always an alternative to the face."
)
token = data.token()
try:
    stations = data.overview(token).stations
except DutyError as err:
    data.show_error(err)

with st.form("register", clear_on_submit=True):
    st.subheader("Register a member")
    occupation = st.text_input("Occupation", max_chars=100, placeholder="courier, rider, ...")
    platform = st.text_input("Employer or platform", max_chars=100)
    phone = st.text_input("Phone (kept only as a keyed hash)", max_chars=20)
    home = st.selectbox("Home station", [s.station_id for s in stations])
    if st.form_submit_button("Register"):
        try:
            with data.client(token) as duty:
                created = duty.create_member(
                    occupation.strip(), platform.strip(), phone.strip(), home
                )
        except DutyError as err:
            st.error(f"Not registered: {err.detail}")
        else:
            st.session_state["member_id"] = created.id
            st.success(f"Registered member {created.id}.")

st.subheader("Find a member")
member_id = st.text_input("Member id", value=st.session_state.get("member_id", ""), max_chars=64)
if not member_id:
    st.stop()
try:
    member, consents = data.member(token, member_id.strip())
except DutyError as err:
    if err.status == 404:
        st.error(f"No member {member_id!r}.")
        st.stop()
    data.show_error(err)

cols = st.columns(4)
cols[0].metric("Member", member.id)
cols[1].metric("Occupation", member.occupation or "not given")
cols[2].metric("Phone on file", "yes" if member.has_phone else "no")
cols[3].metric("Entry", "revoked" if member.revoked else "allowed")

st.subheader("Consent records")
if consents:
    st.dataframe(pd.DataFrame([c.model_dump() for c in consents]), hide_index=True, width="stretch")
    active = [c for c in consents if c.withdrawn_at is None]
    if active:
        pick = st.selectbox("Consent", [c.id for c in active], format_func=lambda i: f"#{i}")
        if st.button("Withdraw this consent"):
            try:
                with data.client(token) as duty:
                    duty.withdraw_consent(member.id, int(pick))
            except DutyError as err:
                st.error(f"Not withdrawn: {err.detail}")
            else:
                st.success("Withdrawn: nodes delete the face template at their next sync.")
else:
    st.info("No consent records: this member enters with a QR code only.")

st.subheader("Entry QR code")
scope = st.multiselect(
    "Valid at", [s.station_id for s in stations], default=[s.station_id for s in stations[:1]]
)
ttl = st.slider("Valid for (seconds)", min_value=30, max_value=3600, value=600, step=30)
if st.button("Make QR code", disabled=member.revoked or not scope):
    try:
        with data.client(token) as duty:
            png = duty.qr_png(member.id, list(scope), ttl)
    except DutyError as err:
        st.error(f"No QR code: {err.detail}")
    else:
        st.image(png, caption=f"Entry code for {member.id}", width=240)
        st.download_button(
            "Download to print or send", png, file_name=f"{member.id}-qr.png", mime="image/png"
        )

st.subheader("The member's own page")
st.caption("A link for the member's phone: their own codes, nothing of yours. It expires.")
if st.button("Make page link", disabled=member.revoked or not scope):
    try:
        with data.client(token) as duty:
            st.code(duty.member_link(member.id, list(scope)), language=None)
    except DutyError as err:
        st.error(f"No link: {err.detail}")

st.subheader("Revoke")
reason = st.text_input("Reason (kept in the record)", max_chars=200)
if st.button("Revoke entry", disabled=member.revoked, type="primary"):
    try:
        with data.client(token) as duty:
            duty.revoke(member.id, reason)
    except DutyError as err:
        st.error(f"Not revoked: {err.detail}")
    else:
        st.success(f"{member.id} is revoked: nodes refuse their codes from the next sync.")

st.subheader("The member's rights")
if st.button("Export everything held"):  # an audited read: only when asked
    try:
        with data.client(token) as duty:
            exported = duty.export(member.id)
    except DutyError as err:
        st.error(f"No export: {err.detail}")
    else:
        st.download_button(
            "Download the export (JSON)",
            exported,
            file_name=f"{member.id}.json",
            mime="application/json",
        )
sure = st.checkbox(f"Erase {member.id} for good (at their request)")
if st.button("Erase member", disabled=not sure):
    try:
        with data.client(token) as duty:
            erased = duty.erase(member.id)
    except DutyError as err:
        st.error(f"Not erased: {err.detail}")
    else:
        st.session_state.pop("member_id", None)
        nodes = ", ".join(o.node_id for o in erased.orders) or "none"
        st.success(f"{member.id} is erased; deletion orders to nodes: {nodes}.")

st.subheader("Erasures")
try:
    with data.client(token) as duty:
        done = duty.erasures()
except DutyError as err:
    data.show_error(err)
rows = [
    {
        "member": e.member_id,
        "erased": e.erased_at,
        "by": e.erased_by,
        "nodes confirmed": f"{sum(o.confirmed_at is not None for o in e.orders)}/{len(e.orders)}",
        "complete": e.complete,
    }
    for e in done
]
if rows:
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
else:
    st.caption("No member erased yet.")
