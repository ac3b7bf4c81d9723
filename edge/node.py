"""Composition root of an edge node: cameras -> vision -> events -> rules and uplink."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from importlib import metadata
from pathlib import Path

from edge.accelerator import find_gpu
from edge.analysis import (
    StationAnalysis,
    build_blurrer,
    load_extra_models,
)
from edge.camera import Camera
from edge.config import DetectorConfig, EdgeConfig
from edge.devices.holds import FireHolds
from edge.devices.link import LocalSafety
from edge.devices.report import DeviceStateReporter
from edge.entry.controller import EntryController
from edge.entry.service import EntryService
from edge.health import HealthReporter
from edge.link.outbox import Outbox
from edge.link.uplink import Uplink
from edge.metrics import NodeMetrics
from edge.retention import LocalRetention
from edge.rollout.updater import SLOT, DutyModelSource, ModelUpdater, file_sha256
from edge.routing import EventRouter
from edge.shutdown import Deadline, install_stop_signals
from station.contracts import NodeHealth, RunningModel, TopicKind, utcnow
from vision.detector import Detector, YoloDetector
from vision.errors import ModelLoadError
from vision.fire import SensorReading
from vision.pipeline import CameraFrame, CameraResult, ModelUse
from vision.privacy import FaceBlurrer
from vision.roles import RoleMap
from vision.slot import DetectorSlot
from vision.weights import check_roles

log = logging.getLogger(__name__)

_READ_TIMEOUT_S = 1.0
FIRE_HOLDS_FILE = "fire_holds.sqlite"
_STOP_PARTS_S = 6.0  # the parts' share of shutdown.STOP_DEADLINE_S; the rest is for exiting


def node_version() -> str:
    """Return the installed worker-station version, or '' when not installed."""
    try:
        return metadata.version("worker-station")
    except metadata.PackageNotFoundError:
        return ""


def build_detector(config: DetectorConfig) -> YoloDetector:
    """Load the configured model and check its classes mean something here (else
    vision.errors.ModelLoadError)."""
    detector = YoloDetector(
        config.model,
        roles=RoleMap(config.roles),
        imgsz=config.imgsz,
        confidence=config.confidence,
        device=config.device,
        dark=config.dark,
    )
    check_roles(detector, None)
    return detector


def rollout_loader(config: DetectorConfig) -> Callable[[Path, list[str]], Detector]:
    """Load a downloaded model with the node's detector settings; refuse one whose classes
    are not those the registry lists, or that serve no role here."""

    def load(weights: Path, classes: list[str]) -> Detector:
        detector = build_detector(config.model_copy(update={"model": weights}))
        found = [detector.class_names[i] for i in sorted(detector.class_names)]
        if found != classes:
            raise ModelLoadError(f"{weights}: classes {found}, the registry says {classes}")
        return detector

    return load


def run_node(config: EdgeConfig, stop: threading.Event | None = None) -> None:
    """Run the node until `stop` is set or SIGINT/SIGTERM arrives, then shut down cleanly."""
    stop = stop or threading.Event()
    with ExitStack() as cleanup:
        cleanup.callback(install_stop_signals(stop))
        outbox = Outbox(config.outbox.path, config.outbox.max_rows)
        cleanup.callback(outbox.close)
        uplink = Uplink(config.node_id, config.cloud, outbox, version=node_version())
        router = EventRouter(config.node_id, uplink.send, uplink.topics.topic(TopicKind.EVENT))
        # The safety rules start before the models load (seconds): after a restart during a
        # fire the door must open at once. Their events wait in the outbox for the link.
        safety = _start_local_safety(config, router)
        if safety is not None:
            cleanup.callback(safety.stop)
        loaded = _load_models(config, stop)
        if loaded is None:
            log.info("node %s stopped before it started watching", config.node_id)
            return
        main, models = loaded
        updater = _start_rollout(config, main)
        if updater is not None:
            cleanup.callback(updater.stop, 3.0)
        blurrer = build_blurrer(config.privacy)
        _run_parts(config, models, uplink, router, safety, stop, blurrer, updater)
    log.info("node %s stopped", config.node_id)


def _load_models(
    config: EdgeConfig, stop: threading.Event
) -> tuple[DetectorSlot, list[ModelUse]] | None:
    """The detector's slot and every model in use, the detector first; None if told to stop
    meanwhile (a load cannot be interrupted, but nothing else need start after it)."""
    log.info("node %s loading its models", config.node_id)
    extra = load_extra_models(config)
    if stop.is_set():
        return None
    main = DetectorSlot(build_detector(config.detector))
    if stop.is_set():
        return None
    return main, [
        ModelUse(main),
        *(ModelUse(m, spec.cameras) for spec, m in zip(config.models, extra, strict=True)),
    ]


def _run_parts(
    config: EdgeConfig,
    models: Sequence[ModelUse],
    uplink: Uplink,
    router: EventRouter,
    safety: LocalSafety | None,
    stop: threading.Event,
    blurrer: FaceBlurrer | None = None,
    updater: ModelUpdater | None = None,
) -> None:
    reports = _start_device_reports(config, safety, uplink)
    cameras = {camera.id: Camera(camera) for camera in config.all_cameras}
    running = updater.running if updater is not None else None
    health, stop_metrics = _health(config, list(cameras.values()), uplink, reports, running)
    analysis = _build_analysis(config, models, uplink, router, safety, blurrer)
    uplink.start()
    for camera in cameras.values():
        camera.start()
    door = cameras[config.door_camera] if config.door_camera else None
    entry = _start_entry(config, safety, uplink, door)
    retention = LocalRetention(config.retention, uplink.outbox, entry.store if entry else None)
    publish = _health_publisher(uplink, reports, retention, updater)
    health.start(config.health.interval_s, publish)
    log.info("node %s running cameras %s", config.node_id, ", ".join(cameras))
    on_room = room_watcher(entry.controller, config.door_camera) if entry is not None else None
    try:
        _analyse(list(cameras.values()), analysis, health, stop, on_room)
        # A clean stop ends what is open, so no alert stays active for a node that stopped
        # looking; the local rules keep their holds (a fire does not go out with the node).
        router.detach_safety()
        analysis.close(utcnow())
    finally:
        _stop_parts(list(cameras.values()), uplink, health, stop_metrics, entry, reports, updater)


def _stop_parts(
    cameras: list[Camera],
    uplink: Uplink,
    health: HealthReporter,
    stop_metrics: Callable[[], None] | None,
    entry: EntryService | None,
    reports: DeviceStateReporter | None,
    updater: ModelUpdater | None,
) -> None:
    """Stop every part within one shared budget: their waits must not add up."""
    deadline = Deadline(_STOP_PARTS_S)
    for camera in cameras:
        camera.request_stop()  # all at once: each may be stuck in a read for seconds
    if updater is not None:
        updater.stop(deadline.left(3.0))  # first: no model swaps in while the node stops
    health.stop()
    if stop_metrics is not None:
        stop_metrics()
    if entry is not None:
        entry.stop(deadline.left(2.0))
    if reports is not None:
        reports.stop()
    for camera in cameras:
        camera.stop(deadline.left(2.0))
    uplink.stop(deadline.left(4.0))


def _health(
    config: EdgeConfig,
    cameras: list[Camera],
    uplink: Uplink,
    reports: DeviceStateReporter | None,
    running: Callable[[], list[RunningModel]] | None = None,
) -> tuple[HealthReporter, Callable[[], None] | None]:
    """The heartbeat's reporter, and the metrics server where one is configured."""
    metrics = NodeMetrics(uplink.outbox, reports.snapshot if reports else None)
    health = HealthReporter(
        config.node_id,
        cameras,
        uplink.outbox,
        models=running,
        data_dir=config.outbox.path.parent,
        gpu=find_gpu(),
        metrics=metrics,
    )
    port = config.health.metrics_port
    stop = metrics.serve(config.health.metrics_host, port) if port is not None else None
    return health, stop


