"""The test run ends: no process it started outlives it, and no stuck thread holds its exit.

A child left running keeps the runner's stdout open, so CI waits for it until its own limit
(one CI run ended that way after every test had finished). Each process the tests start
inherits `UWS_TEST_RUN` in its environment, even through its own children and new sessions,
so the run can find them all at the end.
"""

from __future__ import annotations

import faulthandler
import os
import sys
import threading
import time
import uuid

import psutil

RUN_MARK = "UWS_TEST_RUN"
EXIT_GRACE_S = 60.0


def mark_this_run() -> str:
    """Put this run's mark in the environment every child inherits; return it."""
    return os.environ.setdefault(RUN_MARK, uuid.uuid4().hex)


def reap_leftovers(mark: str) -> list[str]:
    """Kill every other process carrying the mark; return their command lines."""
    me = os.getpid()
    left: list[psutil.Process] = []
    for proc in psutil.process_iter(["pid"]):
        if proc.pid == me:
            continue
        try:
            if proc.environ().get(RUN_MARK) == mark:
                left.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    named = []
    for proc in left:
        try:
            named.append(" ".join(proc.cmdline())[:200])
            proc.kill()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    psutil.wait_procs(left, timeout=10)
    return named


def exit_within(grace_s: float, status: int) -> None:
    """If the interpreter has not exited `grace_s` from now, print every thread's stack and
    exit with `status`: a thread stuck at exit must not turn a finished run into a timeout."""

    def watch() -> None:
        time.sleep(grace_s)
        print(f"\nthe test run did not exit within {grace_s:.0f} s; threads:", file=sys.stderr)
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(status)

    threading.Thread(target=watch, name="exit-watchdog", daemon=True).start()
