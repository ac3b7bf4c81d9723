"""Entry: a QR code or a matched face -> unlock -> the door contact confirms -> a Visit.

A door already open or held unlocked (a fire) cannot confirm: there the Visit starts at once.

Works with the cloud unreachable: tokens verify offline with cloud-duty's public key, the
replay cache and revocation list live in a local file, and visits wait in the outbox.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from edge.devices.model import DeviceChange
from edge.entry.store import AuditEntry, EntryStore
from edge.entry.throttle import FailureThrottle
from station.contracts import (
    Command,
    CommandOutcome,
    DoorDecision,
    DoorOutcome,
    Message,
    NodeTopics,
    TopicKind,
    Visit,
    VisitMethod,
)
from station.tokens import (
    CARD_PREFIX,
    CardVerifier,
    RefusalReason,
    TokenRefusedError,
    TokenVerifier,
)
from vision.qr import Frame, QrReader

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class DoorOpener(Protocol):
    """The door lock as entry needs it; edge.devices.DoorLock fits."""

    def request_unlock(self, reason: str) -> None:
        """Send UNLOCK to the lock (never retained) without waiting."""

    def stands_open(self) -> bool:
        """Whether the door is open already or held unlocked (a fire), so no opening may come."""


class VisitSink(Protocol):
    """Where visit records go; edge.uplink.Uplink (durable outbox) fits."""

    def send(self, topic: str, message: Message | bytes, retain: bool = False) -> int | None:
        """Queue a message durably for the cloud."""


class EntryConfig(BaseModel):
    """How this node's door admits people."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    station_id: str = Field(min_length=1, max_length=64, description="This node's station.")
    region: str = Field(default="", max_length=100, description="Region scope tokens may name.")
    public_key: str = Field(
        min_length=40, max_length=64, description="cloud-duty's current entry key."
    )
    previous_public_keys: list[str] = Field(
        default_factory=list,
        max_length=2,
        description="Keys still accepted while cloud-duty's signing key rotates.",
    )
    state_path: Path = Field(description="SQLite file: replay cache, revocations, audit log.")
    leeway_s: float = Field(default=5, ge=0, le=120, description="Clock skew tolerated.")
    confirm_timeout_s: float = Field(
        default=15, gt=0, le=300, description="How long an unlock waits for the door to open."
    )
    visit_timeout_s: float = Field(
        default=4 * 3600, gt=0, description="A visit with no exit seen ends after this."
    )
    exit_window_s: float = Field(
        default=20,
        gt=0,
        description="A count drop this soon after an opening is an exit.",
    )
    repeat_ignore_s: float = Field(
        default=3, ge=0, le=60, description="The same code seen again this soon is one showing."
    )
    card_uses_per_minute: int = Field(
        default=2, ge=1, le=30, description="Uses of one printed card per door per minute."
    )
    failure_limit: int = Field(default=3, ge=1, description="Failures before slowing down.")
    failure_window_s: float = Field(default=60, gt=0, description="Window failures count in.")
    lockout_s: float = Field(
        default=10, gt=0, le=600, description="First pause after too many failures; doubles."
    )


@dataclass(frozen=True)
class Decision:
    """What the door did with one showing."""

    allowed: bool
    method: VisitMethod
    member_id: str | None
    reason: str


@dataclass
class _Pending:
    member_id: str | None
    method: VisitMethod
    at: datetime
    # The visit began at admission (the door stood open): an opening now is them walking in.
    entered: bool = False


