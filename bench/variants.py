"""Harder variants of the shared fall and fire clips, written with OpenCV, plus their manifest.

The shared clips are what the logic was first tuned on; these variants ask the same
questions where it is hard: the person or the fire small in the frame, a dark room, a low
frame rate, and a clip that ends 3 s after the fall. Media is written to a folder outside
the repository (never commit it) with a manifest for `station eval`:

    .venv/bin/python -m bench.variants --media ../shared/media --out /tmp/uws-variants
    station eval /tmp/uws-variants/manifest.yaml --media-root /tmp/uws-variants

It prints JSON: the files written and the manifest's path.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if not __package__:
    # Run as a file, bench/ leads sys.path and this file would stand in for the vision package.
    _HERE = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import cv2
import numpy as np
import yaml

Transform = Callable[[np.ndarray], np.ndarray]

# The shared clips and what they show (tests/vision/manifest.yaml): seconds.
FALL_CLIP, FALL_DOWN_S, FALL_END_S = "fall/fall.mp4", 4.0, 11.3
FIRE_CLIP, FIRE_END_S = "fire/cctv_fire_testvideo.mp4", 10.0
_BORDER = 96  # mid grey around a shrunken frame: a wall the camera also sees


@dataclass(frozen=True)
class Variant:
    """One derived clip: its source, how frames change, the frame step and the last second."""

    name: str
    source: str
    transform: Transform
    keep_every: int = 1
    until_s: float | None = None


def shrink(scale: float) -> Transform:
    """Return a transform that shrinks the picture into the middle of a same-size frame."""

    def apply(frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        small = cv2.resize(
            frame, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA
        )
        out = np.full_like(frame, _BORDER)
        top, left = (h - small.shape[0]) // 2, (w - small.shape[1]) // 2
        out[top : top + small.shape[0], left : left + small.shape[1]] = small
        return out

    return apply


def darken(gain: float, noise: float, seed: int = 0) -> Transform:
    """Return a transform that dims the frame (gain) and adds sensor noise (grey levels)."""
    rng = np.random.default_rng(seed)

    def apply(frame: np.ndarray) -> np.ndarray:
        dim = frame.astype(np.float32) * gain + rng.normal(0.0, noise, frame.shape)
        return np.clip(dim, 0, 255).astype(np.uint8)

    return apply


def same(frame: np.ndarray) -> np.ndarray:
    """Leave the frame as it is."""
    return frame


def variants() -> list[Variant]:
    """Return the variants written by default."""
    return [
        Variant("fall_small", FALL_CLIP, shrink(0.35)),
        Variant("fall_dark", FALL_CLIP, darken(0.25, 4.0)),
        Variant("fall_2fps", FALL_CLIP, same, keep_every=12),
        Variant("fall_cut3s", FALL_CLIP, same, until_s=FALL_DOWN_S + 3.0),
        Variant("fall_small_dark", FALL_CLIP, lambda f: darken(0.35, 3.0)(shrink(0.5)(f))),
        Variant("fire_small", FIRE_CLIP, shrink(0.25)),
        Variant("fire_tiny", FIRE_CLIP, shrink(0.12)),
        Variant("fire_dark", FIRE_CLIP, darken(0.3, 4.0)),
        Variant("fire_2fps", FIRE_CLIP, same, keep_every=12),
    ]


def write_variant(variant: Variant, media: Path, out: Path) -> tuple[Path, float, float]:
    """Write one variant; return its path, its frame rate and its length in seconds."""
    capture = cv2.VideoCapture(str(media / variant.source))
    if not capture.isOpened():
        raise SystemExit(f"cannot open {media / variant.source}")
    native = capture.get(cv2.CAP_PROP_FPS) or 25.0
    fps = native / variant.keep_every
    path = out / f"{variant.name}.mp4"
    writer: Any = None
    index = written = 0
    try:
        while True:
            ok, frame = capture.read()
            if not ok or (variant.until_s is not None and index / native > variant.until_s):
                break
            if index % variant.keep_every == 0:
                image = variant.transform(frame)
                if writer is None:
                    fourcc = cv2.VideoWriter.fourcc(*"mp4v")
                    size = (image.shape[1], image.shape[0])
                    writer = cv2.VideoWriter(str(path), fourcc, fps, size)
                writer.write(image)
                written += 1
            index += 1
    finally:
        capture.release()
        if writer is not None:
            writer.release()
    return path, fps, written / fps


def clip_entry(variant: Variant, length_s: float) -> dict[str, Any]:
    """Return the manifest entry of a variant: its truths, clipped to its length."""
    if variant.source == FALL_CLIP:
        events = [
            {"kind": "fall", "start": FALL_DOWN_S, "end": round(min(FALL_END_S, length_s), 2)}
        ]
        hazards = ["fall"]
    else:
        events = [{"kind": "fire", "start": 0.0, "end": round(min(FIRE_END_S, length_s), 2)}]
        hazards = ["fire", "smoke"]
    return {"path": f"{variant.name}.mp4", "events": events, "hazards": hazards}


def manifest(clips: list[dict[str, Any]]) -> dict[str, Any]:
    """Return a manifest with the product defaults and the same models as the dev set."""
    return {
        "fps": 4,
        "models": [
            {
                "model": "package:fall_detection/models/best.pt",
                "confidence": 0.4,
                "hazards": ["fall", "crowd"],
            },
            {
                "model": "package:fire_detector/models/light_yolov8_flame.pt",
                "preload": "fire_detector",
                "confidence": 0.4,
                "hazards": ["fire", "smoke"],
            },
        ],
        "clips": clips,
    }


def main(argv: list[str] | None = None) -> int:
    """Write the variants and their manifest; print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", default="../shared/media", help="the shared media folder")
    parser.add_argument("--out", default="/tmp/uws-variants", help="folder to write into")
    args = parser.parse_args(argv)
    media, out = Path(args.media), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    clips, written = [], []
    for variant in variants():
        path, fps, length = write_variant(variant, media, out)
        clips.append(clip_entry(variant, length))
        written.append({"path": str(path), "fps": round(fps, 2), "seconds": round(length, 2)})
    target = out / "manifest.yaml"
    target.write_text(yaml.safe_dump(manifest(clips), sort_keys=False), encoding="utf-8")
    print(json.dumps({"manifest": str(target), "clips": written}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
