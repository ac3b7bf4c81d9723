"""The escalation pager on the delivery service: robots once per step, then a phone page."""

from __future__ import annotations

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
)
from station.duty.alerting.pages import PageService, PhoneChannels
from station.duty.alerting.paging import NotifyingPager
from station.duty.fleet.ingest import IngestPipeline
from station.duty.people.auth import create_user
from station.duty.people.models import Role, User, UserCreate
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


def _user(engine: Engine, name: str, phone: str, active: bool = True) -> None:
    with Session(engine) as session:
        user = create_user(
            session,
            UserCreate(username=name, password="long-enough-pw", role=Role.DUTY, phone=phone),
        )
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
    assert posted.title == "fall at station st-1 (room)"
    assert "On duty: wang, li, zhao." in posted.body
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
