"""Vision's errors: one hierarchy, each a ValueError or RuntimeError as well."""

from __future__ import annotations


class VisionError(Exception):
    """Base of every vision error; the message says what went wrong and why."""


class ModelLoadError(VisionError, RuntimeError):
    """A model file that is missing or that ultralytics cannot load; the message says which."""


class ManifestError(VisionError, ValueError):
    """A manifest that cannot be used; the message names the file and the reason."""


class ExportError(VisionError, RuntimeError):
    """An export that could not be made; the message says why."""


class FaceModelError(VisionError, RuntimeError):
    """A face model file is missing or unreadable."""


class PrivacyError(VisionError, RuntimeError):
    """The face model cannot be loaded; no snapshot may leave the node without it."""


class FaceRemainsError(PrivacyError):
    """A face is still found in a blurred image: it must not leave the node."""

    def __init__(self, faces: int) -> None:
        super().__init__(f"the check after blurring still finds {faces} face(s)")
        self.faces = faces


class TrainingError(VisionError, RuntimeError):
    """A fine-tuning run that could not be made or judged; the message says why."""