def _build_analysis(
    config: EdgeConfig,
    models: Sequence[ModelUse],
    uplink: Uplink,
    router: EventRouter,
    safety: LocalSafety | None,
    blurrer: FaceBlurrer | None,
) -> StationAnalysis:
    """Every camera with its own settings; events to the router, snapshots to the uplink."""

    def send_snapshot(event_id: str, jpeg: bytes) -> None:
        uplink.send(uplink.topics.snapshot(event_id), jpeg)

    return StationAnalysis(
        {camera.id: config.analysis_for(camera) for camera in config.all_cameras},
        models,
        router.camera_event,
        send_snapshot,
        blurrer=blurrer,
        jpeg_quality=config.privacy.jpeg_quality if config.privacy else 80,
        sensors=_sensor_reader(safety),
        looked=router.camera_looked,
    )


def _health_publisher(
    uplink: Uplink,
    reports: DeviceStateReporter | None,
    retention: LocalRetention | None = None,
    updater: ModelUpdater | None = None,
) -> Callable[[NodeHealth], None]:
    """Send each heartbeat now (never queued: a stale one is worthless) and the device states;
    a model on trial is judged on it first; local retention runs on its thread when due."""
    topic = uplink.topics.topic(TopicKind.HEALTH)

    def publish(report: NodeHealth) -> None:
        if updater is not None:
            updater.observe(report)
        if retention is not None:
            retention.maybe_run(report.ts)
        if not uplink.publish_now(topic, report):
            log.debug("health not sent: cloud link down")
        if reports is not None:
            reports.publish()

    return publish


