"""The dead-man's switch: a replica whose ingest has heard nothing for too long, while nodes
are registered that should be sending heartbeats, pages the operators once per silence."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, func
from sqlmodel import Session, select

from station.duty.alerting.notifiers import Notice, Notifier
from station.duty.fleet.models import Node

logger = logging.getLogger(__name__)

SYSTEM_NOTICE_ID = 0
"""The alert id of a notice about cloud-duty itself, which has no alert row."""

OperatorPager = Callable[[str, str], None]
"""Sends a title and a body to the operators."""


def registered_nodes(engine: Engine) -> int:
    """How many nodes are registered (each should send a heartbeat every interval)."""
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(Node)).one())


@dataclass
class DeadMansSwitch:
    """Pages when ingest has been silent for `silence`; quiet again once a batch arrives."""

    silence: timedelta
    page: OperatorPager
    started_at: datetime
    paged_for: datetime | None = None  # the start of the silence already paged about

    def check(self, now: datetime, last_batch_at: datetime | None, nodes: int) -> bool:
        """Page if the silence is long enough and not paged yet; return whether it paged."""
        quiet_since = max(last_batch_at or self.started_at, self.started_at)
        if nodes == 0 or now - quiet_since < self.silence:
            return False
        if self.paged_for == quiet_since:
            return False  # one page per silence: the operators know
        self.paged_for = quiet_since
        minutes = (now - quiet_since).total_seconds() / 60
        title = f"cloud-duty 已 {minutes:.0f} 分钟未收到任何站点消息"
        body = (
            f"已登记 {nodes} 个节点,但本副本自 {quiet_since:%Y-%m-%d %H:%M} UTC 起没有接收到"
            "任何心跳或事件。请检查 MQTT 代理、网络和 cloud-duty 的接收进程。"
        )
        logger.error("ingest silent for %.0f min with %d node(s) registered", minutes, nodes)
        self.page(title, body)
        return True


def notifier_pager(notifiers: Mapping[str, Notifier], console_url: str | None) -> OperatorPager:
    """Page through these robot channels (WeCom, DingTalk): SMS goes to people on a roster,
    and this page is about no station's roster."""

    def page(title: str, body: str) -> None:
        for name, notifier in notifiers.items():
            notice = Notice(
                alert_id=SYSTEM_NOTICE_ID,
                station_id="cloud-duty",
                kind="ingest_silent",
                severity="critical",
                title=title[:200],
                body=body[:2000],
                console_url=console_url,
                recipient=name,
            )
            result = notifier.send(notice)
            if not result.ok:
                logger.error("dead-man page via %s failed: %s", name, result.detail)

    return page
