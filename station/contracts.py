"""The MQTT topic tree and every wire message, one pydantic model each.

This module is the one language every part speaks: edge nodes publish these models,
cloud-duty consumes them. It imports pydantic only.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Final, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

SCHEMA_VERSION: Final = 1
TOPIC_ROOT: Final = "uws/v1"
MAX_PAYLOAD_BYTES: Final = 64 * 1024
MAX_SNAPSHOT_BYTES: Final = 512 * 1024
MAX_EVENT_BOXES: Final = 50
NODE_CREDENTIAL_PREFIX: Final = "uwsn_"
"""Every node's own cloud-duty API credential starts with this; nodes refuse any other."""

_ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
NodeId = Annotated[str, Field(pattern=_ID_PATTERN, description="Node id, as in its topics.")]
StationId = Annotated[str, Field(pattern=_ID_PATTERN, description="Station id.")]
EntityId = Annotated[str, Field(pattern=_ID_PATTERN, description="A stable identifier.")]


def utcnow() -> datetime:
    """Return the current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class ContractError(ValueError):
    """A payload or topic that does not fit the contract; the message says why."""


class TopicKind(StrEnum):
    """The leaf of a node's topic subtree."""

    STATUS = "status"
    HEALTH = "health"
    EVENT = "event"
    VISIT = "visit"
    DOOR = "door"
    STATE = "state"
    SNAPSHOT = "snapshot"
    CMD = "cmd"
    CMD_RESULT = "cmd/result"
    RECEIPT = "receipt"


MESSAGE_ID_PROPERTY: Final = "uws-msg"
"""The MQTT 5 user property naming a node's outbox message, echoed back in its Receipt."""


@dataclass(frozen=True)
class NodeTopics:
    """All topics of one node: `uws/v1/<node>/...`."""

    node_id: str

    def topic(self, kind: TopicKind) -> str:
        """Return the topic of one kind for this node."""
        return f"{TOPIC_ROOT}/{self.node_id}/{kind.value}"

    def snapshot(self, event_id: str) -> str:
        """Return the topic carrying the JPEG snapshot of one event."""
        return f"{TOPIC_ROOT}/{self.node_id}/snapshot/{event_id}"


def subscription(kind: TopicKind, share_group: str | None = None) -> str:
    """Return the wildcard filter for one kind across all nodes, optionally shared."""
    leaf = "snapshot/+" if kind is TopicKind.SNAPSHOT else kind.value
    topic = f"{TOPIC_ROOT}/+/{leaf}"
    return f"$share/{share_group}/{topic}" if share_group else topic


_TOPIC_RE: Final = re.compile(
    r"^uws/v1/(?P<node>[A-Za-z0-9][A-Za-z0-9_.-]{0,63})/"
    r"(?P<kind>status|health|event|visit|door|state|cmd/result|cmd|receipt|snapshot/(?P<sub>[A-Za-z0-9_.-]+))$"
)


def parse_topic(topic: str) -> tuple[str, TopicKind, str | None]:
    """Split a topic into (node id, kind, snapshot event id) or raise ContractError."""
    match = _TOPIC_RE.match(topic)
    if match is None:
        raise ContractError(f"topic {topic!r} is not in the uws/v1 tree")
    kind = match["kind"]
    if kind.startswith("snapshot/"):
        return match["node"], TopicKind.SNAPSHOT, match["sub"]
    return match["node"], TopicKind(kind), None


class Message(BaseModel):
    """Base of every wire message: strict fields, a schema version, nothing extra."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    schema_version: Literal[1] = Field(
        default=SCHEMA_VERSION, alias="schema", description="Wire schema version."
    )

    def to_payload(self) -> bytes:
        """Serialise to the JSON bytes that go on the wire."""
        return self.model_dump_json(by_alias=True).encode()


class NodeState(StrEnum):
    """Whether a node is connected."""

    ONLINE = "online"
    OFFLINE = "offline"


class NodeStatus(Message):
    """Retained birth / last-will message of a node on `.../status`."""

    node_id: NodeId
    state: NodeState = Field(description="online on birth, offline on last will or shutdown.")
    reason: Literal["birth", "will", "shutdown"] = Field(description="Why the state changed.")
    ts: AwareDatetime | None = Field(
        default=None, description="When it was sent; none in a last will set at connect."
    )
    version: str = Field(default="", max_length=64, description="Software version of the node.")


class CameraHealth(BaseModel):
    """Health of one camera on a node."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    camera_id: EntityId
    connected: bool = Field(description="Whether frames are arriving.")
    fps: float = Field(ge=0, description="Frames processed per second.")
    reconnects: int = Field(ge=0, description="Reconnects since start.")
    frames: int | None = Field(default=None, ge=0, description="Frames received since start.")
    last_frame_age_s: float | None = Field(
        default=None, ge=0, description="Seconds since the last frame; none before the first."
    )
    dropped: int | None = Field(
        default=None,
        ge=0,
        description="Frames received but never analysed since start (the model fell behind).",
    )

    occupancy: int | None = Field(
        default=None,
        ge=0,
        le=10_000,
        description="People the camera counts in its zone now (telemetry, never an alert).",
    )


