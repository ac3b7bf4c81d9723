"""The node's model updater: asks cloud-duty which version to run, downloads it with the
node's own credential, checks its SHA-256, loads it beside the running model, swaps it in
between two batches, watches the heartbeats and rolls back by itself when they regress."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from edge.errors import ModelUpdateError
from edge.rollout.config import RolloutConfig
from edge.rollout.decision import Verdict, Vitals, decide, vitals_of
from station.contracts import NodeHealth, RunningModel, utcnow
from vision.detector import Detector
from vision.slot import DetectorSlot

log = logging.getLogger(__name__)

SLOT = "detector"


class Assignment(BaseModel):
    """What cloud-duty says the node should run in one slot."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    slot: str
    version: str
    sha256: str
    format: str
    classes: list[str]


class ModelSource(Protocol):
    """Where assignments and weights come from (cloud-duty over HTTPS)."""

    def wanted(self) -> list[Assignment]:
        """The versions this node should run."""
        ...

    def download(self, version: str, stop: threading.Event) -> bytes:
        """The weights of a version (ModelUpdateError once `stop` is set)."""
        ...


class DutyModelSource:
    """cloud-duty's registry, called with the node's own credential."""

    def __init__(self, node_id: str, config: RolloutConfig) -> None:
        """Talk to `config.duty_url` as `node_id`."""
        token = config.duty_token.get_secret_value()
        verify: str | bool = str(config.tls_ca_file) if config.tls_ca_file else True
        self._node_id = node_id
        self._http = httpx.Client(
            base_url=config.duty_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(10, read=120),
            verify=verify,
        )

    def wanted(self) -> list[Assignment]:
        """GET /nodes/{id}/models."""
        try:
            answer = self._http.get(f"/api/v1/nodes/{self._node_id}/models")
            answer.raise_for_status()
            return [Assignment.model_validate(a) for a in answer.json()]
        except (httpx.HTTPError, ValidationError, ValueError) as err:
            raise ModelUpdateError(f"cannot read the model assignment: {str(err)[:200]}") from err

    def download(self, version: str, stop: threading.Event) -> bytes:
        """GET /models/{version}/weights, in chunks: a stop ends a slow download at once."""
        chunks: list[bytes] = []
        try:
            with self._http.stream("GET", f"/api/v1/models/{version}/weights") as answer:
                answer.raise_for_status()
                for chunk in answer.iter_bytes():
                    if stop.is_set():
                        raise ModelUpdateError(f"download of {version} cut short: stopping")
                    chunks.append(chunk)
        except httpx.HTTPError as err:
            raise ModelUpdateError(f"cannot download {version}: {str(err)[:200]}") from err
        return b"".join(chunks)

    def close(self) -> None:
        """Close the HTTP client."""
        self._http.close()


@dataclass
class _Trial:
    version: str
    sha256: str
    old: Detector
    old_state: RunningModel
    swapped_at: datetime
    before: list[Vitals]


Loader = Callable[[Path, list[str]], Detector]
"""Loads weights into a detector with the node's settings, checking the class list."""


