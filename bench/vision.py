"""Vision pipeline throughput against a raw ultralytics predict loop, in the same run.

For each backend (PyTorch .pt, ONNX Runtime, OpenVINO FP32 and INT8; TensorRT where CUDA is
there), any model (or, with --also, both hazard models together, as a node runs them) and clip
given on the command line, and for 1 and 4
cameras it prints frames per second and per-frame latency of:
  raw       - YOLO.predict on one frame at a time (the baseline)
  pipeline  - the whole pipeline: one model call per batch, tracking, fall/fire/crowd logic
  one_by_one (4 cameras) - the pipeline called once per camera instead of once per batch
and the ratios pipeline/raw (1 camera) and batched/one_by_one (4 cameras). With --pose-model
it also times, per frame and turn by turn with the detector (the baseline): the pose model on
every person the detector found (keypoints decoded with numpy) and the flicker measure on the
same boxes, each as a ratio to the detector's own time.

    .venv/bin/python -m bench.vision --frames 16 --backends pt,onnx,openvino,openvino-int8 \
        --imgsz 384,640 --clip ../shared/media/fire/cctv_fire_testvideo.mp4
    .venv/bin/python -m bench.vision --backends pt,openvino,openvino-int8 --imgsz 384,640 \
        --also package:fire_detector/models/light_yolov8_flame.pt --preload fire_detector
    .venv/bin/python -m bench.vision --device cuda:0 --half --backends pt,onnx,engine
    .venv/bin/python -m bench.vision --backends pt --clip ../shared/media/fall/fall.mp4 \
        --pose-model ../shared/models/pose/yolov8n-pose_int8_meta.tflite
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if not __package__:
    # Run as a file, bench/ leads sys.path and this file would stand in for the vision package.
    _HERE = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "0")

import cv2
import numpy as np

from vision.detector import YoloDetector
from vision.export import Calibration, ExportFormat, export_model
from vision.flicker import grey_frame, region_flicker
from vision.pipeline import AnalysisSettings, CameraFrame, ModelUse, Pipeline
from vision.pose import TflitePose
from vision.roles import Role
from vision.weights import resolve_weights

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def load_frames(clip: Path, count: int) -> list[np.ndarray]:
    """Read `count` frames spread over a clip."""
    capture = cv2.VideoCapture(str(clip))
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    frames = []
    for i in range(count):
        capture.set(cv2.CAP_PROP_POS_FRAMES, i * total // count)
        ok, frame = capture.read()
        if not ok:
            raise SystemExit(f"cannot read frame {i} of {clip}")
        frames.append(frame)
    capture.release()
    return frames


Step = Callable[[int], None]


def interleaved(measures: list[tuple[str, Step, int]], calls: int) -> dict[str, dict[str, float]]:
    """Run every measure's step(i) in turn for i < calls; frames/s and latency of each.

    Turn by turn, so that load from other processes falls on all of them alike.
    """
    for _, step, _ in measures:
        step(0)  # warm-up: lazy backends build themselves on the first call
    took: dict[str, list[float]] = {name: [] for name, _, _ in measures}
    for i in range(calls):
        for name, step, _ in measures:
            t = time.perf_counter()
            step(i)
            took[name].append((time.perf_counter() - t) * 1000.0)
    out = {}
    for name, _, per in measures:
        times = sorted(took[name])
        out[name] = {
            "fps": round(calls * per / (sum(times) / 1000.0), 2),
            "latency_ms_p50": round(statistics.median(times), 1),
            "latency_ms_p95": round(times[int(0.95 * (len(times) - 1))], 1),
        }
    return out


def pipeline_for(detectors: list[YoloDetector], cameras: int) -> Pipeline:
    """A fresh pipeline on `cameras` cameras running every model, every hazard watched."""
    uses = [ModelUse(d) for d in detectors]
    return Pipeline(uses, {f"cam{c}": AnalysisSettings() for c in range(cameras)})


def raw_loops(
    path: Path, frames: list[np.ndarray], args: argparse.Namespace, half: bool
) -> tuple[Step, Step]:
    """The baseline: YOLO.predict on one frame, and on four frames, per call."""
    from ultralytics.models.yolo.model import YOLO  # noqa: PLC0415

    # One model object per batch size, as a steady node has: a size change would recompile
    # an OpenVINO INT8 model every call.
    model, model4 = YOLO(str(path), task="detect"), YOLO(str(path), task="detect")
    extra: dict[str, Any] = {"quantize": 16} if half else {}
    n = len(frames)

    def raw(i: int) -> None:
        model.predict(
            frames[i % n], imgsz=args.imgsz, conf=0.25, device=args.device, verbose=False, **extra
        )

    def raw4(i: int) -> None:
        batch = [frames[(4 * i + c) % n] for c in range(4)]
        model4.predict(
            batch, imgsz=args.imgsz, conf=0.25, device=args.device, verbose=False, **extra
        )

    return raw, raw4


def bench_backend(
    paths: dict[int, list[Path]], frames: list[np.ndarray], args: argparse.Namespace
) -> dict[str, Any]:
    """All measurements of the model files (run together, as a node runs both hazard models):
    the raw loops of every model and the pipeline, turn by turn. `paths` by camera count:
    a node runs an export made for its camera count (INT8 is compiled for one batch)."""
    detectors = {
        cams: [YoloDetector(p, imgsz=args.imgsz, confidence=0.25, device=args.device) for p in ps]
        for cams, ps in paths.items()
    }
    loops1 = [
        raw_loops(p, frames, args, d.half)[0] for p, d in zip(paths[1], detectors[1], strict=True)
    ]
    loops4 = [
        raw_loops(p, frames, args, d.half)[1] for p, d in zip(paths[4], detectors[4], strict=True)
    ]
    n = len(frames)

    def raw(i: int) -> None:
        for one_frame in loops1:
            one_frame(i)

    def raw4(i: int) -> None:
        for four_frames in loops4:
            four_frames(i)

    one = pipeline_for(detectors[1], 1)
    four = pipeline_for(detectors[4], 4)
    split = pipeline_for(detectors[4], 4)

    def pipe1(i: int) -> None:
        one.analyse([CameraFrame("cam0", T0 + timedelta(seconds=i / 5), frames[i % n])])

    def batched(i: int) -> None:
        ts = T0 + timedelta(seconds=i / 5)
        four.analyse([CameraFrame(f"cam{c}", ts, frames[(4 * i + c) % n]) for c in range(4)])

    def one_by_one(i: int) -> None:
        ts = T0 + timedelta(seconds=i / 5)
        for c in range(4):
            split.analyse([CameraFrame(f"cam{c}", ts, frames[(4 * i + c) % n])])

    measured = interleaved(
        [
            ("raw_1cam", raw, 1),
            ("pipeline_1cam", pipe1, 1),
            ("raw_batch4", raw4, 4),
            ("pipeline_4cam_batched", batched, 4),
            ("pipeline_4cam_one_by_one", one_by_one, 4),
        ],
        n,
    )
    return {
        "models": [str(p) for p in paths[4]],
        **measured,
        "ratio_pipeline_vs_raw_1cam": round(
            measured["pipeline_1cam"]["fps"] / measured["raw_1cam"]["fps"], 3
        ),
        "ratio_batched_vs_one_by_one_4cam": round(
            measured["pipeline_4cam_batched"]["fps"] / measured["pipeline_4cam_one_by_one"]["fps"],
            3,
        ),
    }


def bench_pose(
    model: Path, pose_model: Path, frames: list[np.ndarray], args: argparse.Namespace
) -> dict[str, Any]:
    """Per-frame cost of the pose model and the flicker measure against the detector's."""
    detector = YoloDetector(model, imgsz=args.imgsz, confidence=0.4, device=args.device)
    pose = TflitePose(pose_model)
    people = [
        [d.box for d in found if d.role in (Role.PERSON, Role.FALLEN)]
        for found in detector.detect(frames)
    ]
    greys = [grey_frame(frame) for frame in frames]
    n = len(frames)

    def detect(i: int) -> None:
        detector.detect([frames[i % n]])

    def keypoints(i: int) -> None:
        pose.estimate(frames[i % n], people[i % n])

    def flicker(i: int) -> None:
        # What the fire logic adds per frame: a grey copy, then the boxes compared with the last.
        grey, scale = grey_frame(frames[i % n])
        region_flicker(greys[(i - 1) % n][0], grey, people[i % n], scale)

    measured = interleaved(
        [("detector", detect, 1), ("pose", keypoints, 1), ("flicker", flicker, 1)], n
    )
    base = measured["detector"]["latency_ms_p50"]
    return {
        "model": str(model),
        "pose_model": str(pose_model),
        "people_per_frame": round(sum(len(p) for p in people) / n, 2),
        **measured,
        "ratio_pose_vs_detector": round(measured["pose"]["latency_ms_p50"] / base, 4),
        "ratio_flicker_vs_detector": round(measured["flicker"]["latency_ms_p50"] / base, 4),
    }


