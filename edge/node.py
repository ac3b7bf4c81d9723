"""Composition root of an edge node: camera -> detector -> zone + presence -> event -> uplink."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from importlib import metadata
from types import FrameType

from edge.analysis import CameraFeed, StationAnalysis, build_blurrer, load_extra_models
from edge.camera import Camera
from edge.config import DetectorConfig, EdgeConfig, PresenceConfig
from edge.device_link import LocalSafety
from edge.device_report import DeviceStateReporter
from edge.entry_service import EntryService
from edge.health import HealthReporter
from edge.outbox import Outbox
from edge.uplink import Uplink
from station.contracts import (
    Event,
    EventKind,
    EventPhase,
    EventSeverity,
    NodeHealth,
    NodeTopics,
    TopicKind,
    utcnow,
)
from vision.detector import YoloDetector
from vision.events import HazardEvent
from vision.fire import SensorReading
from vision.pipeline import CameraFrame, ModelUse
from vision.presence import Phase, PresenceEvent, PresenceMonitor
from vision.privacy import FaceBlurrer
from vision.roles import RoleMap
from vision.zones import Zone

log = logging.getLogger(__name__)

_READ_TIMEOUT_S = 1.0


def node_version() -> str:
    """Return the installed worker-station version, or '' when not installed."""
    try:
        return metadata.version("worker-station")
    except metadata.PackageNotFoundError:
        return ""


def build_detector(config: DetectorConfig) -> YoloDetector:
    """Load the configured model (raises vision.detector.ModelLoadError if it cannot)."""
    return YoloDetector(
        config.model,
        roles=RoleMap(config.roles),
        imgsz=config.imgsz,
        confidence=config.confidence,
        device=config.device,
    )


def build_presence(config: PresenceConfig) -> PresenceMonitor:
    """Build the presence monitor for the configured zone and timings."""
    zone = Zone.from_points(config.zone.name, config.zone.polygon)
    return PresenceMonitor(
        zone,
        confirm_s=config.confirm_s,
        clear_s=config.clear_s,
        update_every_s=config.update_every_s,
        refresh_s=config.refresh_s,
    )


class EventPublisher:
    """Turns vision's events into contract Events, numbering each event's messages."""

    def __init__(
        self,
        node_id: str,
        camera_id: str,
        send: Callable[[str, Event], object],
        on_event: Callable[[Event], None] | None = None,
    ) -> None:
        """Publish events of one camera through `send(topic, event)`; tell `on_event` too."""
        self.node_id = node_id
        self.camera_id = camera_id
        self._send = send
        self._on_event = on_event
        self._topic = NodeTopics(node_id).topic(TopicKind.EVENT)
        self._seq: dict[str, int] = {}

    def publish(self, found: PresenceEvent | HazardEvent, *, has_snapshot: bool = False) -> Event:
        """Send one event message and return it (presence events are of kind person)."""
        kind = EventKind(found.kind.value) if isinstance(found, HazardEvent) else EventKind.PERSON
        seq = self._seq.get(found.event_id, 0)
        if found.phase is Phase.END:
            self._seq.pop(found.event_id, None)
        else:
            self._seq[found.event_id] = seq + 1
        event = Event(
            event_id=found.event_id,
            node_id=self.node_id,
            camera_id=self.camera_id,
            kind=kind,
            phase=EventPhase(found.phase.value),
            seq=seq,
            ts=found.at,
            started_at=found.started_at,
            score=min(max(found.score, 0.0), 1.0),
            zone=found.zone,
            count=found.count,
            has_snapshot=has_snapshot,
            severity=_severity(found),
        )
        self._send(self._topic, event)
        if self._on_event is not None:
            self._on_event(event)
        log.info(
            "event %s %s %s seq=%d camera=%s zone=%s count=%d score=%.2f",
            event.kind.value,
            event.phase.value,
            event.event_id,
            event.seq,
            event.camera_id,
            event.zone,
            event.count,
            event.score,
        )
        return event


def run_node(config: EdgeConfig, stop: threading.Event | None = None) -> None:
    """Run the node until `stop` is set or SIGINT/SIGTERM arrives, then shut down cleanly."""
    stop = stop or threading.Event()
    with ExitStack() as cleanup:
        cleanup.callback(_install_signal_handlers(stop))
        outbox = Outbox(config.outbox.path)
        cleanup.callback(outbox.close)
        uplink = Uplink(config.node_id, config.cloud, outbox, version=node_version())
        # The safety rules start before the models load (seconds): after a restart during a
        # fire the door must open at once. Their events wait in the outbox for the link.
        safety = _start_local_safety(config, uplink)
        if safety is not None:
            cleanup.callback(safety.stop)
        extra = load_extra_models(config)
        models = [
            ModelUse(build_detector(config.detector)),
            *(ModelUse(m, spec.cameras) for spec, m in zip(config.models, extra, strict=True)),
        ]
        _run_parts(config, models, uplink, safety, stop, build_blurrer(config.privacy))
    log.info("node %s stopped", config.node_id)


def _run_parts(
    config: EdgeConfig,
    models: Sequence[ModelUse],
    uplink: Uplink,
    safety: LocalSafety | None,
    stop: threading.Event,
    blurrer: FaceBlurrer | None = None,
) -> None:
    outbox_depth = uplink.outbox.depth
    reports = _start_device_reports(config, safety, uplink)
    entry = _start_entry(config, safety, uplink)
    cameras = [Camera(camera) for camera in config.all_cameras]
    health = HealthReporter(config.node_id, cameras, outbox_depth)
    health_topic = uplink.topics.topic(TopicKind.HEALTH)

    def publish_health(report: NodeHealth) -> None:
        if not uplink.publish_now(health_topic, report):
            log.debug("health not sent: cloud link down")
        if reports is not None:
            reports.publish()

    uplink.start()
    for camera in cameras:
        camera.start()
    health.start(config.health.interval_s, publish_health)
    log.info("node %s running cameras %s", config.node_id, ", ".join(c.camera_id for c in cameras))
    try:
        _analyse(
            config=config,
            cameras=cameras,
            models=models,
            health=health,
            uplink=uplink,
            stop=stop,
            blurrer=blurrer,
            sensors=_sensor_reader(safety),
            on_event=_fire_to_rules(safety),
            entry=entry,
        )
    finally:
        health.stop()
        for camera in cameras:
            camera.stop()
        for part in (entry, reports):
            if part is not None:
                part.stop()
        uplink.stop()


def _start_local_safety(config: EdgeConfig, uplink: Uplink) -> LocalSafety | None:
    """Start the device link and safety rules first: they must not wait on the camera or cloud."""
    if config.devices is None:
        return None
    topic = uplink.topics.topic(TopicKind.EVENT)
    safety = LocalSafety(
        config.node_id, config.devices, config.rules, lambda event: uplink.send(topic, event)
    )
    safety.start(timeout_s=0)
    return safety


def _start_device_reports(
    config: EdgeConfig, safety: LocalSafety | None, uplink: Uplink
) -> DeviceStateReporter | None:
    """Report the station's device states to the cloud, retained, on change."""
    if safety is None:
        return None
    topic = uplink.topics.topic(TopicKind.STATE)
    reporter = DeviceStateReporter(
        config.node_id,
        safety.devices.registry,
        lambda state: uplink.publish_now(topic, state, qos=1, retain=True),
    )
    reporter.start()
    return reporter


