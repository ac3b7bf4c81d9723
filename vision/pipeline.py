"""Frames from several cameras -> one model call per model -> tracks -> typed per-camera results."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Annotated

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from vision.crowd import CrowdMonitor, CrowdSettings, DoorCounter
from vision.detector import Detection, Detector
from vision.events import CAMERA_HAZARDS, Hazard, HazardEvent
from vision.fall import FallMonitor, FallSettings, Posture, posture_of
from vision.fire import FireMonitor, FireSettings, SensorReading
from vision.pose import PoseEstimator, PoseSettings, legs_angle, load_pose, trunk_angle
from vision.presence import PresenceMonitor, PresenceSettings
from vision.roles import Role
from vision.tracking import PersonTracker
from vision.zones import DoorLine, Zone

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
Polygon = Annotated[list[tuple[Fraction, Fraction]], Field(min_length=3)]
_WHOLE: list[tuple[float, float]] = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]


class AnalysisSettings(BaseModel):
    """What one camera watches for, and how."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hazards: frozenset[Hazard] = Field(
        default=CAMERA_HAZARDS,
        description="Kinds of event this camera raises (person: presence in the counted zone).",
    )
    zone: str = Field(default="room", max_length=64, description="Name of the counted zone.")
    polygon: Polygon = Field(
        default_factory=lambda: list(_WHOLE), description="Counted zone, [x, y] in 0..1."
    )
    rest_zones: list[Polygon] = Field(
        default_factory=list, description="Benches and cots: lying there is not a fall."
    )
    door: tuple[tuple[Fraction, Fraction], tuple[Fraction, Fraction]] | None = Field(
        default=None, description="Door line [a, b]; walking onto the left of a->b enters."
    )
    presence: PresenceSettings = Field(
        default_factory=PresenceSettings, description="Presence (occupancy) event timings."
    )
    fall: FallSettings = Field(default_factory=FallSettings, description="Fall logic.")
    fire: FireSettings = Field(default_factory=FireSettings, description="Fire/smoke logic.")
    crowd: CrowdSettings = Field(default_factory=CrowdSettings, description="Crowd logic.")

    @field_validator("hazards")
    @classmethod
    def _camera_kinds(cls, hazards: frozenset[Hazard]) -> frozenset[Hazard]:
        unseen = sorted(h.value for h in hazards - CAMERA_HAZARDS)
        if unseen:
            raise ValueError(f"a camera cannot see {', '.join(unseen)}")
        return hazards

    @field_validator("door")
    @classmethod
    def _door_has_length(
        cls, door: tuple[tuple[float, float], tuple[float, float]] | None
    ) -> tuple[tuple[float, float], tuple[float, float]] | None:
        # A line of zero length has no sides: nobody could ever cross it.
        if door is not None and door[0] == door[1]:
            raise ValueError("the door line needs two distinct points")
        return door


@dataclass(frozen=True)
class CameraFrame:
    """One frame of one camera, with the time it was taken."""

    camera_id: str
    ts: datetime
    image: np.ndarray


@dataclass(frozen=True)
class ModelUse:
    """A detector and the cameras it runs on (None: all of them)."""

    detector: Detector
    cameras: frozenset[str] | None = None

    def serves(self, camera_id: str) -> bool:
        """Return whether this model looks at the camera's frames."""
        return self.cameras is None or camera_id in self.cameras


@dataclass(frozen=True)
class DoorTally:
    """Crossings of the door line since start (or the last reset of an empty room)."""

    entries: int
    exits: int
    inside: int


@dataclass(frozen=True)
class CameraResult:
    """What one frame of one camera gave: tracked detections, events, timing, occupancy."""

    camera_id: str
    ts: datetime
    detections: list[Detection]
    events: list[HazardEvent]
    inference_ms: float
    occupancy: int
    door: DoorTally | None = None


