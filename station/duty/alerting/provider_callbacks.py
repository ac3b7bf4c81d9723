"""What the SMS and voice providers call back with: delivery receipts and replies.

Aliyun pushes JSON arrays (SmsReport, SmsUp, VoiceReport); Tencent Cloud pushes arrays of SMS
status reports, one reply object, and voice objects keyed by callback kind. Providers add
fields over time, so the shapes keep what they know and ignore the rest.
"""

from __future__ import annotations

import hmac
import logging

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from station.duty.alerting.pages import PageService
from station.duty.errors import NotFoundError, UnauthorizedError

logger = logging.getLogger(__name__)

# Aliyun's voice report status code of a call that was answered and heard.
ALIYUN_VOICE_HEARD = "200000"
ACK_KEY = "1"


class _Callback(BaseModel):
    model_config = ConfigDict(extra="ignore")


class AliyunSmsReport(_Callback):
    """One Aliyun SmsReport: the BizId of a text and whether it reached the phone."""

    biz_id: str = Field(max_length=64, description="BizId returned by SendSms.")
    success: bool = Field(description="Delivered to the handset.")
    err_code: str = Field(default="", max_length=64, description="DELIVERED or the reason.")
    err_msg: str = Field(default="", max_length=200, description="The reason in words.")


class AliyunSmsUp(_Callback):
    """One Aliyun SmsUp: a text a person sent back."""

    phone_number: str = Field(max_length=32, description="Who replied.")
    content: str = Field(max_length=500, description="What they wrote.")


class AliyunVoiceReport(_Callback):
    """One Aliyun VoiceReport: how a call ended; `dtmf` holds the keys pressed."""

    call_id: str = Field(max_length=64, description="CallId returned by SingleCallByTts.")
    status_code: str = Field(max_length=16, description="200000: answered and heard.")
    status_msg: str = Field(default="", max_length=200, description="The outcome in words.")
    dtmf: str = Field(default="", max_length=32, description="Keys pressed during the call.")


class TencentSmsStatus(_Callback):
    """One Tencent SMS status report."""

    sid: str = Field(max_length=64, description="SerialNo returned by SendSms.")
    report_status: str = Field(max_length=16, description="SUCCESS or FAIL.")
    description: str = Field(default="", max_length=200, description="The outcome in words.")


class TencentSmsReply(_Callback):
    """A Tencent SMS reply."""

    mobile: str = Field(max_length=32, description="Who replied.")
    nationcode: str = Field(default="86", max_length=8, description="Their country code.")
    text: str = Field(max_length=500, description="What they wrote.")


class TencentVoicePrompt(_Callback):
    """How a Tencent voice call ended: result 0 means the call was answered."""

    callid: str = Field(max_length=64, description="CallId returned by SendTtsVoice.")
    result: str = Field(max_length=8, description="0 answered; other values: not reached.")


class TencentVoiceKey(_Callback):
    """A key a person pressed during a Tencent voice call."""

    callid: str = Field(max_length=64, description="CallId returned by SendTtsVoice.")
    keypress: str = Field(max_length=8, description="The key pressed.")


class TencentVoiceCallback(_Callback):
    """The Tencent voice callback body: one of its kinds is set."""

    voiceprompt_callback: TencentVoicePrompt | None = None
    voicekey_callback: TencentVoiceKey | None = None


class AliyunAnswer(BaseModel):
    """What Aliyun expects back from a push."""

    code: int = 0
    msg: str = "成功"


class TencentAnswer(BaseModel):
    """What Tencent expects back from a callback."""

    result: int = 0
    errmsg: str = "OK"


def check_callback_key(configured: SecretStr | None, given: str | None) -> None:
    """Refuse a callback without the configured secret; none configured refuses all."""
    if configured is None:
        raise NotFoundError("provider callbacks are not configured")
    if not given or not hmac.compare_digest(given.encode(), configured.get_secret_value().encode()):
        logger.warning("provider callback refused: wrong or missing key")
        raise UnauthorizedError("wrong or missing callback key")


def take_aliyun_sms_reports(pages: PageService, reports: list[AliyunSmsReport]) -> int:
    """Put each report on its delivery; return how many named a known text."""
    return sum(
        pages.record_receipt(r.biz_id, r.success, f"{r.err_code} {r.err_msg}".strip())
        for r in reports
    )


def take_aliyun_voice_reports(pages: PageService, reports: list[AliyunVoiceReport]) -> int:
    """Put each call's outcome on its delivery; key 1 pressed acknowledges the alert."""
    known = 0
    for report in reports:
        heard = report.status_code == ALIYUN_VOICE_HEARD
        known += pages.record_receipt(report.call_id, heard, report.status_msg)
        if ACK_KEY in report.dtmf:
            pages.acknowledge_by_call(report.call_id)
    return known


def take_tencent_voice(pages: PageService, body: TencentVoiceCallback) -> None:
    """Put a call's outcome on its delivery, or acknowledge on key 1."""
    if body.voiceprompt_callback is not None:
        prompt = body.voiceprompt_callback
        pages.record_receipt(prompt.callid, prompt.result == "0", f"result {prompt.result}")
    if body.voicekey_callback is not None and body.voicekey_callback.keypress == ACK_KEY:
        pages.acknowledge_by_call(body.voicekey_callback.callid)