def _start_entry(
    config: EdgeConfig, safety: LocalSafety | None, uplink: Uplink
) -> EntryService | None:
    """Entry by QR code or face at the door, if configured (the config demands devices)."""
    if config.entry is None or safety is None:
        return None
    entry = EntryService(config.node_id, config.entry, safety.devices, uplink)
    entry.start()
    return entry


def _fire_to_rules(safety: LocalSafety | None) -> Callable[[Event], None] | None:
    """A fire or smoke the cameras confirm drives the local rules like a smoke detector."""
    if safety is None:
        return None
    rules = safety.rules

    def on_event(event: Event) -> None:
        if event.kind in (EventKind.FIRE, EventKind.SMOKE) and event.phase is not EventPhase.UPDATE:
            rules.set_fire(event.phase is EventPhase.NEW)

    return on_event


def _analyse(
    *,
    config: EdgeConfig,
    cameras: Sequence[Camera],
    models: Sequence[ModelUse],
    health: HealthReporter,
    uplink: Uplink,
    stop: threading.Event,
    blurrer: FaceBlurrer | None,
    sensors: Callable[[], SensorReading | None] | None,
    on_event: Callable[[Event], None] | None = None,
    entry: EntryService | None = None,
) -> None:
    """The frame loop: newest frames -> one batch through the models -> events, until stop."""
    feeds = [
        CameraFeed(
            camera.camera_id,
            build_presence(config.presence),
            EventPublisher(config.node_id, camera.camera_id, uplink.send, on_event),
        )
        for camera in cameras
    ]

    def send_snapshot(event_id: str, jpeg: bytes) -> None:
        uplink.send(uplink.topics.snapshot(event_id), jpeg)

    analysis = StationAnalysis(config, feeds, models, send_snapshot, blurrer, sensors)
    last = {camera.camera_id: -1 for camera in cameras}
    door = cameras[0].camera_id
    while not stop.is_set():
        frames = _newest_frames(cameras, last)
        if not frames:
            continue
        results = analysis.step(frames)
        health.record_inference(sum(r.inference_ms for r in results.values()))
        for camera_id in results:
            health.record_frame(camera_id)
        door_frame = next((f for f in frames if f.camera_id == door), None)
        if entry is not None and door_frame is not None:
            try:
                entry.on_frame(door_frame.image)
            except Exception:
                # A fault at the door must never stop the hazard watch on the cameras.
                log.exception("entry failed on a frame of camera %s", door)
    # A clean stop ends what is open, so no alert stays active for a node that stopped looking.
    analysis.close(utcnow())


def _newest_frames(cameras: Sequence[Camera], last: dict[str, int]) -> list[CameraFrame]:
    """Take each camera's frame newer than the last one used; wait briefly if none is new."""
    frames: list[CameraFrame] = []
    for attempt_s in (0.0, _READ_TIMEOUT_S / max(1, len(cameras))):
        for camera in cameras:
            frame = camera.read(after=last[camera.camera_id], timeout_s=attempt_s)
            if frame is not None:
                last[camera.camera_id] = frame.index
                frames.append(CameraFrame(camera.camera_id, frame.ts, frame.image))
        if frames:
            break
    return frames


def _severity(found: PresenceEvent | HazardEvent) -> EventSeverity | None:
    """Return a hazard's severity in contract terms; presence events have none."""
    return EventSeverity(found.severity.value) if isinstance(found, HazardEvent) else None


def _sensor_reader(safety: LocalSafety | None) -> Callable[[], SensorReading] | None:
    """Return the station's smoke and temperature readings for the fire logic, if it has any."""
    if safety is None:
        return None
    environment = safety.devices.environment
    return lambda: SensorReading(
        smoke_alarm=environment.smoke, temperature_c=environment.temperature_c
    )


def _install_signal_handlers(stop: threading.Event) -> Callable[[], None]:
    """Make SIGINT/SIGTERM set `stop`; return a function restoring the old handlers."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handle(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: stopping", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore
