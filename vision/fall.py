"""Fall logic: a tracked person comes down fast and stays down outside rest zones.

Posture alone cannot tell a fall from lying down on purpose, so a fall needs a fast
descent (the box top or centre dropping by a large part of the body height within a
second or two) followed by lying down for `confirm_s`. A slow lying-down never raises a
fall; a person down and still for `person_down_s` raises a lower-severity "person down".
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from vision.descent import Descent, Sighting, descent_between, motion_rate
from vision.detector import Box, Detection
from vision.events import EventLatch, Hazard, HazardEvent, Severity
from vision.pose import PoseSettings, trunk_lying
from vision.roles import Role
from vision.zones import Zone, in_any

log = logging.getLogger(__name__)


class FallSettings(BaseModel):
    """Timings, speeds and geometry of the fall logic (per camera)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    confirm_s: float = Field(
        default=1.0, ge=0, description="Down this long after a fast descent before a fall event."
    )
    fall_speed: float = Field(
        default=0.8,
        gt=0,
        description="Least descent speed of a fall: drop of the box top (or centre) in "
        "upright body heights per second.",
    )
    fall_drop: float = Field(
        default=0.35, gt=0, description="Least drop of a fall, in upright body heights."
    )
    fall_turn: float = Field(
        default=1.2,
        gt=0,
        description="Or a fall by turning: least rate (natural log of width/height change "
        "per second) at which the box turns from upright to lying.",
    )
    turn_drop: float = Field(
        default=0.2, ge=0, description="Least drop (body heights) of a fall by turning."
    )
    transition_s: float = Field(
        default=2.5,
        gt=0,
        description="Longest time from last seen upright to first seen down for a fall.",
    )
    settle_s: float = Field(
        default=1.5,
        ge=0,
        description="Sightings this long after first seen down still count for the descent.",
    )
    person_down_s: float = Field(
        default=60.0,
        gt=0,
        description="Down and still this long outside rest zones, however the person got "
        "there: a lower-severity 'person down' event.",
    )
    still_motion: float = Field(
        default=0.15,
        ge=0,
        description="Most box motion (body lengths per second, median) that counts as still.",
    )
    still_window_s: float = Field(
        default=3.0, gt=0, description="Seconds of sightings stillness is judged over."
    )
    recover_s: float = Field(default=1.0, ge=0, description="Upright this long ends the event.")
    occlusion_s: float = Field(
        default=3.0, gt=0, description="A down person unseen this long is no longer down."
    )
    clear_s: float = Field(default=15.0, gt=0, description="Track unseen this long ends it.")
    lying_aspect: float = Field(
        default=1.3, gt=0, description="Box width/height at or above which a person is lying."
    )
    upright_aspect: float = Field(
        default=0.9, gt=0, description="Box width/height at or below which a person is upright."
    )
    handover_overlap: float = Field(
        default=0.3,
        gt=0,
        le=1,
        description="Overlap (of the smaller box) for a new track id to take over a lost one.",
    )
    pose: PoseSettings = Field(
        default_factory=PoseSettings,
        description="Optional pose model: the trunk angle backs or vetoes the box's posture.",
    )


class Posture(StrEnum):
    """How a person is seen in one frame."""

    UPRIGHT = "upright"
    DOWN = "down"
    UNSURE = "unsure"


def posture_of(
    detection: Detection,
    lying_aspect: float,
    upright_aspect: float = 0.9,
    pose: PoseSettings | None = None,
) -> Posture:
    """Judge posture from the model's class and the box geometry, and the trunk where measured."""
    lying = trunk_lying(detection.trunk_deg, detection.legs_deg, pose or PoseSettings())
    if detection.role is Role.FALLEN:
        # The trunk does not overrule the model: a body lying towards the camera shows an
        # upright trunk in the image (seen on the dev set), and the model saw the whole body.
        return Posture.DOWN
    if detection.aspect >= lying_aspect:
        # Sitting on the floor with legs stretched out gives a wide box: the trunk says no.
        return Posture.UNSURE if lying is False else Posture.DOWN
    if detection.aspect <= upright_aspect:
        return Posture.UPRIGHT
    # Crouching or sitting boxes are nearly square; so is a body curled up on the floor.
    return Posture.DOWN if lying else Posture.UNSURE


@dataclass
class _Track:
    box: Box
    last_seen: datetime
    uprights: deque[Sighting] = field(default_factory=lambda: deque(maxlen=32))
    down_since: datetime | None = None
    down_seen: datetime | None = None
    up_since: datetime | None = None
    came_from: list[Sighting] = field(default_factory=list)  # uprights the descent is from
    descent: Descent | None = None  # the fastest qualifying descent of this down spell
    trail: deque[Sighting] = field(default_factory=lambda: deque(maxlen=256))
    still_since: datetime | None = None
    score: float = 0.0
    trunk_deg: float | None = None  # the pose model's trunk angle when last seen down
    latch: EventLatch = field(default_factory=lambda: EventLatch(Hazard.FALL))


