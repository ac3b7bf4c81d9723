"""The node's entry service: QR and face at the door camera, face enrolment at the door
(an enrolment code, then the agree button), remote unlock, periodic sync.

The composition root builds one from the `entry` settings once the station devices and the
uplink exist, hands it the door camera, and calls start()/stop() around it. QR and face checks
run on their own thread at the door camera's pace, never on the inference thread.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Protocol

import httpx
import numpy as np

from edge.devices.link import StationDevices
from edge.entry.config import EntrySettings, FaceEntrySettings
from edge.entry.controller import Clock, Decision, EntryController, contact_listener
from edge.entry.door_kiosk import DoorKiosk, KioskTimings, agree_listener
from edge.entry.faces import FaceGate, StationScreen
from edge.entry.gallery import FaceGallery, new_gallery_key
from edge.entry.kiosk import EnrolmentKiosk
from edge.entry.store import EntryStore
from edge.entry.sync import sync_entry
from edge.errors import EntrySyncError
from edge.link.uplink import Uplink
from station.contracts import CommandName, utcnow
from station.tokens import EnrolmentVerifier
from vision.challenge import ChallengeRules
from vision.faces import FaceEngine, FaceModelPaths
from vision.qr import Frame, QrReader

log = logging.getLogger(__name__)

_TICK_S = 1.0
_READ_TIMEOUT_S = 1.0
_SCANNER_POLL_S = 0.5


class DoorFrame(Protocol):
    """A frame of the door camera: its image and its index in the stream."""

    @property
    def image(self) -> np.ndarray:
        """The BGR image."""
        ...

    @property
    def index(self) -> int:
        """Its number in the camera's stream."""
        ...


class DoorCamera(Protocol):
    """The camera watching the door (edge.camera.Camera)."""

    def read(
        self, after: int = -1, timeout_s: float = 1.0, *, take: bool = True
    ) -> DoorFrame | None:
        """Return the newest frame after `after`, or None."""
        ...


