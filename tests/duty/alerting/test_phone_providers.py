"""Aliyun and Tencent Cloud SMS/voice clients: documented signatures, and real HTTP against a
local fake provider that recomputes every signature and refuses a wrong one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Literal

import pytest
from pydantic import SecretStr, ValidationError

from station.duty.alerting.notifiers import (
    Notice,
    SmsChannel,
    SmsNotifier,
    VoiceChannel,
    VoiceNotifier,
    build_notifiers,
)
from station.duty.alerting.provider_signing import (
    aliyun_rpc_signature,
    aliyun_string_to_sign,
    tc3_authorization,
    tc3_canonical_request,
)
from station.duty.settings import DutySettings
from tests.support.phone_provider import KEY_ID, SECRET, FakeProvider, fake_provider

PHONE = "+8613800000001"
NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)

# Aliyun's worked example of the RPC signature ("签名机制", DescribeRegions, testsecret).
ALIYUN_DOC_PARAMS = {
    "Timestamp": "2016-02-23T12:46:24Z",
    "Format": "XML",
    "AccessKeyId": "testid",
    "Action": "DescribeRegions",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
    "Version": "2014-05-26",
    "SignatureVersion": "1.0",
}
# Tencent Cloud's worked example of signature v3 (CVM DescribeInstances, 2019-02-25).
TENCENT_DOC_PAYLOAD = (
    b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
)


def test_aliyun_rpc_signature_matches_the_documented_example() -> None:
    assert aliyun_string_to_sign("GET", ALIYUN_DOC_PARAMS) == (
        "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML"
        "%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"
        "%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z"
        "%26Version%3D2014-05-26"
    )
    assert aliyun_rpc_signature("GET", ALIYUN_DOC_PARAMS, "testsecret") == (
        "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
    )


def test_tencent_tc3_signature_matches_the_documented_example() -> None:
    canonical = tc3_canonical_request("cvm.tencentcloudapi.com", TENCENT_DOC_PAYLOAD)
    assert canonical.endswith("35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064")
    authorization = tc3_authorization(
        "AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******",
        "Gu5t9xGARNpq86cd98joQYCN3*******",
        "cvm",
        "cvm.tencentcloudapi.com",
        TENCENT_DOC_PAYLOAD,
        1551113065,
    )
    assert authorization == (
        "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******/2019-02-25/cvm/"
        "tc3_request, SignedHeaders=content-type;host, "
        "Signature=2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"
    )


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    with fake_provider() as fake:
        yield fake


Provider = Literal["aliyun", "tencent"]


def _channel(
    kind: Literal["sms", "voice"], provider: Provider, url: str, secret: str = SECRET
) -> SmsChannel | VoiceChannel:
    fields = {
        "provider": provider,
        "key_id": KEY_ID,
        "key_secret": SecretStr(secret),
        "endpoint": url,
        "template": "SMS_1" if kind == "sms" else "TTS_1",
        "sign_name": "工站",
        "app_id": "1400000000" if provider == "tencent" else "",
        "show_number": "01000000000" if provider == "aliyun" else "",
        "timeout_s": 0.5,
    }
    if kind == "sms":
        return SmsChannel(kind="sms", **fields)
    return VoiceChannel(kind="voice", **fields)


def _notice(code: str = "4821") -> Notice:
    return Notice(
        alert_id=7,
        station_id="st-1",
        kind="fall",
        severity="critical",
        title="fall at station st-1",
        recipient=PHONE,
        escalation_level=1,
        short_code=code,
    )


class _Clock:
    def now(self) -> datetime:
        return NOW


@pytest.mark.parametrize(
    ("provider_name", "kind", "action", "phone"),
    [
        ("aliyun", "sms", "SendSms", "13800000001"),
        ("aliyun", "voice", "SingleCallByTts", "13800000001"),
        ("tencent", "sms", "SendSms", PHONE),
        ("tencent", "voice", "SendTtsVoice", PHONE),
    ],
)
def test_each_provider_accepts_a_correctly_signed_message(
    provider: FakeProvider,
    provider_name: Provider,
    kind: Literal["sms", "voice"],
    action: str,
    phone: str,
) -> None:
    notifier = build_notifiers({"ch": _channel(kind, provider_name, provider.url)}, _Clock())["ch"]
    assert isinstance(notifier, SmsNotifier if kind == "sms" else VoiceNotifier)
    result = notifier.send(_notice())
    assert result.ok, result.detail
    (sent,) = provider.sent
    assert (sent.provider, sent.action, sent.phone) == (provider_name, action, phone)
    assert result.message_id == sent.message_id
    values = sent.params.values() if isinstance(sent.params, dict) else sent.params
    assert list(values) == ["st-1", "fall", "1", "4821"]
    assert provider.refused == []


@pytest.mark.parametrize("provider_name", ["aliyun", "tencent"])
def test_a_wrong_secret_is_refused_by_the_provider_and_reported_not_sent(
    provider: FakeProvider, provider_name: Provider
) -> None:
    channel = _channel("sms", provider_name, provider.url, secret="not-the-secret-xyz")
    result = build_notifiers({"sms": channel}, _Clock())["sms"].send(_notice())
    assert not result.ok
    assert "Signature" in result.detail
    assert result.message_id is None
    assert provider.sent == []
    assert len(provider.refused) == 1


@pytest.mark.parametrize("provider_name", ["aliyun", "tencent"])
def test_a_provider_that_does_not_answer_in_time_is_a_failed_attempt(
    provider: FakeProvider, provider_name: Provider
) -> None:
    provider.delay_s = 1.5
    result = build_notifiers({"sms": _channel("sms", provider_name, provider.url)}, _Clock())[
        "sms"
    ].send(_notice())
    assert not result.ok
    assert "timeout" in result.detail


def test_provider_settings_name_what_is_missing_and_refuse_placeholders() -> None:
    with pytest.raises(ValidationError, match=r"tencent needs .*app_id"):
        SmsChannel(
            kind="sms",
            provider="tencent",
            key_id="id",
            key_secret=SecretStr("s" * 20),
            template="1",
        )
    with pytest.raises(ValidationError, match="endpoint must start with"):
        SmsChannel(
            kind="sms",
            provider="aliyun",
            key_id="id",
            key_secret=SecretStr("s" * 20),
            template="1",
            endpoint="ftp://x",
        )
    placeholder = _channel("sms", "aliyun", "http://127.0.0.1:9/", secret="change-me")
    production: dict[str, object] = {
        "environment": "production",
        "api_token": "a-real-service-token-123456",
        "admin_password": "a-real-admin-password",
        "database_url": "postgresql+psycopg://x@127.0.0.1/x",
    }
    with pytest.raises(ValidationError, match="key_secret is a placeholder"):
        DutySettings.model_validate({**production, "notifiers": {"sms": placeholder}})
    with pytest.raises(ValidationError, match="CALLBACK_SECRET is a placeholder"):
        DutySettings.model_validate({**production, "provider_callback_secret": "secret"})
    # Development keeps working with the placeholder, for a local try-out.
    development = DutySettings.model_validate({"notifiers": {"sms": placeholder}})
    assert development.notifiers["sms"] == placeholder
