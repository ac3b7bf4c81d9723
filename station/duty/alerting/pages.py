"""Pages that reach a phone: each escalation step texts the first person on duty, and moves
on to a voice call, then to the next person, while no provider receipt confirms delivery.

A page is a row: its chain of [username, channel] links, the link tried last and its
deadline. A link is claimed by moving the page's position and deadline in one locked
transaction before it is sent, so two replicas sweeping the same page never both send.
Replies to a text carrying the page's short code acknowledge the alert.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from station.duty.alerting.alerts import acknowledge
from station.duty.alerting.deliveries import DeliveryService
from station.duty.alerting.models import (
    Alert,
    AlertPublic,
    AlertStatus,
    Delivery,
    PageState,
    PhonePage,
)
from station.duty.alerting.notifiers import Notice
from station.duty.clock import Clock
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

CODE_PATTERN = re.compile(r"\b(\d{4})\b")
LIVE = (PageState.WAITING, PageState.DELIVERED)


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


def make_notice(
    alert: AlertPublic,
    usernames: Sequence[str],
    recipient: str,
    level: int,
    console_url: str | None,
    short_code: str = "",
    *,
    language: Language = DEFAULT_LANGUAGE,
    time_zone: str = DEFAULT_TIME_ZONE,
) -> Notice:
    """The notice of one step to one recipient, in their language."""
    title, body = notice_text(alert, usernames, language, time_zone)
    return Notice(
        alert_id=alert.id,
        station_id=alert.station_id,
        kind=alert.kind,
        severity=alert.severity,
        title=title[:200],
        body=body[:2000],
        console_url=f"{console_url}/#alert-{alert.id}" if console_url else None,
        recipient=recipient,
        escalation_level=level,
        short_code=short_code,
        language=language,
    )


def station_time_zone(engine: Engine, station_id: str) -> str:
    """The station's time zone, for the times its notices show."""
    with Session(engine) as session:
        station = session.get(Station, station_id)
    return station.time_zone if station is not None else DEFAULT_TIME_ZONE


@dataclass(frozen=True)
class PhoneChannels:
    """The configured phone channels by name: SMS first, voice as its failover."""

    sms: str | None = None
    voice: str | None = None

    def names(self) -> list[str]:
        """The channel names, SMS before voice."""
        return [name for name in (self.sms, self.voice) if name]


@dataclass(frozen=True)
class _Link:
    page_id: int
    position: int
    alert: AlertPublic
    usernames: list[str]
    username: str
    channel: str
    level: int
    code: str