def _start_rollout(config: EdgeConfig, slot: DetectorSlot) -> ModelUpdater | None:
    """Poll cloud-duty's registry for the detector's version, if configured."""
    if config.rollout is None:
        return None
    running = RunningModel(slot=SLOT, sha256=file_sha256(config.detector.model))
    source = DutyModelSource(config.node_id, config.rollout)
    updater = ModelUpdater(slot, source, rollout_loader(config.detector), config.rollout, running)
    updater.start()
    return updater


def _start_local_safety(config: EdgeConfig, router: EventRouter) -> LocalSafety | None:
    """Start the device link and safety rules first: they must not wait on the camera or cloud."""
    if config.devices is None:
        return None
    # Beside the outbox: the node's own state, on the same disk.
    holds = FireHolds(config.outbox.path.with_name(FIRE_HOLDS_FILE))
    safety = LocalSafety(config.devices, config.rules, router.device_event, holds)
    router.attach_safety(safety)
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
    config: EdgeConfig, safety: LocalSafety | None, uplink: Uplink, door: Camera | None
) -> EntryService | None:
    """Entry by QR code or face at the door camera, on its own thread, if configured."""
    if config.entry is None or safety is None:
        return None
    entry = EntryService(config.node_id, config.entry, safety.devices, uplink)
    entry.start(door)
    return entry


def room_watcher(
    controller: EntryController, door_camera: str | None
) -> Callable[[CameraResult], None]:
    """Pass the door camera's count and door-line exits to entry, which ends visits by them."""

    def watch(result: CameraResult) -> None:
        if result.camera_id == door_camera:
            exits = result.door.exits if result.door is not None else None
            controller.room_seen(result.occupancy, exits)

    return watch


def _analyse(
    cameras: Sequence[Camera],
    analysis: StationAnalysis,
    health: HealthReporter,
    stop: threading.Event,
    on_room: Callable[[CameraResult], None] | None = None,
) -> None:
    """The frame loop: newest frames -> one batch through the models -> events, until stop."""
    last = {camera.camera_id: -1 for camera in cameras}
    while not stop.is_set():
        frames = _newest_frames(cameras, last)
        if not frames:
            continue
        results = analysis.step(frames)
        health.record_inference(sum(r.inference_ms for r in results))
        for result in results:
            health.record_frame(result.camera_id, result.occupancy)
            if on_room is not None:
                on_room(result)


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


def _sensor_reader(safety: LocalSafety | None) -> Callable[[], SensorReading] | None:
    """Return the station's smoke and temperature readings for the fire logic, if it has any."""
    if safety is None:
        return None
    environment = safety.devices.environment
    return lambda: SensorReading(
        smoke_alarm=environment.smoke, temperature_c=environment.temperature_c
    )
