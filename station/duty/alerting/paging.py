"""The escalation `Pager` that really tells people: robots once per step, SMS per person."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from station.duty.alerting.deliveries import DeliveryReport, DeliveryService
from station.duty.alerting.models import AlertPublic
from station.duty.alerting.notifiers import Notice
from station.duty.fleet.models import Station
from station.duty.people.models import User
from station.i18n import (
    DEFAULT_LANGUAGE,
    DEFAULT_TIME_ZONE,
    Language,
    local_time,
    parse_language,
    translations,
)
from station.i18n.words import KINDS, label

logger = logging.getLogger(__name__)


def notice_text(
    alert: AlertPublic,
    usernames: Sequence[str],
    language: Language = DEFAULT_LANGUAGE,
    time_zone: str = DEFAULT_TIME_ZONE,
) -> tuple[str, str]:
    """Title and body of the notices of one step, in the reader's language and the
    station's time."""
    _ = translations(language).gettext
    where = f" ({alert.zone})" if alert.zone else ""
    kind = label(KINDS, alert.kind, language)
    title = _("{kind} at station {station}").format(kind=kind, station=alert.station_id) + where
    body = _("Seen {count} time(s) since {at}.").format(
        count=alert.count, at=local_time(alert.first_at, time_zone, language)
    )
    if usernames:
        body += " " + _("On duty: {names}.").format(names=", ".join(usernames))
    return title, body


class NotifyingPager:
    """Sends one escalation step through the delivery service; blocks while it retries."""

    def __init__(
        self,
        engine: Engine,
        delivery: DeliveryService,
        webhook_channels: Sequence[str] = (),
        sms_channel: str | None = None,
        console_url: str | None = None,
        group_language: Language = DEFAULT_LANGUAGE,
    ) -> None:
        unknown = {*webhook_channels, *([sms_channel] if sms_channel else [])} - set(
            delivery.channels
        )
        if unknown:
            # Fail at start, not at 3 a.m. in the middle of an escalation.
            raise ValueError(f"no notifier for channel(s) {sorted(unknown)}")
        self._engine = engine
        self._delivery = delivery
        self._webhooks = list(webhook_channels)
        self._sms = sms_channel
        self._console_url = console_url.rstrip("/") if console_url else None
        self._group_language = group_language

    def page(self, alert: AlertPublic, usernames: list[str], level: int) -> None:
        """Post to every robot channel (in the duty groups' language, zh-CN unless set), and
        text each person on duty who has a phone, in their own language."""
        group = self._group_language
        time_zone = self._time_zone(alert.station_id)
        reports = [
            self._send(channel, channel, alert, usernames, level, group, time_zone)
            for channel in self._webhooks
        ]
        if self._sms is not None:
            for phone, language in self._phones(usernames):
                step = (alert, usernames, level, language, time_zone)
                reports.append(self._send(self._sms, phone, *step))
        failed = [r.channel for r in reports if not r.ok]
        if failed:
            logger.warning("alert %s level %d: delivery failed on %s", alert.id, level, failed)

    def _send(
        self,
        channel: str,
        recipient: str,
        alert: AlertPublic,
        usernames: list[str],
        level: int,
        language: Language,
        time_zone: str,
    ) -> DeliveryReport:
        title, body = notice_text(alert, usernames, language, time_zone)
        notice = Notice(
            alert_id=alert.id,
            station_id=alert.station_id,
            kind=alert.kind,
            severity=alert.severity,
            title=title[:200],
            body=body[:2000],
            console_url=f"{self._console_url}/#alert-{alert.id}" if self._console_url else None,
            recipient=recipient,
            escalation_level=level,
            language=language,
        )
        return self._delivery.deliver(channel, notice)

    def _phones(self, usernames: list[str]) -> list[tuple[str, Language]]:
        if not usernames:
            return []
        with Session(self._engine) as session:
            rows = session.exec(
                select(User.phone, User.language).where(
                    col(User.username).in_(usernames), col(User.active)
                )
            ).all()
        return [(phone, parse_language(language)) for phone, language in rows if phone]

    def _time_zone(self, station_id: str) -> str:
        with Session(self._engine) as session:
            station = session.get(Station, station_id)
        return station.time_zone if station is not None else DEFAULT_TIME_ZONE
