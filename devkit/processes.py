"""Stopping a child process for good: SIGTERM, a bounded wait, then SIGKILL."""

from __future__ import annotations

import logging
import subprocess

log = logging.getLogger(__name__)


def stop_process(proc: subprocess.Popen[bytes], timeout_s: float = 30.0) -> int:
    """SIGTERM `proc`, wait up to `timeout_s`, then SIGKILL it; return its exit status.

    Never raises on a child that lingers: a caller stopping several must reach them all, and
    none may outlive it (an orphan keeps its ports, database connections and output pipes).
    """
    if proc.poll() is None:
        proc.terminate()
        try:
            return proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            log.warning("process %d ignored SIGTERM for %.0f s; killing it", proc.pid, timeout_s)
            proc.kill()
    return proc.wait()
