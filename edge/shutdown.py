"""How the node stops: SIGTERM or SIGINT set a stop event, and a watchdog bounds the stop.

A clean stop ends open events, says goodbye to the cloud and closes the outbox, in a few
seconds. Whatever a part is stuck in (a camera's read, a DNS lookup, a model load), the process
must still end well before systemd's TimeoutStopSec: a node that lingers holds the restart of
the station's safety rules. The watchdog is faulthandler's own thread, so it fires even while
the interpreter is blocked or finalising; it prints every thread's stack (what was stuck) and
ends the process with status 1.

Light on purpose: `station edge` installs this before it imports the models' libraries.
"""

from __future__ import annotations

import faulthandler
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType

log = logging.getLogger(__name__)

STOP_DEADLINE_S = 10.0
"""From the signal to the end of the process, at most; then it is ended by force."""

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def arm_watchdog(deadline_s: float = STOP_DEADLINE_S) -> None:
    """End the process (status 1, with every thread's stack) unless it has ended by then."""
    faulthandler.dump_traceback_later(deadline_s, exit=True, file=sys.stderr)


def install_stop_signals(stop: threading.Event) -> Callable[[], None]:
    """Make SIGINT/SIGTERM set `stop` and arm the watchdog; return a function restoring the
    old handlers. Only the main thread may install handlers: elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handle(signum: int, _frame: FrameType | None) -> None:
        if not stop.is_set():
            arm_watchdog()
        log.info("signal %s: stopping", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in _SIGNALS}

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore


class Deadline:
    """One time budget shared by the steps of a stop, so their waits do not add up."""

    def __init__(self, seconds: float) -> None:
        """Start the budget now."""
        self._end = time.monotonic() + seconds

    def left(self, at_most: float | None = None) -> float:
        """Seconds left (never below zero), capped at `at_most` if given."""
        left = max(0.0, self._end - time.monotonic())
        return left if at_most is None else min(left, at_most)
