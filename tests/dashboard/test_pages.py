"""Every dashboard page in Streamlit's AppTest, against a real seeded cloud-duty."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import streamlit as st
from paho.mqtt.enums import CallbackAPIVersion
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df
from streamlit.testing.v1 import AppTest

from dashboard import data
from dashboard.models import User
from dashboard.settings import DashboardSettings
from station.contracts import DeviceSnapshot, NodeTopics, StationState, TopicKind, utcnow
from tests.support.duty_server import wait_until
from tests.support.seeded_city import MANAGED, MANAGER, MANAGER_PASSWORD, SeededDuty

pytestmark = pytest.mark.integration
APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


@pytest.fixture
def app(seeded: SeededDuty, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    """The app pointed at the seeded cloud-duty, not yet signed in."""
    monkeypatch.setattr(data, "SETTINGS", DashboardSettings(duty_url=seeded.server.url))
    st.cache_data.clear()
    return AppTest.from_file(APP, default_timeout=60)


def _signed_in(app: AppTest, seeded: SeededDuty, language: str = "en") -> AppTest:
    """Signed in as the seeded manager, reading English unless told otherwise."""
    app.session_state["token"] = seeded.manager_token
    app.session_state["user"] = User.model_validate({**seeded.manager_user, "language": language})
    return app.run()


def _text(app: AppTest) -> str:
    parts = [m.value for m in app.markdown] + [c.value for c in app.caption]
    parts += [t.value for t in app.title] + [s.value for s in app.subheader]
    return "\n".join(str(p) for p in parts)


def test_sign_in_refuses_a_wrong_password_and_accepts_the_right_one(
    app: AppTest, seeded: SeededDuty
) -> None:
    app.run()
    assert app.title[0].value == "户外劳动者驿站"  # before sign-in: the default, Chinese
    app.text_input[0].input(MANAGER)
    app.text_input[1].input("not-the-password")
    app.button[0].click().run()
    assert [e.value for e in app.error] == ["用户名或密码错误。"]
    assert "token" not in app.session_state
    app.text_input[1].input(MANAGER_PASSWORD)
    app.button[0].click().run()
    assert not app.exception
    assert app.session_state["token"]
    assert app.session_state["user"].language == "zh-CN"  # the user's own setting
    assert app.title[0].value == "总览"


def test_overview_shows_only_the_managers_stations(app: AppTest, seeded: SeededDuty) -> None:
    _signed_in(app, seeded)
    assert not app.exception
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Stations"] == str(len(MANAGED))
    table = app.dataframe[0].value
    assert sorted(table["station"]) == MANAGED
    assert len(app.get("vega_lite_chart")) == 1  # the map
    with seeded.manager() as http:
        answer = http.get("/api/v1/stats/overview").json()
    overview, faces = answer["stations"], answer["faces"]
    assert metrics["Visits today"] == str(sum(s["visits_today"] for s in overview))
    assert metrics["Inside now"] == str(sum(s["inside"] for s in overview))
    # The seeded members' face consents at the manager's two stations, far below 100,000.
    assert faces["enrolled"] > 0
    assert metrics["Enrolled faces / filing threshold"] == f"{faces['enrolled']} / 100000"
    assert "Your stations only" in _text(app)
    assert not app.warning


def test_station_page_has_charts_alerts_snapshots_and_verdicts(
    app: AppTest, seeded: SeededDuty
) -> None:
    _signed_in(app, seeded)
    app.switch_page("pages/station.py").run()
    assert not app.exception
    assert app.selectbox[0].value == MANAGED[0]
    charts = app.get("vega_lite_chart")
    assert len(charts) == 6  # occupancy, hour, weekday, stay, occupations, alert time line
    with seeded.manager() as http:
        first = http.get("/api/v1/alerts", params={"station_id": MANAGED[0], "limit": 5}).json()
        with_snapshot = [
            a
            for a in first["items"]
            if http.get(f"/api/v1/events/{a['last_event_id']}/snapshot").status_code == 200
        ]
    assert len(app.get("image")) == len(with_snapshot) >= 1  # blurred snapshots
    text = _text(app)
    assert "Verdict:" in text
    app.selectbox[0].select(MANAGED[1]).run()
    assert not app.exception
    assert app.title[0].value.startswith(("Futian", "Luohu", "Nanshan", "Bao'an", "Longgang"))
    app.number_input(key="alert_page").set_value(2).run()
    assert "Page 2 of" in _text(app)


def test_devices_page_lists_offline_nodes_first_and_says_device_states_are_missing(
    app: AppTest, seeded: SeededDuty
) -> None:
    _signed_in(app, seeded)
    app.switch_page("pages/devices.py").run()
    assert not app.exception
    assert "No door, sensor or socket states" in app.warning[0].value
    nodes = app.dataframe[0].value
    assert set(nodes["station"]) <= set(MANAGED)
    states = list(nodes["state"])
    assert states == sorted(states, key=lambda s: {"offline": 0, "unknown": 1}.get(s, 2))
    assert {"fps (mean)", "inference ms", "CPU %", "temperature °C", "outbox depth"} <= set(
        nodes.columns
    )


def test_devices_page_shows_the_device_states_a_node_reports(
    app: AppTest, seeded: SeededDuty
) -> None:
    node_id = "node-002-a"  # st-002's node, one of the manager's stations
    door = DeviceSnapshot(
        device_id="door-1", available="online", values={"contact": "closed", "lock": "locked"}
    )
    plug = DeviceSnapshot(device_id="plug-3", available="offline", values={"power_w": 0.0})
    state = StationState(node_id=node_id, ts=utcnow(), devices=[door, plug])
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="dash-state-pub")
    publisher.connect("127.0.0.1", seeded.server.settings.mqtt_port)
    publisher.loop_start()
    topic = NodeTopics(node_id).topic(TopicKind.STATE)
    publisher.publish(topic, state.to_payload(), qos=1, retain=True).wait_for_publish(30)
    publisher.loop_stop()
    publisher.disconnect()

    def arrived() -> bool:
        with seeded.manager() as http:
            node = http.get(f"/api/v1/nodes/{node_id}").json()
        return bool(node.get("devices"))

    wait_until(arrived, 60, "cloud-duty to store the device states")
    _signed_in(app, seeded)
    app.switch_page("pages/devices.py").run()
    assert not app.exception
    devices = app.dataframe[0].value
    assert list(devices["device"]) == ["plug-3", "door-1"]  # offline first
    assert "lock: locked" in devices["last states"].iloc[1]
    assert any("not reported their devices yet" in c.value for c in app.caption)


def test_members_page_registers_finds_and_revokes(app: AppTest, seeded: SeededDuty) -> None:
    _signed_in(app, seeded)
    app.switch_page("pages/members.py").run()
    assert not app.exception
    app.text_input[0].input("courier")
    app.text_input[1].input("SF Express")
    app.text_input[2].input("not a phone")
    app.button[0].click().run()
    assert app.error
    assert "Not registered" in app.error[0].value
    app.text_input[2].input("")
    app.button[0].click().run()
    assert app.success, [e.value for e in app.error]
    member_id = app.session_state["member_id"]
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Member"] == member_id
    assert metrics["Entry"] == "allowed"
    app.text_input[3].input("no-such-member").run()
    assert app.error[0].value == "No member 'no-such-member'."
    app.text_input[3].input("m-000043").run()  # a member of st-002, with a face consent
    assert not app.exception
    assert app.dataframe[0].value["kind"].tolist() == ["face"]  # seeded face consent
    app.text_input[3].input(member_id).run()
    app.text_input[4].input("lost phone")
    revoke = next(b for b in app.button if b.label == "Revoke entry")
    revoke.click().run()
    assert any("is revoked" in s.value for s in app.success)
    with seeded.server.client() as http:
        assert http.get(f"/api/v1/members/{member_id}").json()["revoked"] is True


def test_reports_page_offers_csv_and_a_monthly_summary(app: AppTest, seeded: SeededDuty) -> None:
    _signed_in(app, seeded)
    app.switch_page("pages/reports.py").run()
    assert not app.exception
    assert len(app.get("download_button")) == 1
    rows = app.dataframe[0].value
    assert set(rows["station"]) <= set(MANAGED)
    assert {"day", "visits", "distinct members", "mean stay (s)", "alerts"} <= set(rows.columns)
    metrics = {m.label: m.value for m in app.metric}
    assert int(metrics["Visits"].replace(",", "")) > 0
    assert len(app.get("vega_lite_chart")) == 3


def test_members_page_makes_a_page_link_exports_and_erases(
    app: AppTest, seeded: SeededDuty
) -> None:
    _signed_in(app, seeded)
    app.switch_page("pages/members.py").run()
    app.button[0].click().run()  # register a member at the manager's first station
    member_id = app.session_state["member_id"]
    next(b for b in app.button if b.label == "Make page link").click().run()
    assert not app.exception
    link = app.code[0].value
    assert f"/members/{member_id}/page#c=UWM1." in link
    next(b for b in app.button if b.label == "Export everything held").click().run()
    downloads = [getattr(d, "label", "") for d in app.get("download_button")]
    assert "Download the export (JSON)" in downloads
    next(c for c in app.checkbox if c.label.startswith("Erase")).check().run()
    next(b for b in app.button if b.label == "Erase member").click().run()
    assert any("is erased" in s.value for s in app.success), [e.value for e in app.error]
    with seeded.manager() as http:
        assert http.get(f"/api/v1/members/{member_id}/export").status_code == 404
        [erased] = [e for e in http.get("/api/v1/erasures").json() if e["member_id"] == member_id]
    assert erased["orders"] == []  # no face enrolled: no node holds a template
    assert erased["complete"] is True


def _map_spec(app: AppTest) -> dict[str, Any]:
    """The map's Vega-Lite spec, with the frames Streamlit sent as Arrow put back in."""
    chart = app.get("vega_lite_chart")[0]
    spec: dict[str, Any] = json.loads(chart.proto.spec)
    for frame in chart.proto.datasets:
        rows = convert_arrow_bytes_to_pandas_df(frame.data.data).to_dict("records")
        spec.setdefault("datasets", {})[frame.name] = rows
    return spec


