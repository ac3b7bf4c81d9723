"""Notifiers: one protocol for every way an alert reaches a person outside the console.

WeCom and DingTalk group robots take a webhook POST; SMS goes through a provider behind
`SmsGateway`. A notifier never raises: a failure comes back as `DeliveryResult(ok=False)`
so the delivery service can record it and retry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Protocol

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from station.duty.alerting.phone_providers import (
    PhoneGateway,
    PhoneMessage,
    PhoneProviderSettings,
    ProviderError,
    build_gateway,
)
from station.duty.clock import Clock, SystemClock
from station.i18n import DEFAULT_LANGUAGE, Language, translations
from station.i18n.words import KINDS, SEVERITIES, label

logger = logging.getLogger(__name__)

# Both robots refuse markdown over 4096 bytes (WeCom documents it; DingTalk is similar).
MARKDOWN_LIMIT_BYTES = 4096
SMS_LIMIT_CHARS = 300
DEFAULT_TIMEOUT_S = 5.0
PHONE_PATTERN = re.compile(r"^\+?[0-9]{6,15}$")
_DETAIL_LIMIT = 300


class _HideQueryStrings(logging.Filter):
    """httpx logs each request's full URL at INFO; robot URLs carry their key in the query."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Replace the query of any URL argument with a marker; keep the record."""
        if isinstance(record.args, tuple):
            record.args = tuple(
                f"{arg.copy_with(query=None)}?<hidden>"
                if isinstance(arg, httpx.URL) and arg.query
                else arg
                for arg in record.args
            )
        return True


logging.getLogger("httpx").addFilter(_HideQueryStrings())


class Notice(BaseModel):
    """What one notification says about one alert, to one recipient."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    alert_id: int = Field(
        ge=0, description="The alert this notice is about; 0 for cloud-duty's own alarms."
    )
    station_id: str = Field(min_length=1, max_length=64, description="Station of the alert.")
    kind: str = Field(min_length=1, max_length=32, description="Alert kind, e.g. fall.")
    severity: str = Field(min_length=1, max_length=16, description="Alert severity.")
    title: str = Field(min_length=1, max_length=200, description="One-line headline.")
    body: str = Field(default="", max_length=2000, description="Details for the reader.")
    console_url: str | None = Field(
        default=None, max_length=500, description="Link to the alert in the duty console."
    )
    recipient: str = Field(
        min_length=1, max_length=128, description="User name, phone number or webhook name."
    )
    escalation_level: int = Field(default=0, ge=0, le=100, description="0 = first step.")
    language: Language = Field(default=DEFAULT_LANGUAGE, description="What the reader reads.")
    short_code: str = Field(
        default="", max_length=16, description="Code a person texts back to acknowledge."
    )


class DeliveryResult(BaseModel):
    """The outcome of one attempt to deliver a notice."""

    model_config = ConfigDict(frozen=True)

    ok: bool = Field(description="The provider accepted the message.")
    detail: str = Field(default="", description="Why not, or the provider's answer.")
    status_code: int | None = Field(default=None, description="HTTP status, if any.")
    message_id: str | None = Field(
        default=None, description="The provider's id of the text or call; receipts name it."
    )


class Notifier(Protocol):
    """Sends one notice through one channel; never raises."""

    def send(self, notice: Notice) -> DeliveryResult:
        """Try once to deliver the notice."""
        ...


def mask_recipient(recipient: str) -> str:
    """Hide the middle of a phone number; other recipients are names and stay readable."""
    if PHONE_PATTERN.match(recipient):
        return f"{recipient[:3]}****{recipient[-4:]}"
    return recipient


def render_markdown(notice: Notice) -> str:
    """The markdown both robots show: severity, kind, station, text, console link."""
    _ = translations(notice.language).gettext
    severity = label(SEVERITIES, notice.severity, notice.language)
    kind = label(KINDS, notice.kind, notice.language)
    lines = [
        f"### [{severity.upper()}] {notice.title}",
        "> "
        + _("station: {station} · kind: {kind} · alert #{alert}").format(
            station=notice.station_id, kind=kind, alert=notice.alert_id
        ),
    ]
    if notice.escalation_level:
        lines.append(
            "> "
            + _("escalation level {level}: nobody has acknowledged").format(
                level=notice.escalation_level
            )
        )
    if notice.body:
        lines.append(notice.body)
    if notice.console_url:
        link = _("Open in the duty console")
        lines.append(f"[{link}]({notice.console_url})")
    return _cut_bytes("\n\n".join(lines), MARKDOWN_LIMIT_BYTES)


def render_sms(notice: Notice) -> str:
    """A short plain text for SMS."""
    _ = translations(notice.language).gettext
    severity = label(SEVERITIES, notice.severity, notice.language)
    text = f"[{severity.upper()}] {notice.title} - " + _("station {station}").format(
        station=notice.station_id
    )
    if notice.escalation_level:
        text += " (" + _("escalation {level}").format(level=notice.escalation_level) + ")"
    if notice.short_code:
        text += " " + _("Reply {code} to acknowledge").format(code=notice.short_code)
    if notice.console_url:
        text += f" {notice.console_url}"
    return text[:SMS_LIMIT_CHARS]


def _cut_bytes(text: str, limit: int) -> str:
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode(errors="ignore") + "..."


def _robot_answer(response: httpx.Response) -> DeliveryResult:
    """Both robots answer HTTP 200 with {"errcode": 0} on success, another errcode on refusal."""
    code = response.status_code
    if not response.is_success:
        return DeliveryResult(ok=False, detail=f"HTTP {code}", status_code=code)
    try:
        answer: Any = response.json()
    except ValueError:
        return DeliveryResult(ok=False, detail="answer is not JSON", status_code=code)
    errcode = answer.get("errcode") if isinstance(answer, dict) else None
    if errcode != 0:
        errmsg = str(answer.get("errmsg", "")) if isinstance(answer, dict) else ""
        detail = f"errcode {errcode}: {errmsg}"[:_DETAIL_LIMIT]
        return DeliveryResult(ok=False, detail=detail, status_code=code)
    return DeliveryResult(ok=True, detail="accepted", status_code=code)


class _WebhookRobot:
    """POSTs JSON to a robot webhook; the URL carries the robot's key, so it is never logged."""

    channel = "webhook"

    def __init__(self, url: SecretStr, timeout_s: float) -> None:
        self._url = url
        self._timeout = httpx.Timeout(timeout_s)

    def _post(self, body: dict[str, Any], params: dict[str, str] | None = None) -> DeliveryResult:
        url = httpx.URL(self._url.get_secret_value())
        if params:
            # Merge: passing params= to post() would drop the access_token already in the URL.
            url = url.copy_merge_params(params)
        try:
            with httpx.Client(timeout=self._timeout) as http:
                response = http.post(url, json=body)
        except httpx.TimeoutException as err:
            result = DeliveryResult(ok=False, detail=f"timeout ({type(err).__name__})")
        except httpx.HTTPError as err:
            # The message of some transport errors quotes the URL; name the error class only.
            result = DeliveryResult(ok=False, detail=f"transport error ({type(err).__name__})")
        else:
            result = _robot_answer(response)
        if not result.ok:
            logger.warning("%s delivery failed: %s", self.channel, result.detail)
        return result


