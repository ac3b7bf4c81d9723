"""Composition root of an edge node: camera -> detector -> zone + presence -> event -> uplink."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from importlib import metadata
from types import FrameType

from edge.camera import Camera
from edge.config import DetectorConfig, EdgeConfig, PresenceConfig
from edge.health import HealthReporter
from edge.outbox import Outbox
from edge.uplink import Uplink
from station.contracts import (
    Event,
    EventKind,
    EventPhase,
    NodeHealth,
    NodeTopics,
    TopicKind,
    utcnow,
)
from vision.detector import Detector, YoloDetector
from vision.presence import Phase, PresenceEvent, PresenceMonitor
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
    """Turns vision's presence events into contract Events, numbering each event's messages."""

    def __init__(self, node_id: str, camera_id: str, send: Callable[[str, Event], object]) -> None:
        """Publish events of one camera through `send(topic, event)`."""
        self.node_id = node_id
        self.camera_id = camera_id
        self._send = send
        self._topic = NodeTopics(node_id).topic(TopicKind.EVENT)
        self._seq: dict[str, int] = {}

    def publish(self, found: PresenceEvent, kind: EventKind = EventKind.PERSON) -> Event:
        """Send one event message and return it."""
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
        )
        self._send(self._topic, event)
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
    restore = _install_signal_handlers(stop)
    try:
        # The model loads first: a bad model path fails before anything goes on the wire.
        detector = build_detector(config.detector)
        outbox = Outbox(config.outbox.path)
        try:
            _run_parts(config, detector, outbox, stop)
        finally:
            outbox.close()
    finally:
        restore()
    log.info("node %s stopped", config.node_id)


def _run_parts(
    config: EdgeConfig, detector: Detector, outbox: Outbox, stop: threading.Event
) -> None:
    uplink = Uplink(config.node_id, config.cloud, outbox, version=node_version())
    camera = Camera(config.camera)
    health = HealthReporter(config.node_id, [camera], outbox.depth)
    health_topic = uplink.topics.topic(TopicKind.HEALTH)

    def publish_health(report: NodeHealth) -> None:
        if not uplink.publish_now(health_topic, report):
            log.debug("health not sent: cloud link down")

    uplink.start()
    camera.start()
    health.start(config.health.interval_s, publish_health)
    log.info("node %s running camera %s", config.node_id, config.camera.id)
    try:
        _analyse(
            config=config,
            camera=camera,
            detector=detector,
            health=health,
            uplink=uplink,
            stop=stop,
        )
    finally:
        health.stop()
        camera.stop()
        uplink.stop()


def _analyse(
    *,
    config: EdgeConfig,
    camera: Camera,
    detector: Detector,
    health: HealthReporter,
    uplink: Uplink,
    stop: threading.Event,
) -> None:
    """The frame loop: newest frame -> model -> presence -> events, until stop."""
    monitor = build_presence(config.presence)
    events = EventPublisher(config.node_id, camera.camera_id, uplink.send)
    last_index = -1
    while not stop.is_set():
        frame = camera.read(after=last_index, timeout_s=_READ_TIMEOUT_S)
        if frame is None:
            continue
        last_index = frame.index
        # One camera for now, so a batch of one; the detector takes a batch of any size.
        detections = detector.detect([frame.image])[0]
        health.record_inference(detector.last_inference_ms)
        health.record_frame(camera.camera_id)
        for found in monitor.update(frame.ts, detections, frame.width, frame.height):
            events.publish(found)
    # A clean stop ends what is open, so no alert stays active for a node that stopped looking.
    for found in monitor.close(utcnow()):
        events.publish(found)


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