class GpuHealth(BaseModel):
    """The accelerator of a node, where it has one (NVML, or tegrastats on a Jetson)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(default="", max_length=64, description="Device name as the driver gives it.")
    utilisation_percent: float | None = Field(
        default=None, ge=0, le=100, description="Busy share of the last sample period."
    )
    memory_used_mb: float | None = Field(default=None, ge=0, description="Memory in use.")
    memory_total_mb: float | None = Field(default=None, ge=0, description="Memory on the device.")


class RunningModel(BaseModel):
    """A model a node runs now, as the fleet's model registry names it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    slot: str = Field(
        min_length=1, max_length=64, description="Which of the node's models: 'detector', ..."
    )
    version: str = Field(
        default="", max_length=64, description="Registry version id; empty for the configured file."
    )
    sha256: str = Field(default="", max_length=64, description="SHA-256 of the weights, hex.")
    rolled_back_from: str = Field(
        default="", max_length=64, description="A version this node tried and rolled back from."
    )
    rollback_reason: str = Field(default="", max_length=300, description="Why it rolled back.")


class NodeHealth(Message):
    """Periodic heartbeat with the node's vital signs on `.../health`."""

    node_id: NodeId
    ts: AwareDatetime = Field(description="When the figures were read.")
    uptime_s: float = Field(ge=0, description="Seconds since the node process started.")
    inference_ms: float = Field(ge=0, description="Mean model time per batch, last interval.")
    cpu_percent: float = Field(ge=0, le=100 * 256, description="Process CPU use.")
    memory_mb: float = Field(ge=0, description="Process resident memory.")
    temperature_c: float | None = Field(default=None, description="SoC temperature if known.")
    outbox_depth: int = Field(ge=0, description="Messages waiting in the durable outbox.")
    outbox_oldest_s: float | None = Field(
        default=None, ge=0, description="Age of the oldest message waiting; none when empty."
    )
    outbox_dropped: int = Field(
        default=0, ge=0, description="Droppable messages evicted by the outbox cap since start."
    )
    cameras: list[CameraHealth] = Field(default_factory=list, max_length=32)
    system_cpu_percent: float | None = Field(
        default=None, ge=0, le=100, description="Whole-machine CPU use, all cores."
    )
    system_memory_percent: float | None = Field(
        default=None, ge=0, le=100, description="Whole-machine memory in use."
    )
    disk_used_percent: float | None = Field(
        default=None, ge=0, le=100, description="Use of the disk holding the node's data."
    )
    gpu: GpuHealth | None = Field(default=None, description="The accelerator; none without one.")
    models: list[RunningModel] = Field(
        default_factory=list, max_length=8, description="The models it runs now, by slot."
    )


class EventKind(StrEnum):
    """What a detection is about; PERSON is presence (occupancy), never an alert."""

    PERSON = "person"
    FALL = "fall"
    FIRE = "fire"
    SMOKE = "smoke"
    CROWD = "crowd"
    HEAT = "heat"
    DOOR_FORCED = "door_forced"
    DOOR_HELD_OPEN = "door_held_open"
    OVERCURRENT = "overcurrent"
    DEVICE_OFFLINE = "device_offline"


class EventPhase(StrEnum):
    """Lifecycle step of an event: it opens, may update, then ends."""

    NEW = "new"
    UPDATE = "update"
    END = "end"


