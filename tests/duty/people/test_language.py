"""Each user's language and each station's time zone through the API: zh-CN and
Asia/Shanghai unless chosen, changed by the user alone, bad values refused unchanged."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.duty.conftest import AUTH, user_headers


def _me(api: TestClient, headers: dict[str, str]) -> dict[str, object]:
    answer = api.get("/api/v1/auth/me", headers=headers)
    answer.raise_for_status()
    me: dict[str, object] = answer.json()
    return me


def test_a_new_user_reads_chinese_and_may_switch_to_english(api: TestClient) -> None:
    li = user_headers(api, "li", "duty")
    assert _me(api, li)["language"] == "zh-CN"
    changed = api.patch("/api/v1/auth/me", json={"language": "en"}, headers=li)
    assert changed.status_code == 200
    assert changed.json()["language"] == "en"
    assert _me(api, li)["language"] == "en"
    audit = api.get("/api/v1/audit", params={"actor": "li"}, headers=AUTH).json()["items"]
    assert [(a["action"], a["detail"]) for a in audit if a["action"] == "change settings"] == [
        ("change settings", "en")
    ]


def test_a_user_created_in_english_and_bad_languages_refused(api: TestClient) -> None:
    body = {"username": "smith", "password": "smith-password-1", "role": "duty"}
    created = api.post("/api/v1/users", json={**body, "language": "en"}, headers=AUTH)
    assert created.json()["language"] == "en"
    refused = api.post(
        "/api/v1/users", json={**body, "username": "jones", "language": "fr"}, headers=AUTH
    )
    assert refused.status_code == 422
    li = user_headers(api, "li", "duty")
    for bad in ({"language": "klingon"}, {"language": "en", "role": "admin"}, {}):
        assert api.patch("/api/v1/auth/me", json=bad, headers=li).status_code == 422
    assert _me(api, li)["language"] == "zh-CN"  # unchanged


def test_callers_without_settings_read_the_default_and_cannot_change_it(api: TestClient) -> None:
    assert _me(api, AUTH)["language"] == "zh-CN"  # the service token is no user
    assert api.patch("/api/v1/auth/me", json={"language": "en"}, headers=AUTH).status_code == 404


def test_stations_have_a_time_zone_checked_on_registration(api: TestClient) -> None:
    assert api.get("/api/v1/stations/st-1", headers=AUTH).json()["time_zone"] == "Asia/Shanghai"
    body = {"id": "st-west", "name": "Kashgar rest stop", "time_zone": "Asia/Urumqi"}
    created = api.post("/api/v1/stations", json=body, headers=AUTH)
    assert created.status_code == 201, created.text
    assert created.json()["time_zone"] == "Asia/Urumqi"
    bad = {"id": "st-mars", "name": "Nowhere", "time_zone": "Mars/Olympus_Mons"}
    refused = api.post("/api/v1/stations", json=bad, headers=AUTH)
    assert refused.status_code == 422
    assert "unknown time zone" in refused.text
    assert api.get("/api/v1/stations/st-mars", headers=AUTH).status_code == 404
