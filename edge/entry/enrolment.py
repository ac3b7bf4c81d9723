"""Face enrolment at the station: consent on screen, recorded in cloud-duty, template kept here.

The order matters: the face is measured first (nothing is stored if it cannot be), then the
consent goes to cloud-duty, and only once cloud-duty has recorded it is the template kept,
encrypted, on this node. Enrolment therefore needs the cloud; entry does not.
"""

from __future__ import annotations

import logging

import httpx

from edge.entry.gallery import FaceGallery
from edge.errors import EnrolmentError
from vision.faces import Descriptor, FaceEngine
from vision.qr import Frame

log = logging.getLogger(__name__)


def measure(engine: FaceEngine, frames: list[Frame]) -> list[Descriptor]:
    """Return one descriptor per frame; each frame must show exactly one face."""
    if not 1 <= len(frames) <= 5:
        raise EnrolmentError("enrol from 1 to 5 frames")
    descriptors = []
    for frame in frames:
        faces = engine.detect(frame)
        if len(faces) != 1:
            raise EnrolmentError(f"a frame shows {len(faces)} faces; show exactly one")
        descriptors.append(engine.describe(frame, faces[0]))
    return descriptors


def enrol_face(
    client: httpx.Client,
    gallery: FaceGallery,
    descriptors: list[Descriptor],
    member_id: str,
    station_id: str,
    text_version: str,
    share: bool = False,
    text_sha256: str | None = None,
) -> list[int]:
    """Record the consent(s) the member agreed to on screen (with the SHA-256 of the face
    text shown, when given), then keep the template here."""
    kinds = ["face", "face_sharing"] if share else ["face"]
    ids = []
    for kind in kinds:
        body = {"kind": kind, "text_version": text_version, "station_id": station_id}
        if text_sha256 is not None and kind == "face":
            body["text_sha256"] = text_sha256
        try:
            response = client.post(f"/api/v1/members/{member_id}/consents", json=body)
        except httpx.HTTPError as err:
            raise EnrolmentError(f"cloud-duty unreachable; consent not recorded: {err}") from err
        if response.status_code != 201:
            raise EnrolmentError(f"cloud-duty refused the consent: {response.text[:200]}")
        ids.append(int(response.json()["id"]))
    gallery.enrol(member_id, descriptors, text_version, shareable=share)
    log.info("member %s enrolled with consent %s", member_id, text_version)
    return ids
