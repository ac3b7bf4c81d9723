"""Notifiers and the delivery service at unit level: rendering, signing, SMS, retries, log."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from station.duty.alerting.alerts import AlertNotFoundError
from station.duty.alerting.deliveries import DeliveryService, RetryPolicy, UnknownChannelError
from station.duty.alerting.models import Alert, Delivery
from station.duty.alerting.notifiers import (
    ChannelSettings,
    DeliveryResult,
    DingTalkWebhookNotifier,
    LoggingSmsGateway,
    Notice,
    SmsGatewayError,
    SmsNotifier,
    WeComWebhookNotifier,
    build_notifiers,
    dingtalk_sign,
    mask_recipient,
    render_markdown,
    render_sms,
)
from station.duty.alerting.phone_providers import PhoneMessage
from station.duty.alerting.routes import deliveries as deliveries_api
from station.duty.api.access import Caller, current_caller
from station.duty.api.handlers import install_error_handler
from station.duty.fleet.ingest import IngestPipeline
from station.duty.people.auth import Principal
from station.duty.people.models import Role
from station.duty.services import get_session
from tests.duty.conftest import AUTH, ManualClock
from tests.duty.messages import event, inbound

PHONE = "+8613812345678"


def notice(alert_id: int = 1, recipient: str = "duty-group", **fields: object) -> Notice:
    """A notice about a fall, with overridable fields."""
    base: dict[str, object] = {
        "alert_id": alert_id,
        "station_id": "st-1",
        "kind": "fall",
        "severity": "critical",
        "title": "Worker down in the rest room",
        "body": "Score 0.91, camera cam-1.",
        "console_url": "https://duty.example/alerts/1",
        "recipient": recipient,
        "escalation_level": 1,
    }
    base.update(fields)
    return Notice.model_validate(base)


class ScriptedNotifier:
    """A notifier whose answers are scripted, for the retry logic (unit-level fake)."""

    def __init__(self, *answers: bool | Exception) -> None:
        self.answers = list(answers)
        self.sent: list[Notice] = []

    def send(self, sent: Notice) -> DeliveryResult:
        """Return (or raise) the next scripted answer."""
        self.sent.append(sent)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        code = 200 if answer else 503
        return DeliveryResult(ok=answer, detail="scripted", status_code=code)


class FailingGateway:
    """An SMS gateway that always refuses."""

    def send(self, phone: str, message: PhoneMessage) -> str:
        """Refuse."""
        raise SmsGatewayError("quota exceeded")


@pytest.fixture
def alert_id(pipeline: IngestPipeline, engine: Engine, clock: ManualClock) -> int:
    """An open fall alert, raised through the ingest pipeline."""
    pipeline.process([inbound(event("ev-notify-1", clock.now()))])
    with Session(engine) as session:
        alert = session.exec(select(Alert)).one()
    assert alert.id is not None
    return alert.id


def _rows(engine: Engine) -> list[Delivery]:
    with Session(engine) as session:
        return list(session.exec(select(Delivery).order_by(col(Delivery.id))).all())


def test_notice_is_frozen_and_refuses_bad_fields() -> None:
    sample = notice()
    with pytest.raises(ValidationError):
        sample.title = "changed"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        notice(alert_id=-1)  # 0 is cloud-duty's own alarm (the dead-man's switch)
    with pytest.raises(ValidationError):
        notice(title="x" * 201)
    with pytest.raises(ValidationError):
        notice(recipient="")
    with pytest.raises(ValidationError):
        Notice.model_validate({**sample.model_dump(), "surprise": 1})


def test_markdown_names_station_kind_level_and_link_and_fits_the_robot_limit() -> None:
    text = render_markdown(notice(language="en"))
    assert "[CRITICAL] Worker down in the rest room" in text
    assert "station: st-1" in text
    assert "kind: fall" in text
    assert "escalation level 1" in text
    chinese = render_markdown(notice())  # the default reader reads Chinese
    assert "[紧急] Worker down in the rest room" in chinese
    assert "驿站：st-1 · 类型：跌倒" in chinese
    assert "第 1 级升级" in chinese
    assert "[在值班台中打开](https://duty.example/alerts/1)" in chinese
    assert "(https://duty.example/alerts/1)" in text
    long_text = render_markdown(notice(body="跌倒" * 1000))  # 6,000 bytes of UTF-8
    assert len(long_text.encode()) <= 4096
    assert long_text.endswith("...")
    first = render_markdown(notice(escalation_level=0, console_url=None, body="", language="en"))
    assert "escalation" not in first
    assert "duty console" not in first


def test_dingtalk_sign_is_base64_hmac_sha256_of_timestamp_and_secret() -> None:
    secret, ts = "SEC-test-secret", 1_700_000_000_000
    expected = hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
    assert base64.b64decode(dingtalk_sign(secret, ts)) == expected
    assert dingtalk_sign(secret, ts) != dingtalk_sign(secret, ts + 1)


def test_phone_numbers_are_masked_names_are_not() -> None:
    assert mask_recipient(PHONE) == "+86****5678"
    assert mask_recipient("13812345678") == "138****5678"
    assert mask_recipient("wang.li") == "wang.li"
    assert mask_recipient("ops-wecom") == "ops-wecom"


def test_sms_goes_through_the_gateway_with_the_phone_masked_in_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    gateway = LoggingSmsGateway()
    caplog.set_level(logging.DEBUG)
    result = SmsNotifier(gateway).send(notice(recipient=PHONE))
    # The stand-in reaches no phone: it must say "not sent", never "ok".
    assert not result.ok
    assert "not sent" in result.detail
    assert gateway.sent == [(PHONE, render_sms(notice(recipient=PHONE)))]
    assert "st-1" in gateway.sent[0][1]
    assert PHONE not in caplog.text
    assert "+86****5678" in caplog.text


def test_sms_refuses_a_recipient_that_is_no_phone_and_reports_gateway_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    gateway = LoggingSmsGateway()
    refused = SmsNotifier(gateway).send(notice(recipient="wang.li"))
    assert (refused.ok, refused.detail) == (False, "recipient is not a phone number")
    assert gateway.sent == []
    caplog.set_level(logging.DEBUG)
    failed = SmsNotifier(FailingGateway()).send(notice(recipient=PHONE))
    assert not failed.ok
    assert "quota exceeded" in failed.detail
    assert PHONE not in caplog.text


def test_retries_with_exponential_backoff_until_it_succeeds(
    engine: Engine, alert_id: int, clock: ManualClock
) -> None:
    waits: list[float] = []
    notifier = ScriptedNotifier(False, False, True)
    service = DeliveryService(
        engine, {"wecom": notifier}, clock, waits.append, RetryPolicy(attempts=5, base_delay_s=2)
    )
    report = service.deliver("wecom", notice(alert_id))
    assert (report.ok, report.attempts, report.last.status_code) == (True, 3, 200)
    assert waits == [2.0, 4.0]
    rows = _rows(engine)
    assert [(r.attempt, r.ok, r.status_code) for r in rows] == [
        (1, False, 503),
        (2, False, 503),
        (3, True, 200),
    ]
    assert {(r.alert_id, r.channel, r.recipient, r.at) for r in rows} == {
        (alert_id, "wecom", "duty-group", clock.now())
    }


def test_gives_up_after_the_configured_attempts_with_capped_waits(
    engine: Engine, alert_id: int, clock: ManualClock
) -> None:
    waits: list[float] = []
    policy = RetryPolicy(attempts=4, base_delay_s=1, max_delay_s=3)
    service = DeliveryService(engine, {"sms": ScriptedNotifier(False)}, clock, waits.append, policy)
    report = service.deliver("sms", notice(alert_id, recipient=PHONE))
    assert (report.ok, report.attempts) == (False, 4)
    assert waits == [1.0, 2.0, 3.0]
    rows = _rows(engine)
    assert [(r.attempt, r.ok) for r in rows] == [(1, False), (2, False), (3, False), (4, False)]
    assert {r.recipient for r in rows} == {"+86****5678"}  # never the phone in clear


def test_a_notifier_that_raises_counts_as_a_failed_attempt(
    engine: Engine, alert_id: int, clock: ManualClock
) -> None:
    notifier = ScriptedNotifier(RuntimeError("bug"), True)
    service = DeliveryService(engine, {"wecom": notifier}, clock, lambda _s: None)
    report = service.deliver("wecom", notice(alert_id))
    assert (report.ok, report.attempts) == (True, 2)
    first = _rows(engine)[0]
    assert (first.ok, first.detail) == (False, "notifier raised RuntimeError")


def test_unknown_channel_or_alert_is_refused_and_records_nothing(
    engine: Engine, alert_id: int, clock: ManualClock
) -> None:
    notifier = ScriptedNotifier(True)
    service = DeliveryService(engine, {"wecom": notifier}, clock, lambda _s: None)
    with pytest.raises(UnknownChannelError, match="no notifier named 'pager'"):
        service.deliver("pager", notice(alert_id))
    with pytest.raises(AlertNotFoundError, match="no alert 999999"):
        service.deliver("wecom", notice(999_999))
    assert notifier.sent == []
    assert _rows(engine) == []


def test_retry_policy_refuses_nonsense() -> None:
    with pytest.raises(ValidationError):
        RetryPolicy(attempts=0)
    with pytest.raises(ValidationError):
        RetryPolicy(base_delay_s=-1)
    with pytest.raises(ValidationError):
        RetryPolicy.model_validate({"attempts": 3, "jitter": True})


CALLER: dict[str, Principal] = {}


@pytest.fixture
def deliveries_client(engine: Engine) -> Iterator[TestClient]:
    """Only the deliveries router, on the test database, with the caller set by the test."""
    app = FastAPI()
    install_error_handler(app)
    app.include_router(deliveries_api.router, prefix="/api/v1")

    def session() -> Iterator[Session]:
        with Session(engine) as opened:
            yield opened

    app.dependency_overrides[get_session] = session
    app.dependency_overrides[current_caller] = lambda: Caller(CALLER["who"], engine)
    CALLER["who"] = Principal(name="duty-1", role=Role.DUTY)
    with TestClient(app) as client:
        yield client


def test_deliveries_route_lists_attempts_and_404s_unknown_alerts(
    engine: Engine, alert_id: int, clock: ManualClock, deliveries_client: TestClient
) -> None:
    assert deliveries_client.get(f"/api/v1/alerts/{alert_id}/deliveries").json() == []
    notifier = ScriptedNotifier(False, True)
    service = DeliveryService(engine, {"wecom": notifier}, clock, lambda _s: None)
    service.deliver("wecom", notice(alert_id))
    listed = deliveries_client.get(f"/api/v1/alerts/{alert_id}/deliveries").json()
    assert [(d["attempt"], d["ok"], d["channel"]) for d in listed] == [
        (1, False, "wecom"),
        (2, True, "wecom"),
    ]
    missing = deliveries_client.get("/api/v1/alerts/999999/deliveries")
    assert missing.status_code == 404
    assert missing.json()["detail"] == "no alert 999999"
    assert deliveries_client.get("/api/v1/alerts/abc/deliveries").status_code == 422


def test_a_manager_of_another_station_gets_403(
    alert_id: int, deliveries_client: TestClient
) -> None:
    CALLER["who"] = Principal(name="mgr-2", role=Role.MANAGER, station_ids=frozenset({"st-2"}))
    refused = deliveries_client.get(f"/api/v1/alerts/{alert_id}/deliveries")
    assert refused.status_code == 403
    CALLER["who"] = Principal(name="mgr-1", role=Role.MANAGER, station_ids=frozenset({"st-1"}))
    assert deliveries_client.get(f"/api/v1/alerts/{alert_id}/deliveries").status_code == 200


def test_channel_settings_build_notifiers_and_refuse_bad_ones() -> None:
    channels = TypeAdapter(dict[str, ChannelSettings]).validate_python(
        {
            "ops-wecom": {"kind": "wecom", "url": "https://qyapi.example/send?key=k"},
            "ops-ding": {
                "kind": "dingtalk",
                "url": "https://oapi.example/robot/send?access_token=t",
                "secret": "SECabc",
            },
            "sms": {"kind": "sms"},
        }
    )
    built = build_notifiers(channels)
    assert isinstance(built["ops-wecom"], WeComWebhookNotifier)
    assert isinstance(built["ops-ding"], DingTalkWebhookNotifier)
    assert isinstance(built["sms"], SmsNotifier)
    assert "key=k" not in repr(channels["ops-wecom"])  # the URL is a secret
    bad = [
        {"kind": "wecom", "url": "ftp://x"},
        {"kind": "wecom", "url": "https://x", "secret": "SEC"},
        {"kind": "pager", "url": "https://x"},
        {"kind": "sms", "provider": "aliyun"},
        {"kind": "wecom", "url": "https://x", "timeout_s": 0},
        {"kind": "wecom", "url": "https://x", "retries": 3},
    ]
    for body in bad:
        with pytest.raises(ValidationError):
            TypeAdapter(ChannelSettings).validate_python(body)


def test_the_app_serves_deliveries_behind_its_token(api: TestClient) -> None:
    assert api.get("/api/v1/alerts/1/deliveries").status_code == 401
    missing = api.get("/api/v1/alerts/999999/deliveries", headers=AUTH)
    assert (missing.status_code, missing.json()["detail"]) == (404, "no alert 999999")
