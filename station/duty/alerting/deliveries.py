"""Delivering notices: retries with exponential backoff, and every attempt on the record."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from tenacity import RetryCallState, Retrying, retry_if_result, stop_after_attempt, wait_exponential

from station.duty.alerting.alerts import AlertNotFoundError
from station.duty.alerting.models import Alert, Delivery
from station.duty.alerting.notifiers import DeliveryResult, Notice, Notifier, mask_recipient
from station.duty.clock import Clock
from station.duty.errors import NotFoundError

logger = logging.getLogger(__name__)


class UnknownChannelError(NotFoundError):
    """No notifier is configured under that channel name."""


class RetryPolicy(BaseModel):
    """How hard to try one notice: attempts, and the backoff between them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    attempts: int = Field(default=3, ge=1, le=10, description="Tries per notice, first included.")
    base_delay_s: float = Field(
        default=2.0, ge=0, le=60, description="Wait after the first failure; doubles after each."
    )
    max_delay_s: float = Field(default=30.0, ge=0, le=600, description="Longest single wait.")


@dataclass(frozen=True)
class DeliveryReport:
    """How delivering one notice through one channel ended."""

    channel: str
    ok: bool
    attempts: int
    last: DeliveryResult
    delivery_id: int | None = None


class DeliveryService:
    """Sends notices through named notifiers, retrying, and logs each attempt in `delivery`."""

    def __init__(
        self,
        engine: Engine,
        notifiers: Mapping[str, Notifier],
        clock: Clock,
        sleep: Callable[[float], None] = time.sleep,
        policy: RetryPolicy | None = None,
        on_attempt: Callable[[str, bool], None] = lambda _channel, _ok: None,
    ) -> None:
        self._engine = engine
        self._on_attempt = on_attempt  # told each attempt's channel and result, for the metrics
        self._notifiers = dict(notifiers)
        self._clock = clock
        self._sleep = sleep
        self._policy = policy or RetryPolicy()

    @property
    def channels(self) -> list[str]:
        """Names of the configured notifiers."""
        return sorted(self._notifiers)

    def deliver(self, channel: str, notice: Notice) -> DeliveryReport:
        """Send the notice, retrying failures with backoff; blocks while it waits."""
        notifier = self._notifiers.get(channel)
        if notifier is None:
            raise UnknownChannelError(f"no notifier named {channel!r}; have {self.channels}")
        self._check_alert(notice.alert_id)
        attempts = 0
        last_id: int | None = None

        def attempt_once() -> DeliveryResult:
            nonlocal attempts, last_id
            attempts += 1
            result = _send_safely(channel, notifier, notice)
            last_id = self._record(channel, notice, attempts, result)
            self._on_attempt(channel, result.ok)
            return result

        policy = self._policy
        retrying = Retrying(
            stop=stop_after_attempt(policy.attempts),
            wait=wait_exponential(multiplier=policy.base_delay_s, max=policy.max_delay_s),
            retry=retry_if_result(lambda result: not result.ok),
            sleep=self._sleep,
            retry_error_callback=_last_result,
        )
        last: DeliveryResult = retrying(attempt_once)
        logger.info(
            "alert %s via %s to %s: %s after %d attempt(s)",
            notice.alert_id,
            channel,
            mask_recipient(notice.recipient),
            "delivered" if last.ok else "failed",
            attempts,
        )
        return DeliveryReport(
            channel=channel, ok=last.ok, attempts=attempts, last=last, delivery_id=last_id
        )

    def _check_alert(self, alert_id: int) -> None:
        with Session(self._engine) as session:
            if session.get(Alert, alert_id) is None:
                raise AlertNotFoundError(f"no alert {alert_id}")

    def _record(
        self, channel: str, notice: Notice, attempt: int, result: DeliveryResult
    ) -> int | None:
        # One commit per attempt: the log keeps every try even if a later one never ends.
        row = Delivery(
            alert_id=notice.alert_id,
            channel=channel,
            recipient=mask_recipient(notice.recipient),
            attempt=attempt,
            ok=result.ok,
            status_code=result.status_code,
            detail=result.detail[:500],
            at=self._clock.now(),
            message_id=result.message_id[:64] if result.message_id else None,
        )
        with Session(self._engine) as session:
            session.add(row)
            session.commit()
            return row.id


def _send_safely(channel: str, notifier: Notifier, notice: Notice) -> DeliveryResult:
    """Call the notifier; one that breaks its no-raise promise still yields a failed attempt."""
    try:
        return notifier.send(notice)
    except Exception as err:  # a notifier bug must not stop escalation
        logger.warning("notifier %s raised %s", channel, type(err).__name__)
        return DeliveryResult(ok=False, detail=f"notifier raised {type(err).__name__}")


def _last_result(state: RetryCallState) -> DeliveryResult:
    """After the last failed attempt, hand back its result instead of raising RetryError."""
    assert state.outcome is not None
    result: DeliveryResult = state.outcome.result()
    return result


def alert_station(session: Session, alert_id: int) -> str:
    """Return the station of the alert, or raise AlertNotFoundError."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise AlertNotFoundError(f"no alert {alert_id}")
    return alert.station_id


def list_deliveries(session: Session, alert_id: int) -> list[Delivery]:
    """Return every delivery attempt for the alert, oldest first."""
    alert_station(session, alert_id)
    query = select(Delivery).where(Delivery.alert_id == alert_id).order_by(col(Delivery.id))
    return list(session.exec(query).all())
