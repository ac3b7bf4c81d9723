"""The overview's count of enrolled faces against the filing threshold, in Chinese, with a
warning from the configured share of the threshold on (a real cloud-duty with a small one)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import data
from dashboard.models import User
from dashboard.settings import DashboardSettings
from tests.support.broker import MosquittoBroker
from tests.support.duty_server import DutyServer

pytestmark = pytest.mark.integration
APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
PASSWORD = "admin-password-123"


@pytest.fixture
def duty(broker: MosquittoBroker, pg_url: str) -> Iterator[DutyServer]:
    """cloud-duty whose filing threshold is 4 people, with a warning from half of it."""
    server = DutyServer(
        pg_url, broker.port, face_filing_threshold=4, face_filing_warn_share=0.5
    ).start()
    server.register("st-1", "node-1")
    yield server
    server.stop()


def _enrol(http: httpx.Client, count: int) -> None:
    """Register members who give the face consent at st-1."""
    for _ in range(count):
        member = http.post("/api/v1/members", json={"station_id": "st-1"}).raise_for_status()
        consent = {"kind": "face", "text_version": "v1", "station_id": "st-1"}
        http.post(f"/api/v1/members/{member.json()['id']}/consents", json=consent)


def _overview(app: AppTest) -> AppTest:
    st.cache_data.clear()  # the figures are cached for a minute
    return app.run()


def test_enrolled_faces_are_shown_and_warned_of_near_the_threshold(
    duty: DutyServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(data, "SETTINGS", DashboardSettings(duty_url=duty.url))
    with duty.client() as http:
        user = {"username": "zhou", "password": PASSWORD, "role": "admin"}
        http.post("/api/v1/users", json=user).raise_for_status()
        login = http.post("/api/v1/auth/login", json={"username": "zhou", "password": PASSWORD})
        _enrol(http, 1)
    app = AppTest.from_file(APP, default_timeout=60)
    app.session_state["token"] = login.json()["access_token"]
    app.session_state["user"] = User.model_validate(login.json()["user"])  # zh-CN

    _overview(app)
    assert not app.exception
    assert {m.label: m.value for m in app.metric}["已登记人脸 / 备案阈值"] == "1 / 4"
    assert not app.warning  # below half of the threshold

    with duty.client() as http:
        _enrol(http, 1)
    _overview(app)
    assert {m.label: m.value for m in app.metric}["已登记人脸 / 备案阈值"] == "2 / 4"
    assert [w.value for w in app.warning] == [
        "已登记 2 人的人脸，达到备案阈值 4 人的 50%：请准备向省级网信部门备案。"
    ]

    with duty.client() as http:
        _enrol(http, 2)
    _overview(app)
    (due,) = app.warning
    assert due.value.startswith("已登记 4 人的人脸，已达到备案阈值 4 人")
    assert "30 个工作日内向省级网信部门备案" in due.value