class ModelUpdater:
    """One slot's updates: poll, fetch, verify, load beside, swap, watch, keep or roll back."""

    def __init__(
        self,
        slot: DetectorSlot,
        source: ModelSource,
        loader: Loader,
        config: RolloutConfig,
        running: RunningModel,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """`running` names what the slot runs now (the configured file)."""
        self._slot, self._source, self._loader = slot, source, loader
        self._config = config
        self._clock = clock
        self._state = running
        self._recent: deque[Vitals] = deque(maxlen=600)
        self._trial: _Trial | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def running(self) -> list[RunningModel]:
        """What the slot runs now, for the heartbeat."""
        with self._lock:
            return [self._state]

    def observe(self, report: NodeHealth) -> None:
        """Take one heartbeat; judge a model on trial and roll it back if it regressed."""
        vitals = vitals_of(report)
        with self._lock:
            self._recent.append(vitals)
            trial = self._trial
            if trial is None:
                return
            after = [v for v in self._recent if v.at > trial.swapped_at]
            limits = self._config.rollback
            decision = decide(trial.before, after, trial.swapped_at, self._clock(), limits)
            if decision.verdict is Verdict.KEEP:
                log.info("model %s kept after its trial", trial.version)
                self._trial = None
            elif decision.verdict is Verdict.ROLL_BACK:
                self._roll_back(trial, decision.reason)

    def poll_once(self) -> bool:
        """Ask for the wanted version and swap it in if it is new; True when it swapped."""
        with self._lock:
            if self._trial is not None:
                return False
            state = self._state
        wanted = next((a for a in self._source.wanted() if a.slot == SLOT), None)
        if wanted is None or wanted.version in (state.version, state.rolled_back_from):
            return False
        before = self._baseline()
        if not before:
            log.info("model %s waits for a heartbeat to compare with", wanted.version)
            return False
        weights = self._fetch(wanted)  # a failed download is tried again at the next poll
        return self._load_and_swap(wanted, weights, before)

    def start(self) -> None:
        """Poll every `poll_s` on a background thread."""
        self._thread = threading.Thread(target=self._loop, name="model-updates", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop polling; wait up to `timeout_s` for a download or a load under way.

        A download stops at its next chunk. A load cannot be cut short, and is waited for:
        a model library still working on a daemon thread while the interpreter exits can
        abort the process ("terminate called without an active exception").
        """
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log.warning("model updates still busy after %.1f s; left behind", timeout_s)

    def _loop(self) -> None:
        while not self._stop.wait(self._config.poll_s):
            try:
                self.poll_once()
            except ModelUpdateError as err:
                log.warning("%s", err)

    def _baseline(self) -> list[Vitals]:
        since = self._clock() - timedelta(seconds=self._config.rollback.window_s)
        with self._lock:
            return [v for v in self._recent if v.at >= since and v.fps > 0]

    def _fetch(self, wanted: Assignment) -> Path:
        """The verified weights file of a version, downloaded once."""
        folder = self._config.dir
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{wanted.version}.{wanted.format}"
        if path.is_file() and _sha256(path.read_bytes()) == wanted.sha256:
            return path
        data = self._source.download(wanted.version, self._stop)
        digest = _sha256(data)
        if digest != wanted.sha256:
            raise ModelUpdateError(f"{wanted.version}: SHA-256 {digest}, expected {wanted.sha256}")
        partial = path.with_suffix(path.suffix + ".part")
        partial.write_bytes(data)
        partial.replace(path)  # never a half-written model under the real name
        return path

    def _load_and_swap(self, wanted: Assignment, weights: Path, before: list[Vitals]) -> bool:
        """Load the weights beside the running model and swap them in, unless stopping."""
        if self._stop.is_set():
            return False
        try:
            detector = self._loader(weights, wanted.classes)
        except Exception as err:  # any load failure: refuse the version and say so
            log.warning("model %s refused: %s", wanted.version, err)
            self._refuse(wanted, f"refused: {err}"[:300])
            return False
        if self._stop.is_set():
            return False  # the node is stopping: it restarts on its configured file anyway
        self._swap_in(wanted, detector, before)
        return True

    def _swap_in(self, wanted: Assignment, detector: Detector, before: list[Vitals]) -> None:
        with self._lock:
            old = self._slot.swap(detector)
            now = self._clock()
            self._trial = _Trial(wanted.version, wanted.sha256, old, self._state, now, before)
            self._state = RunningModel(slot=SLOT, version=wanted.version, sha256=wanted.sha256)
        log.info("model %s swapped in; on trial", wanted.version)

    def _roll_back(self, trial: _Trial, reason: str) -> None:
        self._slot.swap(trial.old)
        self._state = trial.old_state.model_copy(
            update={"rolled_back_from": trial.version, "rollback_reason": reason[:300]}
        )
        self._trial = None
        log.warning("model %s rolled back: %s", trial.version, reason)

    def _refuse(self, wanted: Assignment, reason: str) -> None:
        with self._lock:
            self._state = self._state.model_copy(
                update={"rolled_back_from": wanted.version, "rollback_reason": reason}
            )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: Path) -> str:
    """The SHA-256 of a weights file (empty for a folder export)."""
    return _sha256(path.read_bytes()) if path.is_file() else ""
