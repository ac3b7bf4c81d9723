"""Devices and node health: each edge node's vital signs and cameras, offline first."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.client import DutyError
from dashboard.i18n import N_, _
from dashboard.models import Node

st.title(_("Devices and node health"))
try:
    nodes = data.nodes(data.token())
except DutyError as err:
    data.show_error(err)
if not nodes:
    st.info(_("No edge nodes are registered at your stations."))
    st.stop()

_ORDER = {"offline": 0, "unknown": 1, "online": 2}
_STATES = {"offline": N_("offline"), "unknown": N_("unknown"), "online": N_("online")}
now = datetime.now(UTC)


def _device_rows(node: Node) -> list[dict[str, object]]:
    report = node.devices or {}
    return [
        {
            _("station"): node.station_id,
            _("node"): node.id,
            _("device"): d.get("device_id"),
            _("available"): d.get("available", "unknown"),
            _("last states"): ", ".join(f"{k}: {v}" for k, v in (d.get("values") or {}).items()),
            _("changed"): d.get("updated_at"),
        }
        for d in report.get("devices") or []
    ]


st.subheader(_("Station devices"))
devices = [row for n in nodes for row in _device_rows(n)]
if devices:
    devices.sort(key=lambda r: (_ORDER.get(str(r[_("available")]), 1), str(r[_("station")])))
    st.dataframe(pd.DataFrame(devices), hide_index=True, width="stretch")
    silent = sum(1 for n in nodes if not n.devices)
    if silent:
        st.caption(_("{count} node(s) have not reported their devices yet.").format(count=silent))
else:
    st.warning(
        _(
            "No door, sensor or socket states have reached cloud-duty from your stations yet: "
            "nodes report them on their `state` topic when they have devices configured."
        )
    )

st.subheader(_("Edge nodes"))


def _row(node: Node) -> dict[str, object]:
    health = node.health or {}
    cameras = health.get("cameras") or []
    connected = sum(1 for c in cameras if c.get("connected"))
    fps = [float(c.get("fps", 0)) for c in cameras if c.get("connected")]
    seen = (now - node.last_seen_at).total_seconds() / 60 if node.last_seen_at else None
    return {
        _("node"): node.id,
        _("station"): node.station_id,
        _("state"): _(_STATES.get(node.state, node.state)),
        _("last seen (min ago)"): round(seen, 1) if seen is not None else None,
        _("fps (mean)"): round(sum(fps) / len(fps), 1) if fps else 0.0,
        _("inference ms"): health.get("inference_ms"),
        _("CPU %"): health.get("cpu_percent"),
        _("memory MB"): health.get("memory_mb"),
        _("temperature °C"): health.get("temperature_c"),
        _("outbox depth"): health.get("outbox_depth"),
        _("cameras up"): f"{connected} / {len(cameras)}",
    }


ordered = sorted(nodes, key=lambda n: (_ORDER.get(n.state, 1), n.station_id, n.id))
cols = st.columns(4)
cols[0].metric(_("Nodes"), len(nodes))
cols[1].metric(_("Offline or unknown"), sum(1 for n in nodes if n.state != "online"))
cols[2].metric(
    _("Outbox backlog"), sum(int((n.health or {}).get("outbox_depth") or 0) for n in nodes)
)
cols[3].metric(
    _("Cameras down"),
    sum(1 for n in nodes for c in (n.health or {}).get("cameras") or [] if not c.get("connected")),
)

size = data.SETTINGS.page_size
pages = max(1, -(-len(ordered) // size))
page = st.number_input(_("Page"), min_value=1, max_value=pages, value=1, key="nodes_page")
shown = ordered[(page - 1) * size : page * size]
st.dataframe(pd.DataFrame([_row(n) for n in shown]), hide_index=True, width="stretch")
st.caption(
    _("{count} node(s), {pages} page(s), offline first. GPU use is not reported yet.").format(
        count=len(ordered), pages=pages
    )
)

st.subheader(_("Cameras on this page"))
cameras = [
    {
        _("node"): n.id,
        _("camera"): c.get("camera_id"),
        _("connected"): bool(c.get("connected")),
        _("fps"): c.get("fps"),
        _("reconnects"): c.get("reconnects"),
    }
    for n in shown
    for c in (n.health or {}).get("cameras") or []
]
cameras.sort(key=lambda c: (bool(c[_("connected")]), str(c[_("node")])))
st.dataframe(pd.DataFrame(cameras), hide_index=True, width="stretch")

st.subheader("模型版本")
_STATES = {
    "running": "运行中",
    "updating": "更新中",
    "rolled_back": "已自动回滚",
    "configured": "本地配置",
}
try:
    models = data.fleet_models(data.token())
except DutyError as err:
    data.show_error(err)
st.dataframe(
    pd.DataFrame(
        [
            {
                "节点": m.node_id,
                "站点": m.station_id,
                "模型槽": m.slot,
                "运行版本": m.running or "本地配置",
                "目标版本": m.wanted or "-",
                "状态": _STATES.get(m.state, m.state),
                "回滚原因": m.rollback_reason,
            }
            for m in models
        ],
        columns=["节点", "站点", "模型槽", "运行版本", "目标版本", "状态", "回滚原因"],
    ),
    hide_index=True,
    width="stretch",
)
