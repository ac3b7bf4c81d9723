"""The escalation pager on the delivery service: robots once per step, then a phone page."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from station.duty.alerting.deliveries import DeliveryService
from station.duty.alerting.models import Alert, AlertPublic, Delivery, PageState, PhonePage
from station.duty.alerting.notifiers import (
    DeliveryResult,
    LoggingSmsGateway,
    Notice,
    Notifier,
    SmsNotifier,
    render_sms,
)
from station.duty.alerting.pages import PageService, PhoneChannels, make_notice, station_time_zone
from station.duty.alerting.paging import NotifyingPager
from station.duty.fleet.ingest import IngestPipeline
from station.duty.fleet.models import Station
from station.duty.people.auth import create_user
from station.duty.people.models import User, UserCreate
from station.i18n import Language
from tests.duty.conftest import ManualClock
from tests.duty.messages import event, inbound


class RecordingRobot:
    """A robot channel that accepts everything and keeps it (unit-level fake)."""

    def __init__(self) -> None:
        self.sent: list[Notice] = []

    def send(self, notice: Notice) -> DeliveryResult:
        """Accept the notice."""
        self.sent.append(notice)
        return DeliveryResult(ok=True, detail="accepted", status_code=200)


@pytest.fixture
def alert(pipeline: IngestPipeline, engine: Engine, clock: ManualClock) -> AlertPublic:
    """An open fall alert in zone 'room'."""
    pipeline.process([inbound(event("ev-page-1", clock.now()))])
    with Session(engine) as session:
        return AlertPublic.model_validate(session.exec(select(Alert)).one())


def _user(
    engine: Engine, name: str, phone: str, active: bool = True, language: str = "zh-CN"
) -> None:
    body = {"username": name, "password": "long-enough-pw", "role": "duty", "phone": phone}
    with Session(engine) as session:
        user = create_user(session, UserCreate.model_validate({**body, "language": language}))
        user.active = active
        session.add(user)
        session.commit()


def test_a_step_posts_to_each_robot_and_pages_the_people_with_a_phone(
    engine: Engine, alert: AlertPublic, clock: ManualClock
) -> None:
    _user(engine, "wang", "+8613800000001")
    _user(engine, "li", "")  # no phone: robots only
    _user(engine, "zhao", "+8613800000003", active=False)
    robot, gateway = RecordingRobot(), LoggingSmsGateway()
    notifiers: dict[str, Notifier] = {"ops-wecom": robot, "sms": SmsNotifier(gateway)}
    delivery = DeliveryService(engine, notifiers, clock, lambda _s: None)
    pages = PageService(engine, delivery, clock, PhoneChannels(sms="sms"), 60)
    pager = NotifyingPager(engine, delivery, ["ops-wecom"], pages, "https://duty.example/", ["sms"])
    pager.page(alert, ["wang", "li", "zhao"], 2)
    (posted,) = robot.sent
    assert (posted.recipient, posted.escalation_level, posted.alert_id) == (
        "ops-wecom",
        2,
        alert.id,
    )
    assert posted.title == "驿站 st-1 发生跌倒 (room)"  # the duty groups read Chinese
    assert "值班人员：wang, li, zhao。" in posted.body
    assert posted.console_url == f"https://duty.example/#alert-{alert.id}"
    # The stand-in reports "not sent", so the delivery tries again: same phone each time.
    assert {phone for phone, _ in gateway.sent} == {"+8613800000001"}
    with Session(engine) as session:
        rows = session.exec(select(Delivery).order_by(col(Delivery.id))).all()
        assert (rows[0].channel, rows[0].recipient, rows[0].ok) == ("ops-wecom", "ops-wecom", True)
        # The logging stand-in reaches no phone: never recorded as delivered.
        assert {(r.channel, r.recipient, r.ok) for r in rows[1:]} == {("sms", "+86****0001", False)}
        assert session.exec(select(User)).all()  # users untouched
        # Nobody else has an active phone: the page has nowhere left to go.
        (page,) = session.exec(select(PhonePage)).all()
        assert (page.chain, page.state) == ([["wang", "sms"]], PageState.EXHAUSTED)


def test_a_pager_naming_an_unconfigured_channel_refuses_to_start(
    engine: Engine, clock: ManualClock
) -> None:
    delivery = DeliveryService(engine, {"ops-wecom": RecordingRobot()}, clock, lambda _s: None)
    with pytest.raises(ValueError, match=r"no notifier for channel\(s\) \['sms'\]"):
        NotifyingPager(engine, delivery, ["ops-wecom"], phone_channels=["sms"])


def test_each_person_reads_their_notice_in_their_language_and_the_stations_time(
    engine: Engine, alert: AlertPublic, clock: ManualClock
) -> None:
    with Session(engine) as session:
        station = session.get(Station, "st-1")
        assert station is not None
        station.time_zone = "Asia/Urumqi"  # UTC+6, two hours behind Beijing
        session.add(station)
        session.commit()
    zone = station_time_zone(engine, "st-1")
    chinese = make_notice(
        alert, [], "+8613800000001", 1, None, language=Language.ZH_CN, time_zone=zone
    )
    english = make_notice(
        alert, [], "+8613800000002", 1, None, language=Language.EN, time_zone=zone
    )
    local = alert.first_at.astimezone(ZoneInfo("Asia/Urumqi")).strftime("%Y-%m-%d %H:%M")
    assert (chinese.language, english.language) == ("zh-CN", "en")
    assert chinese.title == "驿站 st-1 发生跌倒 (room)"
    assert chinese.body.startswith(f"自 {local} 起共发现 1 次。")
    assert english.title == "fall at station st-1 (room)"
    assert english.body.startswith(f"Seen 1 time(s) since {local}.")
    assert render_sms(english).startswith("[CRITICAL] fall at station st-1 (room) - station st-1")
    assert render_sms(chinese).startswith("[紧急] 驿站 st-1 发生跌倒 (room) - 驿站 st-1")


def test_a_duty_group_may_read_its_robot_posts_in_english(
    engine: Engine, alert: AlertPublic, clock: ManualClock
) -> None:
    robot = RecordingRobot()
    delivery = DeliveryService(engine, {"ops-wecom": robot}, clock, lambda _s: None)
    NotifyingPager(engine, delivery, ["ops-wecom"], group_language=Language.EN).page(alert, [], 1)
    (posted,) = robot.sent
    assert (posted.language, posted.title) == ("en", "fall at station st-1 (room)")