def model_files(args: argparse.Namespace, workdir: Path) -> dict[str, dict[int, list[Path]]]:
    """The model files of each backend asked for, for 1 and 4 cameras, exported from the .pt
    into `workdir`."""
    pts = [resolve_weights(m) for m in [args.model, *args.also]]
    return {
        backend: {
            cams: [
                _backend_file(backend, pt, args, workdir / f"m{k}-{cams}cam", cams)
                for k, pt in enumerate(pts)
            ]
            for cams in (1, 4)
        }
        for backend in args.backends.split(",")
    }


def _backend_file(
    backend: str, pt: Path, args: argparse.Namespace, workdir: Path, batch: int
) -> Path:
    if backend == "pt":
        return pt
    if backend in ("onnx", "engine", "openvino", "openvino-int8"):
        int8 = backend == "openvino-int8"
        return export_model(
            str(pt),
            workdir / backend,
            ExportFormat.OPENVINO if int8 else ExportFormat(backend),
            imgsz=args.imgsz,
            half=args.half and backend == "engine",
            batch=batch,
            device=args.device,
            preload=args.preload,
            int8=Calibration((Path(args.clip),)) if int8 else None,
        )
    raise SystemExit(f"unknown backend {backend!r}")


def main() -> None:
    """Parse arguments, run every backend, print one JSON document."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    media_default = os.environ.get(
        "UWS_MEDIA_DIR", str(Path(__file__).parents[2] / "shared" / "media")
    )
    parser.add_argument("--media", default=media_default, help="shared media folder")
    parser.add_argument("--model", default="package:fall_detection/models/best.pt")
    parser.add_argument("--frames", type=int, default=16, help="calls per measurement")
    parser.add_argument(
        "--clip", help="clip to measure on (default: the shared crowd clip)", default=None
    )
    parser.add_argument(
        "--also",
        action="append",
        default=[],
        help="another model run beside --model, as a node runs both hazard models",
    )
    parser.add_argument("--preload", help="module the weights need imported (fire_detector)")
    parser.add_argument("--imgsz", type=_input_size, default=640, help="640 or HEIGHT,WIDTH")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--half", action="store_true", help="FP16 (CUDA only)")
    parser.add_argument("--pose-model", help="YOLOv8-pose TFLite file: time it and the flicker")
    parser.add_argument(
        "--backends", default="pt,onnx", help="pt, onnx, openvino, openvino-int8, engine"
    )
    args = parser.parse_args()
    if args.frames < 4:
        raise SystemExit("--frames must be at least 4")
    with contextlib.redirect_stdout(sys.stderr):  # a first import announces its settings file
        from ultralytics.utils import LOGGER  # noqa: PLC0415

    LOGGER.setLevel(logging.WARNING)  # its progress lines go to stdout, which is for the JSON
    for handler in LOGGER.handlers:
        if type(handler) is logging.StreamHandler:
            handler.setStream(sys.stderr)  # and its warnings, which redirect_stdout misses
    clip = Path(args.clip) if args.clip else Path(args.media) / "crowd" / "people1.mp4"
    args.clip = str(clip)
    if args.preload:
        __import__(args.preload)
    frames = load_frames(clip, args.frames)
    with tempfile.TemporaryDirectory() as tmp:
        # Exporters print progress on stdout, which is for the JSON report.
        with contextlib.redirect_stdout(sys.stderr):
            files = model_files(args, Path(tmp))
        results = {name: bench_backend(paths, frames, args) for name, paths in files.items()}
    if "pt" in results:
        # Every backend's pipeline against raw PyTorch, the bar for a node without a GPU.
        base = results["pt"]["raw_1cam"]["fps"]
        for result in results.values():
            result["ratio_pipeline_1cam_vs_raw_pt"] = round(
                result["pipeline_1cam"]["fps"] / base, 3
            )
    shape = frames[0].shape
    report: dict[str, Any] = {
        "device": args.device,
        "half": args.half,
        "frame": f"{shape[1]}x{shape[0]}",
        "imgsz": args.imgsz,
        "clip": args.clip,
        "frames": args.frames,
        "cpu_count": os.cpu_count(),
        "backends": results,
    }
    if args.pose_model:
        report["pose"] = bench_pose(
            resolve_weights(args.model), Path(args.pose_model), frames, args
        )
    print(json.dumps(report, indent=2))


def _input_size(text: str) -> int | tuple[int, int]:
    sides = [int(part) for part in text.split(",")]
    return sides[0] if len(sides) == 1 else (sides[0], sides[1])


if __name__ == "__main__":
    main()
