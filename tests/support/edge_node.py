"""A real edge node for tests: its YAML, and the node as a separate process."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]


def write_edge_config(
    tmp_path: Path, port: int, models_dir: Path, media_dir: Path, node_id: str, **override: Any
) -> Path:
    """Write a node YAML watching the crowd clip with the COCO model; sections can be replaced."""
    raw: dict[str, Any] = {
        "node_id": node_id,
        "cloud": {"host": "127.0.0.1", "port": port, "keepalive_s": 10},
        "camera": {
            "id": "main",
            "source": str(media_dir / "crowd" / "people1.mp4"),
            "loop": True,
            "realtime": True,
            "max_fps": 2,
        },
        "detector": {"model": str(models_dir / "coco" / "yolov8n_int8.tflite"), "imgsz": 640},
        "analysis": {
            "hazards": ["person"],
            "zone": "street",
            "presence": {"confirm_s": 1.0, "clear_s": 3.0, "update_every_s": 2},
        },
        "outbox": {"path": "var/outbox.sqlite"},
        "health": {"interval_s": 1},
    }
    raw.update(override)
    path = tmp_path / f"{node_id}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


class EdgeProcess:
    """`station edge --config ...` as a child process, stopped cleanly or killed."""

    def __init__(self, config_path: Path, log_path: Path) -> None:
        self.config_path = config_path
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> EdgeProcess:
        """Start the node."""
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "station.cli", "edge", "--config", str(self.config_path)],
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def stop(self, timeout_s: float = 30) -> int:
        """SIGTERM, as systemd would; return the exit code (TimeoutExpired if it lingers)."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGTERM)
        return self._proc.wait(timeout_s)

    def kill(self) -> None:
        """SIGKILL: no clean-up at all, as on a power cut."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()

    def log(self) -> str:
        """What the node printed."""
        return self.log_path.read_text(errors="replace")