class PageService:
    """Starts pages, moves them on when unconfirmed, and takes the providers' receipts."""

    def __init__(
        self,
        engine: Engine,
        delivery: DeliveryService,
        clock: Clock,
        channels: PhoneChannels,
        confirm_s: float,
        console_url: str | None = None,
    ) -> None:
        self._engine = engine
        self._delivery = delivery
        self._clock = clock
        self._channels = channels
        self._confirm = timedelta(seconds=confirm_s)
        self._console_url = console_url.rstrip("/") if console_url else None

    def start(self, alert: AlertPublic, usernames: list[str], level: int) -> int | None:
        """Page the people with a phone, in order; return the page id (None: nobody)."""
        people = _with_phone(self._engine, usernames)
        chain = [[name, channel] for name in people for channel in self._channels.names()]
        if not chain:
            return None
        page = PhonePage(
            alert_id=alert.id,
            level=level,
            chain=chain,
            short_code=f"{secrets.randbelow(10_000):04d}",
            deadline_at=self._clock.now(),
        )
        with Session(self._engine) as session:
            session.add(page)
            session.commit()
            assert page.id is not None
            page_id = page.id
        self._advance(page_id, expected=-1)
        return page_id

    def fail_over_due(self) -> int:
        """Move on every page whose link went unconfirmed past its deadline; return how many."""
        now = self._clock.now()
        with Session(self._engine) as session:
            due = session.exec(
                select(PhonePage.id, PhonePage.position).where(
                    PhonePage.state == PageState.WAITING, col(PhonePage.deadline_at) <= now
                )
            ).all()
        moved = 0
        for page_id, position in due:
            if page_id is not None and self._advance(page_id, expected=position, unconfirmed=True):
                moved += 1
        return moved

    def record_receipt(self, message_id: str, delivered: bool, detail: str = "") -> bool:
        """Put a provider's receipt on its delivery; a failed one moves the page on now."""
        with Session(self._engine) as session:
            row = session.exec(select(Delivery).where(Delivery.message_id == message_id)).first()
            if row is None:
                logger.info("receipt for unknown message %s", message_id[:64])
                return False
            row.receipt = "delivered" if delivered else "failed"
            row.receipt_at = self._clock.now()
            if detail:
                row.detail = f"{row.detail}; receipt: {detail}"[:500]
            session.add(row)
            page = session.exec(
                select(PhonePage).where(PhonePage.delivery_id == row.id).with_for_update()
            ).first()
            position = page.position if page is not None else None
            if page is not None and delivered and page.state is PageState.WAITING:
                page.state = PageState.DELIVERED
                session.add(page)
            session.commit()
            page_id = page.id if page is not None else None
        if page_id is not None and position is not None and not delivered:
            self._advance(page_id, expected=position)
        return True

    def acknowledge_by_reply(self, phone: str, text: str) -> int | None:
        """Acknowledge the alert whose live page has the code texted back from a paged phone."""
        match = CODE_PATTERN.search(text)
        if match is None:
            return None
        with Session(self._engine) as session:
            pages = session.exec(
                select(PhonePage).where(
                    PhonePage.short_code == match.group(1), col(PhonePage.state).in_(LIVE)
                )
            ).all()
            for page in pages:
                username = _paged_user(session, page, phone)
                if username is not None and self._acknowledge(session, page, username, "SMS"):
                    return page.alert_id
        return None

    def acknowledge_by_call(self, message_id: str) -> int | None:
        """Acknowledge the alert of a call in which its callee pressed the key."""
        with Session(self._engine) as session:
            row = session.exec(select(Delivery).where(Delivery.message_id == message_id)).first()
            page = None
            if row is not None:
                page = session.exec(
                    select(PhonePage).where(PhonePage.delivery_id == row.id)
                ).first()
            if page is None or page.position < 0:
                return None
            username = page.chain[page.position][0]
            return page.alert_id if self._acknowledge(session, page, username, "call") else None

    def _acknowledge(self, session: Session, page: PhonePage, username: str, how: str) -> bool:
        alert = session.get(Alert, page.alert_id, with_for_update=True)
        if alert is None or alert.status is not AlertStatus.OPEN:
            return False
        acknowledge(session, page.alert_id, username, f"by {how} reply", self._clock.now())
        page.state = PageState.STOPPED
        session.add(page)
        session.commit()
        return True

    def _claim(self, page_id: int, expected: int, unconfirmed: bool) -> _Link | None:
        """Move the page to its next link in one locked transaction; None if another got it."""
        now = self._clock.now()
        with Session(self._engine) as session:
            page = session.get(PhonePage, page_id, with_for_update=True)
            if page is None or page.position != expected or page.state not in LIVE:
                return None
            if unconfirmed and page.delivery_id is not None:
                _mark_unconfirmed(session, page.delivery_id)
                page.failovers += 1
            alert = session.get(Alert, page.alert_id)
            if alert is None or alert.status is not AlertStatus.OPEN:
                page.state = PageState.STOPPED
            elif page.position + 1 >= len(page.chain):
                page.state = PageState.EXHAUSTED
                logger.error("alert %s: page %s reached nobody", page.alert_id, page_id)
            else:
                page.position += 1
                page.state = PageState.WAITING
                page.deadline_at = now + self._confirm
                page.delivery_id = None
            session.add(page)
            session.commit()
            if page.state is not PageState.WAITING or alert is None:
                return None
            username, channel = page.chain[page.position]
            names = list(dict.fromkeys(name for name, _ in page.chain))
            return _Link(
                page_id,
                page.position,
                AlertPublic.model_validate(alert),
                names,
                username,
                channel,
                page.level,
                page.short_code,
            )

    def _advance(self, page_id: int, expected: int, unconfirmed: bool = False) -> bool:
        """Send the next links until one is accepted or none is left; False if not ours."""
        link = self._claim(page_id, expected, unconfirmed)
        if link is None:
            return False
        # Every link of a page is about the same alert, so the same station.
        time_zone = station_time_zone(self._engine, link.alert.station_id)
        while link is not None:
            phones = _with_phone(self._engine, [link.username])
            report = None
            if phones:
                phone, language = phones[link.username]
                notice = make_notice(
                    link.alert,
                    link.usernames,
                    phone,
                    link.level,
                    self._console_url,
                    link.code,
                    language=language,
                    time_zone=time_zone,
                )
                report = self._delivery.deliver(link.channel, notice)
            if report is not None and report.ok:
                self._await_receipt(page_id, report.delivery_id)
                return True
            link = self._claim(page_id, link.position, unconfirmed=False)
        return True

    def _await_receipt(self, page_id: int, delivery_id: int | None) -> None:
        with Session(self._engine) as session:
            page = session.get(PhonePage, page_id, with_for_update=True)
            if page is not None and page.state is PageState.WAITING:
                page.delivery_id = delivery_id
                page.deadline_at = self._clock.now() + self._confirm
                session.add(page)
                session.commit()


def _mark_unconfirmed(session: Session, delivery_id: int) -> None:
    row = session.get(Delivery, delivery_id)
    if row is not None and row.receipt is None:
        row.receipt = "unconfirmed"
        session.add(row)


def _paged_user(session: Session, page: PhonePage, phone: str) -> str | None:
    """The user of the page's chain whose phone sent the reply."""
    wanted = _digits(phone)
    names = list(dict.fromkeys(name for name, _ in page.chain))
    users = session.exec(select(User).where(col(User.username).in_(names), col(User.active))).all()
    for user in users:
        if user.phone and _digits(user.phone) == wanted:
            return user.username
    return None


def _digits(phone: str) -> str:
    """The national number: providers send it with or without +86 / 86."""
    digits = re.sub(r"\D", "", phone)
    return digits[2:] if len(digits) == 13 and digits.startswith("86") else digits


def _with_phone(engine: Engine, usernames: Sequence[str]) -> dict[str, tuple[str, Language]]:
    """Active users of those names with a phone, and their language, in the given order."""
    if not usernames:
        return {}
    with Session(engine) as session:
        rows = session.exec(
            select(User.username, User.phone, User.language).where(
                col(User.username).in_(list(usernames)), col(User.active)
            )
        ).all()
    phones = {name: (phone, parse_language(lang)) for name, phone, lang in rows if phone}
    return {name: phones[name] for name in usernames if name in phones}
