"""SMS and voice notifications through Aliyun (Dysms, Dyvms) and Tencent Cloud (SMS, VMS).

Chinese providers send only approved templates: a message is a template id plus its
parameters, here always the station, the alert kind, the escalation level and the alert's
short code (the one a person texts back to acknowledge), in that order. Each gateway signs
its request as the provider documents (`provider_signing`) and returns the provider's id of
the message or call, which its delivery receipt names later.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from station.duty.alerting.provider_signing import aliyun_rpc_signature, tc3_authorization
from station.duty.errors import UpstreamError

logger = logging.getLogger(__name__)

PhoneKind = Literal["sms", "voice"]
ALIYUN_ENDPOINTS = {
    "sms": "https://dysmsapi.aliyuncs.com/",
    "voice": "https://dyvmsapi.aliyuncs.com/",
}
TENCENT_ENDPOINTS = {
    "sms": "https://sms.tencentcloudapi.com/",
    "voice": "https://vms.tencentcloudapi.com/",
}
# Action, API version and, for Tencent, the signing service name of each kind.
ALIYUN_API = {"sms": ("SendSms", "2017-05-25"), "voice": ("SingleCallByTts", "2017-05-25")}
TENCENT_API = {
    "sms": ("SendSms", "2021-01-11", "sms"),
    "voice": ("SendTtsVoice", "2020-09-02", "vms"),
}


class ProviderError(UpstreamError):
    """The phone provider refused the message or could not be reached."""


@dataclass(frozen=True)
class PhoneMessage:
    """One templated text or call: the readable text (for logs and the stand-in) and the
    template parameters station, kind, level, code."""

    text: str
    station: str
    kind: str
    level: int
    code: str
    reference: str

    def params(self) -> dict[str, str]:
        """The named template parameters (Aliyun)."""
        return {
            "station": self.station,
            "kind": self.kind,
            "level": str(self.level),
            "code": self.code,
        }


class PhoneGateway(Protocol):
    """A provider that texts or calls one phone."""

    def send(self, phone: str, message: PhoneMessage) -> str:
        """Send; return the provider's message or call id, or raise ProviderError."""
        ...