class WeComWebhookNotifier(_WebhookRobot):
    """A WeCom (企业微信) group robot: markdown message to its webhook."""

    channel = "wecom"

    def __init__(self, url: str | SecretStr, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        super().__init__(url if isinstance(url, SecretStr) else SecretStr(url), timeout_s)

    def send(self, notice: Notice) -> DeliveryResult:
        """POST the notice as a WeCom markdown message."""
        body = {"msgtype": "markdown", "markdown": {"content": render_markdown(notice)}}
        return self._post(body)


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's signature: base64(HMAC-SHA256(secret, "<timestamp>\\n<secret>"))."""
    message = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class DingTalkWebhookNotifier(_WebhookRobot):
    """A DingTalk (钉钉) group robot: markdown message, signed when the robot has a secret."""

    channel = "dingtalk"

    def __init__(
        self,
        url: str | SecretStr,
        secret: SecretStr | None = None,
        clock: Clock | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        super().__init__(url if isinstance(url, SecretStr) else SecretStr(url), timeout_s)
        self._secret = secret
        self._clock = clock or SystemClock()

    def send(self, notice: Notice) -> DeliveryResult:
        """POST the notice as a DingTalk markdown message."""
        body = {
            "msgtype": "markdown",
            "markdown": {"title": notice.title[:64], "text": render_markdown(notice)},
        }
        return self._post(body, self._sign_params())

    def _sign_params(self) -> dict[str, str] | None:
        if self._secret is None:
            return None
        # DingTalk refuses a timestamp more than an hour off its own clock.
        timestamp_ms = int(self._clock.now().timestamp() * 1000)
        sign = dingtalk_sign(self._secret.get_secret_value(), timestamp_ms)
        return {"timestamp": str(timestamp_ms), "sign": sign}


class SmsGatewayError(ProviderError):
    """The SMS provider refused or could not be reached."""


SmsGateway = PhoneGateway


@dataclass
class LoggingSmsGateway:
    """A stand-in for a real SMS provider: records what it would send, sends nothing.

    It reports every text as not sent: a page that reaches no phone must never look delivered.
    """

    sent: list[tuple[str, str]] = field(default_factory=list)

    def send(self, phone: str, message: PhoneMessage) -> str:
        """Record the text, log it with the phone number masked, and raise: nothing was sent."""
        self.sent.append((phone, message.text))
        logger.warning(
            "SMS stand-in: %d chars to %s NOT sent (no SMS provider configured)",
            len(message.text),
            mask_recipient(phone),
        )
        raise SmsGatewayError("not sent: logging stand-in, no SMS provider configured")


class PhoneNotifier:
    """Sends a notice as a text or a call through a provider; the recipient is a phone."""

    channel = "phone"

    def __init__(self, gateway: PhoneGateway) -> None:
        self._gateway = gateway

    def send(self, notice: Notice) -> DeliveryResult:
        """Send the short text of the notice to the recipient's phone."""
        if not PHONE_PATTERN.match(notice.recipient):
            return DeliveryResult(ok=False, detail="recipient is not a phone number")
        message = PhoneMessage(
            text=render_sms(notice),
            station=notice.station_id,
            kind=notice.kind,
            level=notice.escalation_level,
            code=notice.short_code,
            reference=f"alert-{notice.alert_id}",
        )
        try:
            message_id = self._gateway.send(notice.recipient, message)
        except ProviderError as err:
            detail = f"{self.channel} provider: {err}"[:_DETAIL_LIMIT]
            logger.warning(
                "%s to %s failed: %s", self.channel, mask_recipient(notice.recipient), detail
            )
            return DeliveryResult(ok=False, detail=detail)
        return DeliveryResult(
            ok=True,
            detail=f"accepted as {message_id}"[:_DETAIL_LIMIT],
            message_id=message_id or None,
        )


class SmsNotifier(PhoneNotifier):
    """A text message through an SMS provider."""

    channel = "sms"


class VoiceNotifier(PhoneNotifier):
    """A text-to-speech voice call through a voice-notification provider."""

    channel = "voice"


class WebhookChannel(BaseModel):
    """Settings of one robot webhook channel."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["wecom", "dingtalk"] = Field(description="Which robot message shape to send.")
    url: SecretStr = Field(description="The robot's webhook URL; it carries the robot's key.")
    secret: SecretStr | None = Field(
        default=None, description="DingTalk signing secret (SEC...); not used by WeCom."
    )
    timeout_s: float = Field(default=DEFAULT_TIMEOUT_S, gt=0, le=60, description="HTTP timeout.")

    @model_validator(mode="after")
    def _check(self) -> WebhookChannel:
        if not self.url.get_secret_value().startswith(("https://", "http://")):
            raise ValueError("webhook url must start with https:// or http://")
        if self.secret is not None and self.kind != "dingtalk":
            raise ValueError("only DingTalk robots take a signing secret")
        return self


class SmsChannel(PhoneProviderSettings):
    """Settings of the SMS channel."""

    kind: Literal["sms"] = Field(description="SMS through a provider.")


class VoiceChannel(PhoneProviderSettings):
    """Settings of the voice-call channel: the failover after an unconfirmed SMS."""

    kind: Literal["voice"] = Field(description="Text-to-speech voice call through a provider.")


PhoneChannel = SmsChannel | VoiceChannel
ChannelSettings = Annotated[WebhookChannel | SmsChannel | VoiceChannel, Field(discriminator="kind")]


def build_notifiers(
    channels: Mapping[str, WebhookChannel | SmsChannel | VoiceChannel], clock: Clock | None = None
) -> dict[str, Notifier]:
    """Build one notifier per configured channel name."""
    now = (clock or SystemClock()).now
    built: dict[str, Notifier] = {}
    for name, channel in channels.items():
        if isinstance(channel, SmsChannel | VoiceChannel):
            gateway = build_gateway(channel, channel.kind, now) or LoggingSmsGateway()
            kind = SmsNotifier if channel.kind == "sms" else VoiceNotifier
            built[name] = kind(gateway)
        elif channel.kind == "wecom":
            built[name] = WeComWebhookNotifier(channel.url, channel.timeout_s)
        else:
            built[name] = DingTalkWebhookNotifier(
                channel.url, channel.secret, clock, channel.timeout_s
            )
    return built
