"""Face entry at the door camera: match in several frames, see a blink, then ask entry."""

from __future__ import annotations

from edge.entry.controller import Decision, EntryController
from edge.entry.gallery import FaceGallery
from vision.faces import Agreement, BlinkLiveness, FaceEngine
from vision.qr import Frame


class FaceGate:
    """Feeds door-camera frames through match, agreement and liveness to the controller."""

    def __init__(
        self,
        engine: FaceEngine,
        gallery: FaceGallery,
        controller: EntryController,
        frames: int = 3,
        liveness_frames: int = 60,
    ) -> None:
        """Open after `frames` agreeing matches and a blink within `liveness_frames`."""
        self._engine = engine
        self._gallery = gallery
        self._controller = controller
        self._agreement = Agreement(frames)
        self._liveness = BlinkLiveness()
        self._liveness_frames = liveness_frames
        self._matched_frames = 0
        self._unmatched_frames = 0
        self._frames = frames

    def on_frame(self, frame: Frame) -> Decision | None:
        """Process one frame; return the controller's decision when one was made."""
        boxes = self._engine.detect(frame)
        if not boxes:
            self.reset()
            return None
        box = boxes[0]
        match = self._gallery.match(self._engine.describe(frame, box))
        agreed = self._agreement.add(match.member_id if match else None)
        live = self._liveness.add(self._engine.eyes(frame, box))
        if match is None:
            self._unmatched_frames += 1
            if self._unmatched_frames >= self._frames:
                self.reset()
                return self._controller.present_face(None, "unmatched")
            return None
        self._unmatched_frames = 0
        self._matched_frames += 1
        if agreed is not None and live:
            self.reset()
            return self._controller.present_face(agreed, agreed)
        if self._matched_frames >= self._liveness_frames:
            self.reset()
            return self._controller.present_face(match.member_id, match.member_id, "liveness")
        return None

    def reset(self) -> None:
        """Forget the face in front of the camera."""
        self._agreement.reset()
        self._liveness.reset()
        self._matched_frames = 0
        self._unmatched_frames = 0