class PhoneProviderSettings(BaseModel):
    """The provider account and template of one SMS or voice channel."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: Literal["logging", "aliyun", "tencent"] = Field(
        default="logging", description="logging (sends nothing, reports not sent), aliyun, tencent."
    )
    key_id: str = Field(default="", max_length=128, description="AccessKeyId / SecretId.")
    key_secret: SecretStr = Field(
        default=SecretStr(""), description="AccessKeySecret / SecretKey; refused if a placeholder."
    )
    region: str = Field(
        default="", max_length=32, description="Region; the provider's default if empty."
    )
    endpoint: str | None = Field(
        default=None,
        description="API URL; the provider's public endpoint if empty (tests point it away).",
    )
    template: str = Field(
        default="",
        max_length=64,
        description="TemplateCode / TtsCode (Aliyun), TemplateId (Tencent).",
    )
    sign_name: str = Field(default="", max_length=64, description="SMS signature name (签名).")
    app_id: str = Field(
        default="", max_length=64, description="Tencent SmsSdkAppId / VoiceSdkAppid."
    )
    show_number: str = Field(
        default="", max_length=32, description="Aliyun voice: the number the call shows."
    )
    timeout_s: float = Field(default=5.0, gt=0, le=60, description="HTTP timeout per request.")

    @model_validator(mode="after")
    def _check_provider_fields(self) -> PhoneProviderSettings:
        if self.provider == "logging":
            return self
        missing = [name for name in ("key_id", "template") if not getattr(self, name)]
        if not self.key_secret.get_secret_value():
            missing.append("key_secret")
        if self.provider == "tencent" and not self.app_id:
            missing.append("app_id")
        if self.endpoint is not None and not self.endpoint.startswith(("https://", "http://")):
            raise ValueError("endpoint must start with https:// or http://")
        if missing:
            raise ValueError(f"{self.provider} needs {', '.join(missing)}")
        return self


def _china_national(phone: str) -> str:
    """Aliyun takes mainland numbers without +86, other ones as 00<country><number>."""
    if phone.startswith("+86"):
        return phone[3:]
    return f"00{phone[1:]}" if phone.startswith("+") else phone


def _e164(phone: str) -> str:
    """Tencent takes E.164; a number without a country code is taken as mainland China."""
    return phone if phone.startswith("+") else f"+86{phone}"


def _post_or_get(request: Callable[[httpx.Client], httpx.Response], timeout_s: float) -> Any:
    try:
        with httpx.Client(timeout=httpx.Timeout(timeout_s)) as http:
            response = request(http)
    except httpx.TimeoutException as err:
        raise ProviderError(f"timeout ({type(err).__name__})") from err
    except httpx.HTTPError as err:
        raise ProviderError(f"transport error ({type(err).__name__})") from err
    try:
        return response.json()
    except ValueError as err:
        raise ProviderError(f"HTTP {response.status_code}, answer is not JSON") from err


class AliyunGateway:
    """Dysms SendSms or Dyvms SingleCallByTts, signed with the RPC HMAC-SHA1 signature."""

    def __init__(
        self, settings: PhoneProviderSettings, kind: PhoneKind, now: Callable[[], datetime]
    ):
        self._settings = settings
        self._kind = kind
        self._now = now
        self._endpoint = settings.endpoint or ALIYUN_ENDPOINTS[kind]

    def _params(self, phone: str, message: PhoneMessage) -> dict[str, str]:
        action, version = ALIYUN_API[self._kind]
        s = self._settings
        params = {
            "AccessKeyId": s.key_id,
            "Action": action,
            "Format": "JSON",
            "RegionId": s.region or "cn-hangzhou",
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "Timestamp": self._now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": version,
            "OutId": message.reference,
        }
        template_param = json.dumps(message.params(), ensure_ascii=False)
        if self._kind == "sms":
            params.update(
                PhoneNumbers=_china_national(phone),
                SignName=s.sign_name,
                TemplateCode=s.template,
                TemplateParam=template_param,
            )
        else:
            params.update(
                CalledNumber=_china_national(phone),
                CalledShowNumber=s.show_number,
                TtsCode=s.template,
                TtsParam=template_param,
                PlayTimes="2",
            )
        return params

    def send(self, phone: str, message: PhoneMessage) -> str:
        """Send the text or place the call; return BizId or CallId."""
        params = self._params(phone, message)
        secret = self._settings.key_secret.get_secret_value()
        params["Signature"] = aliyun_rpc_signature("GET", params, secret)
        answer = _post_or_get(
            lambda http: http.get(self._endpoint, params=params), self._settings.timeout_s
        )
        if not isinstance(answer, dict) or answer.get("Code") != "OK":
            code = answer.get("Code") if isinstance(answer, dict) else None
            text = answer.get("Message", "") if isinstance(answer, dict) else ""
            raise ProviderError(f"aliyun {code}: {text}"[:300])
        key = "BizId" if self._kind == "sms" else "CallId"
        return str(answer.get(key) or "")


class TencentGateway:
    """Tencent SMS SendSms or VMS SendTtsVoice, signed with TC3-HMAC-SHA256."""

    def __init__(
        self, settings: PhoneProviderSettings, kind: PhoneKind, now: Callable[[], datetime]
    ):
        self._settings = settings
        self._kind = kind
        self._now = now
        self._endpoint = httpx.URL(settings.endpoint or TENCENT_ENDPOINTS[kind])

    def _body(self, phone: str, message: PhoneMessage) -> dict[str, Any]:
        s = self._settings
        params = list(message.params().values())
        if self._kind == "sms":
            return {
                "PhoneNumberSet": [_e164(phone)],
                "SmsSdkAppId": s.app_id,
                "SignName": s.sign_name,
                "TemplateId": s.template,
                "TemplateParamSet": params,
                "SessionContext": message.reference,
            }
        return {
            "TemplateId": s.template,
            "TemplateParamSet": params,
            "CalledNumber": _e164(phone),
            "VoiceSdkAppid": s.app_id,
            "PlayTimes": 2,
            "SessionContext": message.reference,
        }

    def send(self, phone: str, message: PhoneMessage) -> str:
        """Send the text or place the call; return SerialNo or CallId."""
        action, version, service = TENCENT_API[self._kind]
        payload = json.dumps(self._body(phone, message), ensure_ascii=False).encode()
        timestamp = int(self._now().timestamp())
        host = self._endpoint.netloc.decode()
        s = self._settings
        headers = {
            "Authorization": tc3_authorization(
                s.key_id, s.key_secret.get_secret_value(), service, host, payload, timestamp
            ),
            "Content-Type": "application/json; charset=utf-8",
            "Host": host,
            "X-TC-Action": action,
            "X-TC-Timestamp": str(timestamp),
            "X-TC-Version": version,
            "X-TC-Region": s.region or "ap-guangzhou",
        }
        answer = _post_or_get(
            lambda http: http.post(self._endpoint, content=payload, headers=headers), s.timeout_s
        )
        return self._message_id(answer)

    def _message_id(self, answer: Any) -> str:
        response = answer.get("Response") if isinstance(answer, dict) else None
        if not isinstance(response, dict):
            raise ProviderError("tencent: answer without Response")
        error = response.get("Error")
        if isinstance(error, dict):
            raise ProviderError(f"tencent {error.get('Code')}: {error.get('Message', '')}"[:300])
        if self._kind == "voice":
            status = response.get("SendStatus") or {}
            return str(status.get("CallId") or "")
        statuses = response.get("SendStatusSet") or [{}]
        first = statuses[0] if isinstance(statuses[0], dict) else {}
        if first.get("Code") != "Ok":
            raise ProviderError(f"tencent {first.get('Code')}: {first.get('Message', '')}"[:300])
        return str(first.get("SerialNo") or "")


def build_gateway(
    settings: PhoneProviderSettings, kind: PhoneKind, now: Callable[[], datetime]
) -> PhoneGateway | None:
    """The provider's gateway, or None for the logging stand-in."""
    if settings.provider == "aliyun":
        return AliyunGateway(settings, kind, now)
    if settings.provider == "tencent":
        return TencentGateway(settings, kind, now)
    return None
