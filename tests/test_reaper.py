"""The run's reaper finds a process the tests started, even in its own session, and ends it."""

from __future__ import annotations

import os
import subprocess

import psutil

from tests.support.reaper import RUN_MARK, reap_leftovers


def test_a_marked_process_in_its_own_session_is_killed_and_named() -> None:
    mark = "reaper-self-test"
    env = {**os.environ, RUN_MARK: mark}
    child = subprocess.Popen(["sleep", "300"], env=env, start_new_session=True)
    unmarked = subprocess.Popen(["sleep", "301"], start_new_session=True)
    try:
        left = reap_leftovers(mark)
        assert left == ["sleep 300"]
        child.wait(timeout=10)  # reaped already by the reaper: nothing left to wait for
        assert not psutil.pid_exists(child.pid)
        assert unmarked.poll() is None  # another run's process is not ours to kill
    finally:
        unmarked.kill()
        unmarked.wait()
