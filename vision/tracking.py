"""Person tracking with ultralytics' ByteTrack, one tracker per camera, ids kept across frames."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import numpy as np

from vision.detector import Detection
from vision.roles import Role

_TRACKED = (Role.PERSON, Role.FALLEN)


class PersonTracker:
    """Gives each person (upright or fallen) a track id that survives between frames."""

    def __init__(self, lost_frames: int = 30, match_iou: float = 0.8) -> None:
        """Keep a lost track for `lost_frames` frames; `match_iou` is ByteTrack's match_thresh."""
        from ultralytics.trackers.byte_tracker import BYTETracker  # noqa: PLC0415  (torch import)

        args = SimpleNamespace(
            track_high_thresh=0.25,
            track_low_thresh=0.1,
            new_track_thresh=0.25,
            track_buffer=lost_frames,
            match_thresh=match_iou,
            fuse_score=True,
        )
        self._tracker: Any = BYTETracker(args)  # type: ignore[no-untyped-call]

    def update(self, detections: Sequence[Detection], shape: tuple[int, int]) -> list[Detection]:
        """Return the detections with track ids set on the people the tracker follows."""
        from ultralytics.engine.results import Boxes  # noqa: PLC0415

        people = [i for i, d in enumerate(detections) if d.role in _TRACKED]
        rows = np.zeros((len(people), 6), dtype=np.float32)
        for row, index in enumerate(people):
            det = detections[index]
            # Class-agnostic on purpose: a person who falls changes class, not identity.
            rows[row] = (*det.box, det.score, 0.0)
        tracks = self._tracker.update(Boxes(rows, shape))
        out = list(detections)
        for track in tracks:
            index = people[int(track[7])]
            out[index] = replace(out[index], track_id=int(track[4]))
        return out