def test_overview_in_chinese_draws_stations_on_the_district_map(
    app: AppTest, seeded: SeededDuty
) -> None:
    _signed_in(app, seeded, language="zh-CN")
    assert not app.exception
    assert app.title[0].value == "总览"
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["驿站数"] == str(len(MANAGED))
    assert "驿站" in app.dataframe[0].value.columns
    spec = _map_spec(app)
    assert spec["projection"] == {"type": "identity", "reflectY": True}  # no tiles, offline
    districts, stations, names = spec["layer"]
    assert districts["mark"]["type"] == "geoshape"
    features = spec["datasets"][districts["data"]["name"]]  # inline: the outlines travel along
    assert {f["properties"]["label"] for f in features} >= {"福田区", "南山区", "龙岗区"}
    with seeded.manager() as http:
        overview = http.get("/api/v1/stats/overview").json()["stations"]
    by_district = {f["properties"]["label"]: f["properties"]["alerts"] for f in features}
    assert sum(by_district.values()) == sum(s["open_alerts"] for s in overview) > 0
    chinese = {"Futian": "福田区", "Luohu": "罗湖区", "Nanshan": "南山区", "Bao'an": "宝安区"}
    chinese |= {"Longgang": "龙岗区", "Longhua": "龙华区"}
    for station in overview:  # a district is shaded by the open alerts of its stations
        same = [s for s in overview if s["region"] == station["region"]]
        expected = sum(s["open_alerts"] for s in same)
        assert by_district[chinese[station["region"]]] == expected
    assert stations["mark"]["type"] == "circle"
    assert stations["encoding"]["color"]["legend"]["title"] == "状态"
    assert stations["encoding"]["size"]["field"] == "occupancy"
    points = spec["datasets"][stations["data"]["name"]]
    assert {p["id"]: p["occupancy"] for p in points} == {
        s["station_id"]: min(1.0, s["inside"] / s["capacity"]) for s in overview
    }
    assert names["mark"]["type"] == "text"
    assert {s["time_zone"] for s in overview} == {"Asia/Shanghai"}


def test_a_broken_base_map_is_reported_not_drawn(
    app: AppTest, seeded: SeededDuty, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "city.geojson"
    broken.write_text('{"type": "FeatureCollection", "features": []}')
    settings = DashboardSettings(duty_url=seeded.server.url, map_geojson=broken)
    monkeypatch.setattr(data, "SETTINGS", settings)
    _signed_in(app, seeded)
    assert not app.exception
    assert "not a usable district map" in app.error[0].value
    assert len(app.get("vega_lite_chart")) == 0
    assert app.dataframe[0].value is not None  # the rest of the page still works