@dataclass
class CameraAnalysis:
    """The temporal state of one camera."""

    camera_id: str
    settings: AnalysisSettings
    pose: PoseEstimator | None = None
    tracker: PersonTracker = field(default_factory=PersonTracker)
    presence: PresenceMonitor = field(init=False)
    fall: FallMonitor = field(init=False)
    fire: FireMonitor = field(init=False)
    crowd: CrowdMonitor = field(init=False)
    door: DoorCounter | None = field(init=False)

    def __post_init__(self) -> None:
        """Build the monitors from the settings."""
        s = self.settings
        counted = Zone.from_points(s.zone, s.polygon)
        rest = [Zone.from_points(f"rest{i}", p) for i, p in enumerate(s.rest_zones)]
        self.presence = PresenceMonitor(counted, s.presence)
        self.fall = FallMonitor(s.fall, rest)
        self.fire = FireMonitor(s.fire)
        self.crowd = CrowdMonitor(counted, s.crowd)
        door = None if s.door is None else DoorLine(f"{s.zone}-door", s.door[0], s.door[1])
        self.door = None if door is None else DoorCounter(door, s.crowd.empty_reset_s)

    def step(
        self,
        frame: CameraFrame,
        found: list[Detection],
        sensors: SensorReading | None,
        inference_ms: float = 0.0,
    ) -> CameraResult:
        """Run one frame's detections through tracking and every watched hazard."""
        h, w = frame.image.shape[:2]
        tracked = self.tracker.update(found, (h, w))
        wanted = self.settings.hazards
        out: list[HazardEvent] = []
        if Hazard.PERSON in wanted:
            out += self.presence.update(frame.ts, tracked, w, h)
        if Hazard.FALL in wanted:
            if self.pose is not None:
                tracked = self._with_trunks(frame.image, tracked)
                inference_ms += self.pose.last_inference_ms
            out += self.fall.update(frame.ts, tracked, w, h)
        if wanted & {Hazard.FIRE, Hazard.SMOKE}:
            fire = self.fire.update(frame.ts, tracked, frame.image, sensors)
            out += [e for e in fire if e.kind in wanted]
        # Occupancy is counted whether or not crowding raises events: the door needs it.
        crowd = self.crowd.update(frame.ts, tracked, w, h)
        out += crowd if Hazard.CROWD in wanted else []
        tally = None
        if self.door is not None:
            self.door.update(frame.ts, tracked, w, h, self.crowd.occupancy)
            tally = DoorTally(self.door.entries, self.door.exits, self.door.inside)
        occupancy = self.crowd.occupancy
        return CameraResult(self.camera_id, frame.ts, tracked, out, inference_ms, occupancy, tally)

    def _with_trunks(self, image: np.ndarray, people: list[Detection]) -> list[Detection]:
        """Measure the trunk angle of every person the box alone does not show upright."""
        assert self.pose is not None
        s = self.settings.fall
        # An upright box needs no second opinion: the pose model's cost is paid only for
        # people who may be down, and a room of people standing costs nothing.
        asked = [
            i
            for i, d in enumerate(people)
            if d.role in (Role.PERSON, Role.FALLEN)
            and posture_of(d, s.lying_aspect, s.upright_aspect) is not Posture.UPRIGHT
        ]
        if not asked:
            return people
        poses = self.pose.estimate(image, [people[i].box for i in asked])
        out = list(people)
        for i, pose in zip(asked, poses, strict=True):
            if pose is not None:
                trunk, legs = (
                    trunk_angle(pose, s.pose.visibility),
                    legs_angle(pose, s.pose.visibility),
                )
                out[i] = replace(out[i], trunk_deg=trunk, legs_deg=legs)
        return out

    def close(self, now: datetime) -> list[HazardEvent]:
        """End everything open."""
        return (
            self.presence.close(now)
            + self.fall.close(now)
            + self.fire.close(now)
            + self.crowd.close(now)
        )


def detect_batch(
    models: Sequence[ModelUse], frames: Sequence[CameraFrame]
) -> tuple[list[list[Detection]], float]:
    """Run each model once on the frames of the cameras it serves; (detections per frame, ms)."""
    found: list[list[Detection]] = [[] for _ in frames]
    spent = 0.0
    for use in models:
        picked = [i for i, f in enumerate(frames) if use.serves(f.camera_id)]
        if not picked:
            continue
        batch = use.detector.detect([frames[i].image for i in picked])
        spent += use.detector.last_inference_ms
        for i, dets in zip(picked, batch, strict=True):
            found[i].extend(dets)
    return found, spent


class Pipeline:
    """Several cameras, several models: each model called once per batch on its cameras."""

    def __init__(self, models: Sequence[ModelUse], cameras: Mapping[str, AnalysisSettings]):
        """Analyse the named cameras, each with its own settings, with the given models."""
        if not models:
            raise ValueError("a pipeline needs at least one model")
        self.models = list(models)
        # Cameras with the same pose settings share one loaded model.
        poses: dict[PoseSettings, PoseEstimator | None] = {}
        for s in cameras.values():
            if s.fall.pose not in poses:
                poses[s.fall.pose] = load_pose(s.fall.pose)
        self.cameras = {
            cid: CameraAnalysis(cid, s, pose=poses[s.fall.pose]) for cid, s in cameras.items()
        }

    def analyse(
        self,
        frames: Sequence[CameraFrame],
        sensors: Mapping[str, SensorReading] | None = None,
    ) -> list[CameraResult]:
        """Analyse one frame per camera (any subset); return one result per frame, in order."""
        unknown = [f.camera_id for f in frames if f.camera_id not in self.cameras]
        if unknown:
            raise KeyError(f"unknown camera ids: {', '.join(sorted(set(unknown)))}")
        found, spent = detect_batch(self.models, frames)
        share = spent / max(1, len(frames))
        return [
            self.cameras[frame.camera_id].step(
                frame, dets, (sensors or {}).get(frame.camera_id), share
            )
            for frame, dets in zip(frames, found, strict=True)
        ]

    def close(self, now: datetime) -> dict[str, list[HazardEvent]]:
        """End every open event on every camera; camera id -> its END events."""
        return {cid: cam.close(now) for cid, cam in self.cameras.items()}
