"""Callbacks of the SMS and voice providers: delivery receipts, replies, keys pressed.

Providers carry no staff token: each callback URL set at the provider ends in
`?key=<UWS_PROVIDER_CALLBACK_SECRET>`, and a callback without it is refused (401) and
changes nothing. The access rule is therefore PUBLIC; the key is checked here.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from station.duty.alerting.pages import PageService
from station.duty.alerting.provider_callbacks import (
    AliyunAnswer,
    AliyunSmsReport,
    AliyunSmsUp,
    AliyunVoiceReport,
    TencentAnswer,
    TencentSmsReply,
    TencentSmsStatus,
    TencentVoiceCallback,
    check_callback_key,
    take_aliyun_sms_reports,
    take_aliyun_voice_reports,
    take_tencent_voice,
)
from station.duty.api.access import PUBLIC
from station.duty.errors import NotFoundError
from station.duty.services import Services, ServicesDep

router = APIRouter(prefix="/providers", tags=["providers"], dependencies=[PUBLIC])

Key = Annotated[str | None, Query(max_length=200, description="The callback secret.")]


def _pages(services: Services, key: str | None) -> PageService:
    check_callback_key(services.settings.provider_callback_secret, key)
    if services.pages is None:
        raise NotFoundError("no SMS or voice channel is configured")
    return services.pages


@router.post("/aliyun/sms-reports")
def aliyun_sms_reports(
    services: ServicesDep, reports: list[AliyunSmsReport], key: Key = None
) -> AliyunAnswer:
    """Aliyun SmsReport push: whether each text reached its phone."""
    take_aliyun_sms_reports(_pages(services, key), reports)
    return AliyunAnswer()


@router.post("/aliyun/sms-replies")
def aliyun_sms_replies(
    services: ServicesDep, replies: list[AliyunSmsUp], key: Key = None
) -> AliyunAnswer:
    """Aliyun SmsUp push: a reply with an alert's short code acknowledges it."""
    pages = _pages(services, key)
    for reply in replies:
        pages.acknowledge_by_reply(reply.phone_number, reply.content)
    return AliyunAnswer()


@router.post("/aliyun/voice-reports")
def aliyun_voice_reports(
    services: ServicesDep, reports: list[AliyunVoiceReport], key: Key = None
) -> AliyunAnswer:
    """Aliyun VoiceReport push: whether each call was heard, and the keys pressed."""
    take_aliyun_voice_reports(_pages(services, key), reports)
    return AliyunAnswer()


@router.post("/tencent/sms-status")
def tencent_sms_status(
    services: ServicesDep, reports: list[TencentSmsStatus], key: Key = None
) -> TencentAnswer:
    """Tencent SMS status callback: whether each text reached its phone."""
    pages = _pages(services, key)
    for report in reports:
        pages.record_receipt(report.sid, report.report_status == "SUCCESS", report.description)
    return TencentAnswer()


@router.post("/tencent/sms-replies")
def tencent_sms_reply(
    services: ServicesDep, reply: TencentSmsReply, key: Key = None
) -> TencentAnswer:
    """Tencent SMS reply callback: a reply with an alert's short code acknowledges it."""
    _pages(services, key).acknowledge_by_reply(f"+{reply.nationcode}{reply.mobile}", reply.text)
    return TencentAnswer()


@router.post("/tencent/voice")
def tencent_voice(
    services: ServicesDep, body: TencentVoiceCallback, key: Key = None
) -> TencentAnswer:
    """Tencent voice callback: whether the call was answered, and key 1 to acknowledge."""
    take_tencent_voice(_pages(services, key), body)
    return TencentAnswer()