class EntryController:
    """Decides, unlocks, and turns confirmed openings into Visit records."""

    def __init__(
        self,
        node_id: str,
        config: EntryConfig,
        store: EntryStore,
        door: DoorOpener,
        visits: VisitSink,
        clock: Clock,
        door_id: str = "door",
        decisions: VisitSink | None = None,
    ) -> None:
        """Wire the controller; nothing runs until something is shown to it. Each line of the
        door log also goes to `decisions` (the uplink) for cloud-duty's audit log."""
        self.node_id = node_id
        self.door_id = door_id
        self.config = config
        self.store = store
        self._verifier = TokenVerifier(
            [config.public_key, *config.previous_public_keys],
            config.station_id,
            config.region,
            config.leeway_s,
        )
        self._cards = CardVerifier(
            [config.public_key, *config.previous_public_keys], config.station_id, config.leeway_s
        )
        self._door = door
        self._visits = visits
        self._clock = clock
        self._topic = NodeTopics(node_id).topic(TopicKind.VISIT)
        self._decisions = decisions
        self._decision_topic = NodeTopics(node_id).topic(TopicKind.DOOR)
        self._throttle = FailureThrottle(
            config.failure_limit, config.failure_window_s, config.lockout_s
        )
        self._lock = threading.RLock()
        self._pending: deque[_Pending] = deque()
        # Visits open before a restart are still open: their exits are still to be seen.
        self._inside: deque[Visit] = deque(store.open_visits())
        self._last_seen: tuple[str, datetime] | None = None
        self._opened_at: datetime | None = None
        self._person_count: int | None = None
        self._door_exits: int | None = None

    # -- showings ---------------------------------------------------------------------------

    def present_qr(self, text: str) -> Decision | None:
        """Check a code from the camera or a scanner; None when it repeats the last showing."""
        now = self._clock()
        digest = hashlib.sha256(text.encode(errors="replace")).hexdigest()[:16]
        with self._lock:
            if self._repeat(digest, now):
                return None
            key = f"qr:{digest}"
            if self._throttle.blocked(key, now):
                return self._refuse(VisitMethod.QR, None, "throttled", key, now, count=False)
            if text.startswith(CARD_PREFIX + "."):
                return self._present_card(text, key, now)
            return self._present_token(text, key, now)

    def _present_token(self, text: str, key: str, now: datetime) -> Decision:
        """A phone's short-lived code: signed, in date, not revoked, never seen before."""
        try:
            claims = self._verifier.verify(text, now)
        except TokenRefusedError as err:
            return self._refuse(VisitMethod.QR, None, err.reason.value, key, now)
        if self.store.is_revoked(claims.member_id):
            return self._refuse(VisitMethod.QR, claims.member_id, RefusalReason.REVOKED, key, now)
        if not self.store.use_nonce(claims.nonce, claims.expires_at, now):
            return self._refuse(VisitMethod.QR, claims.member_id, RefusalReason.REPLAYED, key, now)
        self._throttle.succeed(key)
        return self._admit(VisitMethod.QR, claims.member_id, now)

    def _present_card(self, text: str, key: str, now: datetime) -> Decision:
        """A printed card: signed, not revoked, and within its uses at this door this minute."""
        method = VisitMethod.CARD
        try:
            card = self._cards.verify(text, now)
        except TokenRefusedError as err:
            return self._refuse(method, None, err.reason.value, key, now)
        if self.store.is_revoked(card.member_id) or self.store.is_card_revoked(card.card_id):
            return self._refuse(method, card.member_id, RefusalReason.REVOKED, key, now)
        limit = self.config.card_uses_per_minute
        if not self.store.use_card(card.card_id, self.door_id, now, limit):
            why = f"{RefusalReason.REPLAYED.value}: over {limit} uses a minute"
            return self._refuse(method, card.member_id, why, key, now)
        self._throttle.succeed(key)
        return self._admit(method, card.member_id, now)

    def present_face(
        self, member_id: str | None, face_key: str, failed: str | None = None
    ) -> Decision:
        """Act on a face the gallery matched (after agreement and liveness), or failed to."""
        now = self._clock()
        key = f"face:{face_key}"
        with self._lock:
            if self._throttle.blocked(key, now):
                return self._refuse(VisitMethod.FACE, member_id, "throttled", key, now, count=False)
            if failed is not None or member_id is None:
                return self._refuse(VisitMethod.FACE, member_id, failed or "no_match", key, now)
            if self.store.is_revoked(member_id):
                return self._refuse(VisitMethod.FACE, member_id, RefusalReason.REVOKED, key, now)
            self._throttle.succeed(key)
            return self._admit(VisitMethod.FACE, member_id, now)

    def remote_unlock(self, command: Command) -> tuple[CommandOutcome, str]:
        """Run a remote UNLOCK from cloud-duty (the uplink already refused expired ones)."""
        member = command.args.get("member_id")
        member_id = member if isinstance(member, str) and member else None
        with self._lock:
            self._admit(VisitMethod.REMOTE, member_id, self._clock(), by=command.issued_by)
        return CommandOutcome.DONE, "unlock sent"

    # -- the door and the room --------------------------------------------------------------

    def door_changed(self, is_open: bool) -> None:
        """Take the door contact: an opening confirms a pending entry, or may be an exit."""
        if not is_open:
            return
        now = self._clock()
        with self._lock:
            self._expire_pending(now)
            if self._pending:
                # Someone let in walks through: the count rises, no one is seen leaving.
                pending = self._pending.popleft()
                if not pending.entered:
                    self._enter(pending, now)
                return
            self._opened_at = now

    def person_count(self, count: int) -> None:
        """Take the room's person count; a drop just after an opening closes visits."""
        self.room_seen(count)

    def room_seen(self, count: int, door_exits: int | None = None) -> None:
        """Take the room's count and, where a door line is drawn, its running exit tally.

        People who left just after the door opened end that many visits: the count's drop
        or the line's new exits, whichever says more.
        """
        now = self._clock()
        with self._lock:
            before, self._person_count = self._person_count, count
            exits_before, self._door_exits = self._door_exits, door_exits
            recent = self._opened_at is not None and (
                now - self._opened_at <= timedelta(seconds=self.config.exit_window_s)
            )
            dropped = before - count if before is not None else 0
            crossed = (
                door_exits - exits_before
                if door_exits is not None and exits_before is not None
                else 0
            )
            left = max(dropped, crossed)
            if left <= 0 or not recent:
                return
            # Who left is unknown to the door; the longest stay is the likeliest to end.
            for _ in range(min(left, len(self._inside))):
                self._exit(self._inside.popleft(), now, "door and count")

    def tick(self) -> None:
        """End unconfirmed unlocks and visits past the timeout; call every few seconds."""
        now = self._clock()
        with self._lock:
            self._expire_pending(now)
            limit = timedelta(seconds=self.config.visit_timeout_s)
            while self._inside and now - self._inside[0].entered_at >= limit:
                self._exit(self._inside.popleft(), now, "timeout")

    def inside(self) -> list[Visit]:
        """Return the open visits, oldest first."""
        with self._lock:
            return list(self._inside)

    # -- internals --------------------------------------------------------------------------

    def _repeat(self, digest: str, now: datetime) -> bool:
        last = self._last_seen
        self._last_seen = (digest, now)
        window = timedelta(seconds=self.config.repeat_ignore_s)
        return (
            window > timedelta()
            and last is not None
            and last[0] == digest
            and (now - last[1] <= window)
        )

    def _refuse(
        self,
        method: VisitMethod,
        member_id: str | None,
        reason: str,
        key: str,
        now: datetime,
        count: bool = True,
    ) -> Decision:
        if count:
            self._throttle.fail(key, now)
        self.record(AuditEntry(now, method.value, member_id, "refused", reason))
        log.info("entry refused (%s): %s", method.value, reason)
        return Decision(False, method, member_id, reason)

    def _admit(
        self, method: VisitMethod, member_id: str | None, now: datetime, by: str = ""
    ) -> Decision:
        reason = f"remote by {by}" if by else "ok"
        if member_id is not None and any(v.member_id == member_id for v in self._inside):
            # Welfare stations never keep anyone out: passback is noted, not enforced.
            reason += "; anti-passback: already inside"
            log.warning("anti-passback: member %s entered again without an exit", member_id)
        self._door.request_unlock(f"{method.value} entry")
        self.record(AuditEntry(now, method.value, member_id, "unlocked", reason))
        pending = _Pending(member_id, method, now)
        self._pending.append(pending)
        if self._door.stands_open():
            # Held open by a fire, or open already: no opening may confirm the entry, and a
            # worker inside during a fire is the one duty staff most need to know of.
            pending.entered = True
            self._enter(pending, now)
        return Decision(True, method, member_id, reason)

    def record(self, entry: AuditEntry) -> None:
        """Keep a door decision in the local log and send it up for the audit log."""
        self.store.audit(entry)
        if self._decisions is None:
            return
        decision = DoorDecision(
            decision_id=f"d-{uuid.uuid4().hex}",
            node_id=self.node_id,
            at=entry.at,
            method=VisitMethod(entry.method),
            member_id=entry.member_id,
            outcome=DoorOutcome(entry.outcome),
            reason=entry.reason[:200],
        )
        self._decisions.send(self._decision_topic, decision)

    def _expire_pending(self, now: datetime) -> None:
        limit = timedelta(seconds=self.config.confirm_timeout_s)
        while self._pending and now - self._pending[0].at > limit:
            gone = self._pending.popleft()
            if not gone.entered:
                why = "door not opened"
                self.record(AuditEntry(now, gone.method.value, gone.member_id, "not_entered", why))

    def _enter(self, pending: _Pending, now: datetime) -> None:
        visit = Visit(
            visit_id=f"v-{uuid.uuid4().hex}",
            node_id=self.node_id,
            member_id=pending.member_id,
            method=pending.method,
            entered_at=now,
        )
        self._inside.append(visit)
        self.store.keep_open_visit(visit)
        self._visits.send(self._topic, visit)

    def _exit(self, visit: Visit, now: datetime, how: str) -> None:
        log.info("visit %s ended (%s)", visit.visit_id, how)
        self._visits.send(self._topic, visit.model_copy(update={"exited_at": now}))
        self.store.end_open_visit(visit.visit_id)


def feed_scanner(controller: EntryController, lines: Iterable[str]) -> None:
    """Feed codes from a keyboard-wedge scanner (one code per line) to the controller."""
    for line in lines:
        text = line.strip()
        if text:
            controller.present_qr(text)


def contact_listener(controller: EntryController, door_id: str) -> Callable[[DeviceChange], None]:
    """Return a registry listener that passes the door contact of `door_id` to entry."""

    def listen(change: DeviceChange) -> None:
        # A retained contact state is the door as it was, not an opening happening now.
        if change.device_id == door_id and change.entity == "contact" and not change.retained:
            controller.door_changed(bool(change.value))

    return listen


def qr_from_frame(controller: EntryController, reader: QrReader, frame: Frame) -> Decision | None:
    """Look for a QR code in a camera frame and show it to the controller."""
    text = reader.read(frame)
    return controller.present_qr(text) if text is not None else None
