"""The escalation `Pager` that really tells people: robots once per step, then a page that
texts and calls the people on duty until a receipt confirms one of them got it."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import Engine

from station.duty.alerting.deliveries import DeliveryService
from station.duty.alerting.models import AlertPublic
from station.duty.alerting.pages import PageService, make_notice, notice_text, station_time_zone
from station.i18n import DEFAULT_LANGUAGE, Language

logger = logging.getLogger(__name__)

__all__ = ["NotifyingPager", "notice_text"]


class NotifyingPager:
    """Sends one escalation step through the delivery service; blocks while it retries."""

    def __init__(
        self,
        engine: Engine,
        delivery: DeliveryService,
        webhook_channels: Sequence[str] = (),
        pages: PageService | None = None,
        console_url: str | None = None,
        phone_channels: Sequence[str] = (),
        *,
        group_language: Language = DEFAULT_LANGUAGE,
    ) -> None:
        unknown = {*webhook_channels, *phone_channels} - set(delivery.channels)
        if unknown:
            # Fail at start, not at 3 a.m. in the middle of an escalation.
            raise ValueError(f"no notifier for channel(s) {sorted(unknown)}")
        self._engine = engine
        self._delivery = delivery
        self._webhooks = list(webhook_channels)
        self._pages = pages
        self._console_url = console_url.rstrip("/") if console_url else None
        self._group_language = group_language

    def page(self, alert: AlertPublic, usernames: list[str], level: int) -> None:
        """Post to every robot channel (in the duty groups' language, zh-CN unless set), then
        page the people on duty by phone, each in their own language."""
        failed = []
        time_zone = station_time_zone(self._engine, alert.station_id)
        for channel in self._webhooks:
            notice = make_notice(
                alert,
                usernames,
                channel,
                level,
                self._console_url,
                language=self._group_language,
                time_zone=time_zone,
            )
            if not self._delivery.deliver(channel, notice).ok:
                failed.append(channel)
        if failed:
            logger.warning("alert %s level %d: delivery failed on %s", alert.id, level, failed)
        if self._pages is not None and self._pages.start(alert, usernames, level) is None:
            logger.warning("alert %s level %d: nobody on duty has a phone", alert.id, level)
