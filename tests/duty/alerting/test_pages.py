"""Pages that reach a phone: SMS, then voice, then the next person while no receipt confirms;
provider receipts and replies through the callback routes, checked by the callback key."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlmodel import Session, col, select

from station.duty.alerting.deliveries import RetryPolicy
from station.duty.alerting.models import (
    Alert,
    AlertPublic,
    AlertStatus,
    Delivery,
    PageState,
    PhonePage,
)
from station.duty.alerting.notifiers import SmsChannel, VoiceChannel
from station.duty.alerting.pages import PageService
from station.duty.app import create_app
from station.duty.people.auth import create_user
from station.duty.people.models import Role, UserCreate
from station.duty.services import Services, services_of
from station.duty.settings import DutySettings
from tests.duty.conftest import ManualClock, register
from tests.duty.messages import event, inbound
from tests.support.phone_provider import KEY_ID, SECRET, FakeProvider, fake_provider

CALLBACK_KEY = "callback-secret-0123456789"
CONFIRM_S = 60
PHONES = {"wang": "+8613800000001", "li": "+8613800000002"}


@dataclass
class Desk:
    """cloud-duty with Aliyun SMS and Tencent voice pointed at the fake provider."""

    api: TestClient
    services: Services
    pages: PageService
    provider: FakeProvider
    clock: ManualClock
    alert: AlertPublic

    def deliveries(self) -> list[Delivery]:
        with Session(self.services.engine) as session:
            return list(session.exec(select(Delivery).order_by(col(Delivery.id))).all())

    def page(self) -> PhonePage:
        with Session(self.services.engine) as session:
            return session.exec(select(PhonePage)).one()

    def alert_status(self) -> AlertStatus:
        with Session(self.services.engine) as session:
            alert = session.get(Alert, self.alert.id)
            assert alert is not None
            return alert.status


def _phone_channels(url: str) -> dict[str, SmsChannel | VoiceChannel]:
    common = {"key_id": KEY_ID, "key_secret": SecretStr(SECRET), "endpoint": url}
    return {
        "sms": SmsChannel(
            kind="sms", provider="aliyun", template="SMS_1", sign_name="工站", **common
        ),
        "voice": VoiceChannel(
            kind="voice", provider="tencent", template="9", app_id="1400", **common
        ),
    }


@pytest.fixture
def desk(tmp_path: Path, clock: ManualClock) -> Iterator[Desk]:
    with fake_provider() as provider:
        settings = DutySettings(
            database_url=f"sqlite:///{tmp_path / 'duty.sqlite'}",
            key_file=str(tmp_path / "keys.json"),
            start_ingest=False,
            start_scheduler=False,
            notifiers=_phone_channels(provider.url),
            page_confirm_s=CONFIRM_S,
            provider_callback_secret=SecretStr(CALLBACK_KEY),
            delivery_retry=RetryPolicy(attempts=1),
        )
        app = create_app(settings, clock)
        with TestClient(app) as api:
            services = services_of(app)
            register(services.engine)
            with Session(services.engine) as session:
                for name, phone in PHONES.items():
                    body = UserCreate(
                        username=name, password="long-enough-pw", role=Role.DUTY, phone=phone
                    )
                    create_user(session, body)
            services.pipeline.process([inbound(event("ev-1", clock.now()))])
            with Session(services.engine) as session:
                alert = AlertPublic.model_validate(session.exec(select(Alert)).one())
            assert services.pages is not None
            yield Desk(api, services, services.pages, provider, clock, alert)


def _post(desk: Desk, path: str, body: object, key: str | None = CALLBACK_KEY) -> int:
    params = {"key": key} if key is not None else {}
    response = desk.api.post(f"/api/v1/providers/{path}", json=body, params=params)
    return int(response.status_code)


def test_an_unconfirmed_text_fails_over_to_a_call_then_to_the_next_person(desk: Desk) -> None:
    desk.services.pager.page(desk.alert, ["wang", "li"], 1)
    (text,) = desk.provider.sent
    assert (text.action, text.phone) == ("SendSms", "13800000001")
    code = desk.page().short_code
    assert text.params["code"] == code
    desk.clock.advance(CONFIRM_S - 1)
    assert desk.pages.fail_over_due() == 0  # not yet due
    desk.clock.advance(2)
    assert desk.pages.fail_over_due() == 1
    assert [(s.action, s.phone) for s in desk.provider.sent[1:]] == [
        ("SendTtsVoice", PHONES["wang"])
    ]
    desk.clock.advance(CONFIRM_S + 1)
    assert desk.pages.fail_over_due() == 1
    assert (desk.provider.sent[-1].action, desk.provider.sent[-1].phone) == (
        "SendSms",
        "13800000002",
    )
    assert [d.receipt for d in desk.deliveries()] == ["unconfirmed", "unconfirmed", None]
    # li's text is confirmed by Aliyun's receipt: the page stops moving.
    report = {"biz_id": desk.provider.sent[-1].message_id, "success": True, "err_code": "DELIVERED"}
    assert _post(desk, "aliyun/sms-reports", [report]) == 200
    assert desk.page().state is PageState.DELIVERED
    desk.clock.advance(10 * CONFIRM_S)
    assert desk.pages.fail_over_due() == 0
    assert len(desk.provider.sent) == 3
    assert desk.deliveries()[-1].receipt == "delivered"


def test_a_failed_receipt_fails_over_at_once_and_the_chain_ends_exhausted(desk: Desk) -> None:
    desk.services.pager.page(desk.alert, ["wang"], 1)
    failed = {"biz_id": desk.provider.sent[0].message_id, "success": False, "err_code": "MK:0001"}
    assert _post(desk, "aliyun/sms-reports", [failed]) == 200
    call = desk.provider.sent[1]
    assert call.action == "SendTtsVoice"
    unanswered = {"voiceprompt_callback": {"callid": call.message_id, "result": "1"}}
    assert _post(desk, "tencent/voice", unanswered) == 200
    assert desk.page().state is PageState.EXHAUSTED
    assert [d.receipt for d in desk.deliveries()] == ["failed", "failed"]
    assert desk.alert_status() is AlertStatus.OPEN


def test_replying_with_the_short_code_acknowledges_from_the_paged_phone_only(desk: Desk) -> None:
    desk.services.pager.page(desk.alert, ["wang", "li"], 1)
    code = desk.page().short_code
    stranger = {"phone_number": "13900000009", "content": code}
    wrong_code = {"phone_number": "13800000001", "content": "0000" if code != "0000" else "1111"}
    assert _post(desk, "aliyun/sms-replies", [stranger, wrong_code]) == 200
    assert desk.alert_status() is AlertStatus.OPEN
    reply = {"phone_number": "13800000001", "content": f"收到 {code}"}
    assert _post(desk, "aliyun/sms-replies", [reply]) == 200
    assert desk.alert_status() is AlertStatus.ACKNOWLEDGED
    assert desk.page().state is PageState.STOPPED
    with Session(desk.services.engine) as session:
        alert = session.get(Alert, desk.alert.id)
        assert alert is not None
        assert alert.acknowledged_by == "wang"
    desk.clock.advance(10 * CONFIRM_S)
    assert desk.pages.fail_over_due() == 0
    assert len(desk.provider.sent) == 1  # nobody else is bothered


def test_pressing_1_in_the_call_acknowledges(desk: Desk) -> None:
    desk.services.pager.page(desk.alert, ["li"], 1)
    desk.clock.advance(CONFIRM_S + 1)
    desk.pages.fail_over_due()
    call = desk.provider.sent[-1]
    pressed = {"voicekey_callback": {"callid": call.message_id, "keypress": "1", "mobile": "x"}}
    assert _post(desk, "tencent/voice", pressed) == 200
    assert desk.alert_status() is AlertStatus.ACKNOWLEDGED


@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_callbacks_without_the_key_are_refused_and_change_nothing(
    desk: Desk, key: str | None
) -> None:
    desk.services.pager.page(desk.alert, ["wang"], 1)
    code = desk.page().short_code
    sent = desk.provider.sent[0]
    calls = [
        ("aliyun/sms-reports", [{"biz_id": sent.message_id, "success": True}]),
        ("aliyun/sms-replies", [{"phone_number": "13800000001", "content": code}]),
        ("aliyun/voice-reports", [{"call_id": "x", "status_code": "200000", "dtmf": "1"}]),
        ("tencent/sms-status", [{"sid": sent.message_id, "report_status": "SUCCESS"}]),
        ("tencent/sms-replies", {"mobile": "13800000001", "text": code}),
        ("tencent/voice", {"voicekey_callback": {"callid": "x", "keypress": "1"}}),
    ]
    for path, body in calls:
        response = desk.api.post(
            f"/api/v1/providers/{path}", json=body, params={"key": key} if key else {}
        )
        assert response.status_code == 401, path
        assert "www-authenticate" not in response.headers
    assert desk.alert_status() is AlertStatus.OPEN
    assert desk.page().state is PageState.WAITING
    assert [d.receipt for d in desk.deliveries()] == [None]


def test_tencent_receipts_and_replies_reach_their_pages(desk: Desk) -> None:
    desk.services.pager.page(desk.alert, ["wang"], 1)
    desk.clock.advance(CONFIRM_S + 1)
    desk.pages.fail_over_due()
    call = desk.provider.sent[-1]
    answered = {"voiceprompt_callback": {"callid": call.message_id, "result": "0"}}
    assert _post(desk, "tencent/voice", answered) == 200
    assert desk.page().state is PageState.DELIVERED
    code = desk.page().short_code
    reply = {"mobile": "13800000001", "nationcode": "86", "text": code, "time": 1}
    assert _post(desk, "tencent/sms-replies", reply) == 200
    assert desk.alert_status() is AlertStatus.ACKNOWLEDGED