class EventSeverity(StrEnum):
    """How urgent a node judges an event; sensors agreeing with the camera make it critical."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class SeenBox(BaseModel):
    """One object the models saw on the frame an event was confirmed on (its snapshot's frame),
    in the class name of the model that saw it; corners are fractions of the frame (0..1), so
    they fit the snapshot at any scale."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    class_name: str = Field(min_length=1, max_length=64, description="The model's class name.")
    role: Literal["person", "fallen", "fire", "smoke"] = Field(
        description="What the class means to the station."
    )
    score: float = Field(ge=0, le=1, description="The model's confidence.")
    x1: float = Field(ge=0, le=1, description="Left edge, fraction of the frame's width.")
    y1: float = Field(ge=0, le=1, description="Top edge, fraction of the frame's height.")
    x2: float = Field(ge=0, le=1, description="Right edge, fraction of the frame's width.")
    y2: float = Field(ge=0, le=1, description="Bottom edge, fraction of the frame's height.")

    @model_validator(mode="after")
    def _ordered(self) -> SeenBox:
        if self.x2 <= self.x1 or self.y2 <= self.y1:
            raise ValueError("a box needs x1 < x2 and y1 < y2")
        return self


class Event(Message):
    """A hazard (or presence) event on `.../event`; idempotent on (event_id, phase, seq).

    Its source is a camera (what the models saw) or a station device (what the local rules
    read), never both.
    """

    event_id: EntityId = Field(description="Stable id shared by new, update and end.")
    node_id: NodeId
    camera_id: EntityId | None = Field(default=None, description="The camera that saw it.")
    device_id: EntityId | None = Field(default=None, description="The device that reported it.")
    kind: EventKind
    phase: EventPhase
    seq: int = Field(ge=0, description="Counts the messages of this event from 0.")
    ts: AwareDatetime = Field(description="When this message was produced.")
    started_at: AwareDatetime = Field(description="When the event was first confirmed.")
    score: float = Field(ge=0, le=1, description="Model confidence, 0..1.")
    zone: str = Field(default="", max_length=64, description="Zone name; empty for the frame.")
    count: int = Field(default=0, ge=0, le=10_000, description="People counted, if relevant.")
    has_snapshot: bool = Field(default=False, description="A blurred JPEG follows on snapshot.")
    snapshot_withheld: str = Field(
        default="",
        max_length=100,
        description="Why no snapshot follows though one was due (e.g. a face still found).",
    )
    severity: EventSeverity | None = Field(
        default=None, description="The node's judgement of urgency; none where it has none."
    )
    evidence: str = Field(
        default="", max_length=300, description="Why the node raised it, for people to read."
    )
    boxes: list[SeenBox] = Field(
        default_factory=list,
        max_length=MAX_EVENT_BOXES,
        description="What the models saw on the confirming frame (NEW messages of cameras).",
    )

    @model_validator(mode="after")
    def _one_source(self) -> Event:
        if (self.camera_id is None) == (self.device_id is None):
            raise ValueError("an event names exactly one source: camera_id or device_id")
        return self

    @property
    def source_id(self) -> str:
        """Return the camera or device the event came from."""
        return self.camera_id or self.device_id or ""


class VisitMethod(StrEnum):
    """How a visitor got in."""

    QR = "qr"
    CARD = "card"
    FACE = "face"
    REMOTE = "remote"
    UNKNOWN = "unknown"


class Visit(Message):
    """A visit record on `.../visit`: entry, and exit once known."""

    visit_id: EntityId
    node_id: NodeId
    member_id: EntityId | None = Field(default=None, description="Pseudonymous member id.")
    method: VisitMethod
    entered_at: AwareDatetime
    exited_at: AwareDatetime | None = None


class DoorOutcome(StrEnum):
    """What the door did with one showing."""

    UNLOCKED = "unlocked"
    REFUSED = "refused"
    NOT_ENTERED = "not_entered"


class DoorDecision(Message):
    """One line of a node's door log on `.../door`, for cloud-duty's audit log."""

    decision_id: EntityId = Field(description="Stable id: a redelivered line is stored once.")
    node_id: NodeId
    at: AwareDatetime = Field(description="When the door decided.")
    method: VisitMethod
    member_id: EntityId | None = Field(default=None, description="Pseudonymous member id.")
    outcome: DoorOutcome
    reason: str = Field(default="", max_length=200, description="Why, e.g. `replayed`.")


class DeviceSnapshot(BaseModel):
    """Last known state of one station device (door, sensors, sockets, fan)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    device_id: EntityId
    available: Literal["online", "offline", "unknown"] = Field(description="From its last will.")
    values: dict[str, bool | float | str] = Field(
        default_factory=dict, max_length=32, description="Entity name -> last state."
    )
    updated_at: AwareDatetime | None = Field(default=None, description="Last change seen.")


class StationState(Message):
    """The station's devices as the node sees them, on `.../state` (retained)."""

    node_id: NodeId
    ts: AwareDatetime
    devices: list[DeviceSnapshot] = Field(default_factory=list, max_length=64)


class CommandName(StrEnum):
    """Commands a node accepts from cloud-duty."""

    UNLOCK = "unlock"
    LOCK = "lock"
    SNAPSHOT = "snapshot"
    REBOOT = "reboot"


class Command(Message):
    """A remote command on `.../cmd`: never retained, refused once expired."""

    cmd_id: EntityId
    name: CommandName
    args: dict[str, str | int | float | bool] = Field(default_factory=dict, max_length=16)
    issued_by: str = Field(max_length=128, description="Who asked for it.")
    reason: str = Field(default="", max_length=500, description="Why, for the audit log.")
    issued_at: AwareDatetime
    expires_at: AwareDatetime

    def expired(self, now: datetime) -> bool:
        """Return whether the command may no longer run."""
        return now >= self.expires_at


class CommandOutcome(StrEnum):
    """What became of a command."""

    DONE = "done"
    REFUSED = "refused"
    EXPIRED = "expired"
    FAILED = "failed"


class CommandResult(Message):
    """A node's answer to a command on `.../cmd/result`."""

    cmd_id: EntityId
    node_id: NodeId
    outcome: CommandOutcome
    detail: str = Field(default="", max_length=500)
    ts: AwareDatetime


MAX_RECEIPT_IDS: Final = 1000


class Receipt(Message):
    """cloud-duty's word on `.../receipt` that these outbox messages of a node are stored.

    The node deletes an outbox row only on its receipt, never on the broker's PUBACK: a broker
    may accept a message and still lose it (shared subscriptions are not persisted).
    """

    node_id: NodeId
    message_ids: list[Annotated[int, Field(ge=1)]] = Field(
        min_length=1,
        max_length=MAX_RECEIPT_IDS,
        description="Outbox ids (the uws-msg user property) committed or refused for good.",
    )
    ts: AwareDatetime = Field(description="When cloud-duty committed them.")


M = TypeVar("M", bound=Message)

TOPIC_MODELS: Final[dict[TopicKind, type[Message]]] = {
    TopicKind.STATUS: NodeStatus,
    TopicKind.HEALTH: NodeHealth,
    TopicKind.EVENT: Event,
    TopicKind.VISIT: Visit,
    TopicKind.DOOR: DoorDecision,
    TopicKind.STATE: StationState,
    TopicKind.CMD: Command,
    TopicKind.CMD_RESULT: CommandResult,
    TopicKind.RECEIPT: Receipt,
}


def decode(model: type[M], payload: bytes) -> M:
    """Validate raw bytes as `model`, raising ContractError with a readable reason."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ContractError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    try:
        raw: Any = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ContractError(f"payload is not JSON: {err}") from err
    if not isinstance(raw, dict):
        raise ContractError("payload is not a JSON object")
    version = raw.get("schema")
    if version != SCHEMA_VERSION:
        raise ContractError(
            f"unknown schema version {version!r}; this side speaks {SCHEMA_VERSION}"
        )
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in err.errors()
        )
        raise ContractError(f"invalid {model.__name__}: {problems}") from err


def decode_for_topic(topic: str, payload: bytes) -> tuple[str, Message]:
    """Decode a payload by its topic; the node id in the body must match the topic's."""
    node_id, kind, _ = parse_topic(topic)
    model = TOPIC_MODELS.get(kind)
    if model is None:
        raise ContractError(f"topic kind {kind.value!r} carries no JSON message")
    message = decode(model, payload)
    body_node = getattr(message, "node_id", node_id)
    if body_node != node_id:
        raise ContractError(f"node_id {body_node!r} in body does not match topic node {node_id!r}")
    return node_id, message
