"""Members: register, entry QR code, revoke, consent records. No face data is shown or kept."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.client import DutyError
from dashboard.i18n import _

st.title(_("Members"))
st.caption(
    _(
        "Members are pseudonymous ids. Face templates stay on the station's node and never "
        "come here; a QR code is always an alternative to the face."
    )
)
token = data.token()
try:
    stations = data.overview(token).stations
except DutyError as err:
    data.show_error(err)

with st.form("register", clear_on_submit=True):
    st.subheader(_("Register a member"))
    occupation = st.text_input(_("Occupation"), max_chars=100, placeholder=_("courier, rider, ..."))
    platform = st.text_input(_("Employer or platform"), max_chars=100)
    phone = st.text_input(_("Phone (kept only as a keyed hash)"), max_chars=20)
    home = st.selectbox(_("Home station"), [s.station_id for s in stations])
    if st.form_submit_button(_("Register")):
        try:
            with data.client(token) as duty:
                created = duty.create_member(
                    occupation.strip(), platform.strip(), phone.strip(), home
                )
        except DutyError as err:
            st.error(_("Not registered: {detail}").format(detail=err.detail))
        else:
            st.session_state["member_id"] = created.id
            st.success(_("Registered member {member}.").format(member=created.id))

st.subheader(_("Find a member"))
member_id = st.text_input(_("Member id"), value=st.session_state.get("member_id", ""), max_chars=64)
if not member_id:
    st.stop()
try:
    member, consents = data.member(token, member_id.strip())
except DutyError as err:
    if err.status == 404:
        st.error(_("No member {member}.").format(member=repr(member_id)))
        st.stop()
    data.show_error(err)

cols = st.columns(4)
cols[0].metric(_("Member"), member.id)
cols[1].metric(_("Occupation"), member.occupation or _("not given"))
cols[2].metric(_("Phone on file"), _("yes") if member.has_phone else _("no"))
cols[3].metric(_("Entry"), _("revoked") if member.revoked else _("allowed"))

st.subheader(_("Consent records"))
if consents:
    st.dataframe(pd.DataFrame([c.model_dump() for c in consents]), hide_index=True, width="stretch")
    active = [c for c in consents if c.withdrawn_at is None]
    if active:
        pick = st.selectbox(_("Consent"), [c.id for c in active], format_func=lambda i: f"#{i}")
        if st.button(_("Withdraw this consent")):
            try:
                with data.client(token) as duty:
                    duty.withdraw_consent(member.id, int(pick))
            except DutyError as err:
                st.error(_("Not withdrawn: {detail}").format(detail=err.detail))
            else:
                st.success(_("Withdrawn: nodes delete the face template at their next sync."))
else:
    st.info(_("No consent records: this member enters with a QR code only."))

st.subheader(_("Entry QR code"))
scope = st.multiselect(
    _("Valid at"), [s.station_id for s in stations], default=[s.station_id for s in stations[:1]]
)
ttl = st.slider(_("Valid for (seconds)"), min_value=30, max_value=3600, value=600, step=30)
if st.button(_("Make QR code"), disabled=member.revoked or not scope):
    try:
        with data.client(token) as duty:
            png = duty.qr_png(member.id, list(scope), ttl)
    except DutyError as err:
        st.error(_("No QR code: {detail}").format(detail=err.detail))
    else:
        st.image(png, caption=_("Entry code for {member}").format(member=member.id), width=240)
        st.download_button(
            _("Download to print or send"), png, file_name=f"{member.id}-qr.png", mime="image/png"
        )

st.subheader(_("The member's own page"))
st.caption(_("A link for the member's phone: their own codes, nothing of yours. It expires."))
if st.button(_("Make page link"), disabled=member.revoked or not scope):
    try:
        with data.client(token) as duty:
            st.code(duty.member_link(member.id, list(scope)), language=None)
    except DutyError as err:
        st.error(_("No link: {detail}").format(detail=err.detail))

st.subheader(_("Revoke"))
reason = st.text_input(_("Reason (kept in the record)"), max_chars=200)
if st.button(_("Revoke entry"), disabled=member.revoked, type="primary"):
    try:
        with data.client(token) as duty:
            duty.revoke(member.id, reason)
    except DutyError as err:
        st.error(_("Not revoked: {detail}").format(detail=err.detail))
    else:
        revoked = _("{member} is revoked: nodes refuse their codes from the next sync.")
        st.success(revoked.format(member=member.id))

st.subheader(_("The member's rights"))
if st.button(_("Export everything held")):  # an audited read: only when asked
    try:
        with data.client(token) as duty:
            exported = duty.export(member.id)
    except DutyError as err:
        st.error(_("No export: {detail}").format(detail=err.detail))
    else:
        st.download_button(
            _("Download the export (JSON)"),
            exported,
            file_name=f"{member.id}.json",
            mime="application/json",
        )
sure = st.checkbox(_("Erase {member} for good (at their request)").format(member=member.id))
if st.button(_("Erase member"), disabled=not sure):
    try:
        with data.client(token) as duty:
            erased = duty.erase(member.id)
    except DutyError as err:
        st.error(_("Not erased: {detail}").format(detail=err.detail))
    else:
        st.session_state.pop("member_id", None)
        nodes = ", ".join(o.node_id for o in erased.orders) or _("none")
        erased_text = _("{member} is erased; deletion orders to nodes: {nodes}.")
        st.success(erased_text.format(member=member.id, nodes=nodes))

st.subheader(_("Erasures"))
try:
    with data.client(token) as duty:
        done = duty.erasures()
except DutyError as err:
    data.show_error(err)
rows = [
    {
        _("member"): e.member_id,
        _("erased"): e.erased_at,
        _("by"): e.erased_by,
        _(
            "nodes confirmed"
        ): f"{sum(o.confirmed_at is not None for o in e.orders)}/{len(e.orders)}",
        _("complete"): e.complete,
    }
    for e in done
]
if rows:
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
else:
    st.caption(_("No member erased yet."))
