"""The escalation `Pager` that really tells people: robots once per step, SMS per person."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from station.duty.alerting.deliveries import DeliveryReport, DeliveryService
from station.duty.alerting.models import AlertPublic
from station.duty.alerting.notifiers import Notice
from station.duty.people.models import User

logger = logging.getLogger(__name__)


def notice_text(alert: AlertPublic, usernames: Sequence[str]) -> tuple[str, str]:
    """Title and body of the notices of one step."""
    where = f" ({alert.zone})" if alert.zone else ""
    title = f"{alert.kind} at station {alert.station_id}{where}"
    body = f"Seen {alert.count} time(s) since {alert.first_at:%Y-%m-%d %H:%M} UTC."
    if usernames:
        body += f" On duty: {', '.join(usernames)}."
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

    def page(self, alert: AlertPublic, usernames: list[str], level: int) -> None:
        """Post to every robot channel, and text each person on duty who has a phone."""
        reports = [
            self._send(channel, channel, alert, usernames, level) for channel in self._webhooks
        ]
        if self._sms is not None:
            for phone in self._phones(usernames):
                reports.append(self._send(self._sms, phone, alert, usernames, level))
        failed = [r.channel for r in reports if not r.ok]
        if failed:
            logger.warning("alert %s level %d: delivery failed on %s", alert.id, level, failed)

    def _send(
        self, channel: str, recipient: str, alert: AlertPublic, usernames: list[str], level: int
    ) -> DeliveryReport:
        title, body = notice_text(alert, usernames)
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
        )
        return self._delivery.deliver(channel, notice)

    def _phones(self, usernames: list[str]) -> list[str]:
        if not usernames:
            return []
        with Session(self._engine) as session:
            rows = session.exec(
                select(User.phone).where(col(User.username).in_(usernames), col(User.active))
            ).all()
        return [phone for phone in rows if phone]