def load_gallery_key(path: Path) -> bytes:
    """Read the gallery key, making it (readable by this user only) on first start."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(new_gallery_key())
    return path.read_bytes().strip()


class EntryService:
    """Entry on one node, wired to its station devices and its uplink."""

    def __init__(
        self,
        node_id: str,
        settings: EntrySettings,
        devices: StationDevices,
        uplink: Uplink,
        clock: Clock = utcnow,
    ) -> None:
        """Build the controller, the QR reader and, if configured, the face gate."""
        self.settings = settings
        self.store = EntryStore(settings.policy.state_path)
        self._devices = devices
        self._clock = clock
        door = devices.door
        self.controller = EntryController(
            node_id, settings.policy, self.store, door, uplink, clock, door.device_id, uplink
        )
        devices.registry.listen(contact_listener(self.controller, door.device_id))
        uplink.on_command(CommandName.UNLOCK, self.controller.remote_unlock)
        self._reader = QrReader()
        token = settings.duty_token.get_secret_value()
        self._http = httpx.Client(
            base_url=settings.duty_url, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        self.gallery: FaceGallery | None = None
        self._faces: FaceGate | None = None
        self.kiosk: EnrolmentKiosk | None = None
        self.door_kiosk: DoorKiosk | None = None
        if settings.face is not None:
            self._faces = self._face_gate(settings.face)
            self.kiosk = self._kiosk(settings.face)
            self.door_kiosk = self._door_kiosk(self.kiosk, settings.face)
            devices.registry.listen(agree_listener(self.door_kiosk, door.device_id))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._housekeeping, name="entry", daemon=True)
        self._door_thread: threading.Thread | None = None
        self._scanner_thread: threading.Thread | None = None

    def _face_gate(self, face: FaceEntrySettings) -> FaceGate:
        self.gallery = FaceGallery(
            face.gallery_path, load_gallery_key(face.gallery_key_file), face.threshold
        )
        engine = FaceEngine(FaceModelPaths.standard(face.yunet, face.dlib_dir))
        screen = StationScreen(self._devices.link.send, self._devices.door.device_id)
        rules = ChallengeRules(time_limit_s=face.challenge_s)
        return FaceGate(
            engine, self.gallery, self.controller, screen, self._clock, face.frames, rules
        )

    def _kiosk(self, face: FaceEntrySettings) -> EnrolmentKiosk:
        """Enrolment at the door; its own face engine (one per thread) for the kiosk's UI."""
        assert self.gallery is not None
        policy = self.settings.policy
        verifier = EnrolmentVerifier(
            [policy.public_key, *policy.previous_public_keys],
            policy.station_id,
            policy.region,
            policy.leeway_s,
        )
        return EnrolmentKiosk(
            self._http,
            verifier,
            self.store,
            FaceEngine(FaceModelPaths.standard(face.yunet, face.dlib_dir)),
            self.gallery,
            StationScreen(self._devices.link.send, self._devices.door.device_id),
            self._clock,
            policy.station_id,
            self.controller.record,
        )

    def _door_kiosk(self, kiosk: EnrolmentKiosk, face: FaceEntrySettings) -> DoorKiosk:
        timings = KioskTimings(
            read_s=face.enrol_read_s,
            frames=face.enrol_frames,
            repeat_ignore_s=self.settings.policy.repeat_ignore_s,
        )
        screen = StationScreen(self._devices.link.send, self._devices.door.device_id)
        return DoorKiosk(kiosk, screen, self._clock, timings)

    def on_frame(self, image: Frame) -> Decision | None:
        """Look for a QR code (an enrolment code goes to the kiosk), then (if enabled, and no
        enrolment holds the camera) a face, in one door-camera frame."""
        text = self._reader.read(image)
        decision = self.present(text) if text is not None else None
        if self.door_kiosk is not None and self.door_kiosk.on_frame(image):
            return decision  # the face in front of the camera is being enrolled
        if decision is None and self._faces is not None:
            decision = self._faces.on_frame(image)
        return decision

    def present(self, text: str) -> Decision | None:
        """Show a code to the door: an enrolment code starts the kiosk, any other code is
        checked for entry; None when no door decision was made."""
        if self.door_kiosk is not None and self.door_kiosk.offer(text):
            return None
        return self.controller.present_qr(text)

    def sync(self) -> bool:
        """Pull revocations and withdrawals now; False (state kept) when the cloud is away."""
        try:
            policy = self.settings.policy
            keys = [policy.public_key, *policy.previous_public_keys]
            sync_entry(self._http, self.store, self.gallery, keys)
        except EntrySyncError as err:
            log.info("%s; keeping the last entry state", err)
            return False
        return True

    def start(self, door_camera: DoorCamera | None = None) -> None:
        """Start syncing and ticking, and watching `door_camera` if given, in the background."""
        self._thread.start()
        if door_camera is not None:
            self._door_thread = threading.Thread(
                target=self._watch_door, args=(door_camera,), name="entry-door", daemon=True
            )
            self._door_thread.start()
        if self.settings.scanner_file is not None:
            self._scanner_thread = threading.Thread(
                target=self._follow_scanner,
                args=(self.settings.scanner_file,),
                name="entry-scanner",
                daemon=True,
            )
            self._scanner_thread.start()

    def stop(self, timeout_s: float = 15.0) -> None:
        """Stop the background work (waiting up to `timeout_s` in all) and close the state
        file."""
        self._stop.set()
        deadline = time.monotonic() + timeout_s
        for thread in (self._door_thread, self._scanner_thread, self._thread):
            if thread is not None and thread.is_alive():
                thread.join(max(0.0, deadline - time.monotonic()))
        self._http.close()
        self.store.close()

    def _watch_door(self, camera: DoorCamera) -> None:
        last = -1
        while not self._stop.is_set():
            frame = camera.read(after=last, timeout_s=_READ_TIMEOUT_S, take=False)
            if frame is None:
                continue
            last = frame.index
            try:
                self.on_frame(frame.image)
            except Exception:
                # A fault at the door must never stop the door watch for the next person.
                log.exception("entry failed on a door frame")

    def _follow_scanner(self, path: Path) -> None:
        """Show each line appended to the scanner file to the door, as a scanner types it."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
        with path.open(encoding="utf-8", errors="replace") as lines:
            lines.seek(0, os.SEEK_END)  # codes written before the start are stale
            while not self._stop.is_set():
                line = lines.readline()
                if not line:
                    self._stop.wait(_SCANNER_POLL_S)
                    continue
                try:
                    if line.strip():
                        self.present(line.strip())
                except Exception:
                    log.exception("entry failed on a scanned code")

    def _housekeeping(self) -> None:
        next_sync = 0.0
        elapsed = 0.0
        while not self._stop.is_set():
            if elapsed >= next_sync:
                self.sync()
                next_sync = elapsed + self.settings.sync_interval_s
            self.controller.tick()
            if self.door_kiosk is not None:
                self.door_kiosk.tick()
            self._stop.wait(_TICK_S)
            elapsed += _TICK_S