class FallMonitor:
    """Per-camera fall state over tracked person detections; the caller gives time."""

    def __init__(self, settings: FallSettings | None = None, rest_zones: Sequence[Zone] = ()):
        """Watch for falls; lying inside any of `rest_zones` is normal."""
        self.settings = settings or FallSettings()
        self.rest_zones = tuple(rest_zones)
        self._tracks: dict[int, _Track] = {}
        self._anonymous = -1

    def update(
        self, now: datetime, detections: Sequence[Detection], frame_w: int, frame_h: int
    ) -> list[HazardEvent]:
        """Feed one frame's detections taken at `now`; return the events it causes."""
        people = [d for d in detections if d.role in (Role.PERSON, Role.FALLEN)]
        # Ids in this frame are live people: never hand their state to someone else.
        seen = {d.track_id for d in people if d.track_id is not None}
        out: list[HazardEvent] = []
        done: list[Box] = []
        for det in sorted(people, key=lambda d: d.track_id is None):
            # An untracked box on top of one already handled is the model seeing one
            # person twice; as a track of its own it would split that person's history.
            if det.track_id is None and any(iou(det.box, b) >= 0.6 for b in done):
                continue
            done.append(det.box)
            key = self._key_for(det, now, seen)
            seen.add(key)
            out += self._observe(self._tracks[key], det, now, frame_w, frame_h)
        out += self._expire(now, seen)
        return out

    def close(self, now: datetime) -> list[HazardEvent]:
        """End every open fall event (the camera is going away)."""
        out: list[HazardEvent] = []
        for track in self._tracks.values():
            out += track.latch.close(now)
        self._tracks.clear()
        return out

    @property
    def open_events(self) -> int:
        """Return how many fall events are open."""
        return sum(1 for t in self._tracks.values() if t.latch.current is not None)

    def _key_for(self, det: Detection, now: datetime, taken: set[int]) -> int:
        key = det.track_id
        if key is None:
            self._anonymous -= 1
            key = self._anonymous
        if key in self._tracks:
            return key
        # A new id where a person was just lost is the same person: trackers switch ids
        # exactly when a body changes shape, as in a fall.
        heir = self._lost_match(det.box, taken | {key})
        if heir is None:
            self._tracks[key] = _Track(det.box, now)
        elif self._tracks[heir].descent is not None or self._tracks[heir].latch.current:
            self._tracks[key] = self._tracks.pop(heir)  # a fall under way moves, event and all
        else:
            # Otherwise share the history and leave the lost track be: its own id may come
            # back (a still object the model calls a person, hidden for a moment).
            self._tracks[key] = _history_of(self._tracks[heir])
        return key

    def _lost_match(self, box: Box, exclude: set[int]) -> int | None:
        # Of the lost tracks that overlap enough, one with a fall under way, then the most
        # recently seen: a stray box from seconds ago must not take the history of the
        # person who just went down.
        best, best_rank = None, None
        for key, track in self._tracks.items():
            if key in exclude:
                continue
            overlap = overlap_of_smaller(box, track.box)
            if overlap < self.settings.handover_overlap:
                continue
            found = track.descent is not None or track.latch.current is not None
            rank = (found, track.last_seen, overlap)
            if best_rank is None or rank > best_rank:
                best, best_rank = key, rank
        return best

    def _observe(
        self, track: _Track, det: Detection, now: datetime, frame_w: int, frame_h: int
    ) -> list[HazardEvent]:
        s = self.settings
        posture = posture_of(det, s.lying_aspect, s.upright_aspect, s.pose)
        cx, cy = det.centre
        if posture is Posture.DOWN and in_any(self.rest_zones, cx / frame_w, cy / frame_h):
            posture = Posture.UNSURE  # lying on a bench or a cot is rest, not a fall
        track.box, track.last_seen = det.box, now
        if posture is Posture.UPRIGHT:
            return self._upright(track, Sighting(now, det.box))
        track.up_since = None
        if posture is Posture.DOWN:
            return self._down(track, det, now)
        if track.down_seen is not None and now - track.down_seen > _s(s.occlusion_s):
            track.down_since = None
        return []

    def _upright(self, track: _Track, seen: Sighting) -> list[HazardEvent]:
        now = seen.at
        track.uprights.append(seen)
        track.up_since = track.up_since or now
        if now - track.up_since < _s(self.settings.recover_s):
            return []
        track.down_since = track.down_seen = None
        return track.latch.close(now)

    def _down(self, track: _Track, det: Detection, now: datetime) -> list[HazardEvent]:
        if self._new_spell(track, now):
            self._start_down_spell(track, now)
        track.down_seen = now
        track.score = max(track.score, det.score)
        track.trunk_deg = det.trunk_deg
        seen = Sighting(now, det.box)
        self._measure_descent(track, seen)
        self._measure_stillness(track, seen)
        if track.latch.current is not None:
            return track.latch.refresh(now, track.score, count=1)
        return self._judge(track, now)

    def _new_spell(self, track: _Track, now: datetime) -> bool:
        if track.down_seen is None or now - track.down_seen > _s(self.settings.occlusion_s):
            return True
        # Seen upright since last seen down, with nothing found yet: measure afresh from
        # there (a handed-over track may carry someone else's old spell).
        up_since_down = bool(track.uprights) and track.uprights[-1].at > track.down_seen
        return up_since_down and track.descent is None and track.latch.current is None

    def _start_down_spell(self, track: _Track, now: datetime) -> None:
        track.down_since, track.score = now, 0.0
        track.descent, track.still_since = None, None
        track.trail.clear()
        since = now - _s(self.settings.transition_s)
        track.came_from = [u for u in track.uprights if u.at >= since]

    def _measure_descent(self, track: _Track, seen: Sighting) -> None:
        s = self.settings
        assert track.down_since is not None
        if seen.at - track.down_since > _s(s.settle_s):
            return
        for upright in track.came_from:
            descent = descent_between(upright, seen)
            dropped = descent.drop >= s.fall_drop and descent.speed >= s.fall_speed
            turned = (
                _aspect(seen.box) >= s.lying_aspect
                and descent.drop >= s.turn_drop
                and descent.turn >= s.fall_turn
            )
            if not (dropped or turned):
                continue
            if track.descent is None or descent.speed > track.descent.speed:
                track.descent = descent

    def _measure_stillness(self, track: _Track, seen: Sighting) -> None:
        track.trail.append(seen)
        since = seen.at - _s(self.settings.still_window_s)
        while track.trail and track.trail[0].at < since:
            track.trail.popleft()
        rate = motion_rate(track.trail)
        if rate is None or rate > self.settings.still_motion:
            track.still_since = None
        elif track.still_since is None:
            # Still over the whole window just judged: it began when the window did.
            track.still_since = track.trail[0].at

    def _judge(self, track: _Track, now: datetime) -> list[HazardEvent]:
        s = self.settings
        assert track.down_since is not None
        down_for = (now - track.down_since).total_seconds()
        still = track.still_since is not None
        if track.descent is not None and down_for >= s.confirm_s:
            d = track.descent
            evidence = (
                f"descent {d.speed:.1f} body-heights/s ({d.drop:.1f} in {d.seconds:.1f} s, "
                f"turned x{math.exp(d.turn * d.seconds):.1f}), "
                f"down {down_for:.1f} s, {'still' if still else 'moving'}"
                + _trunk_note(track.trunk_deg)
            )
            log.info("fall confirmed: %s", evidence)
            return track.latch.open(
                now,
                track.down_since,
                track.score,
                count=1,
                severity=Severity.CRITICAL,
                evidence=evidence,
            )
        if track.still_since is not None and now - track.still_since >= _s(s.person_down_s):
            still_for = (now - track.still_since).total_seconds()
            evidence = (
                f"person down {down_for:.0f} s, still {still_for:.0f} s, no fast descent seen"
                + _trunk_note(track.trunk_deg)
            )
            log.info("person down: %s", evidence)
            return track.latch.open(
                now,
                track.down_since,
                track.score,
                count=1,
                severity=Severity.WARNING,
                evidence=evidence,
            )
        return []

    def _expire(self, now: datetime, seen: set[int]) -> list[HazardEvent]:
        out: list[HazardEvent] = []
        for key in [k for k in self._tracks if k not in seen]:
            track = self._tracks[key]
            if now - track.last_seen >= _s(self.settings.clear_s):
                out += track.latch.close(now)
                del self._tracks[key]
        return out


def _history_of(track: _Track) -> _Track:
    """Return a copy of a track's sightings and down spell, without its event."""
    return replace(
        track,
        uprights=deque(track.uprights, maxlen=track.uprights.maxlen),
        came_from=list(track.came_from),
        trail=deque(track.trail, maxlen=track.trail.maxlen),
        latch=EventLatch(Hazard.FALL),
    )


def _trunk_note(trunk_deg: float | None) -> str:
    return "" if trunk_deg is None else f", trunk {trunk_deg:.0f}° from vertical"


def _aspect(box: Box) -> float:
    return max(box[2] - box[0], 1.0) / max(box[3] - box[1], 1.0)


def iou(a: Box, b: Box) -> float:
    """Return the intersection over the union of two boxes (0..1)."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return (w * h) / max(union, 1e-6)


def overlap_of_smaller(a: Box, b: Box) -> float:
    """Return the intersection area over the smaller box's area (0..1)."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return (w * h) / max(smaller, 1e-6)


def _s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)
