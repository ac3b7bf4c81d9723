"""The node's accelerator, where it has one: NVML on NVIDIA GPUs, tegrastats on a Jetson.

A node without one (or whose driver answers nothing) reports no GPU: never an error.
"""

from __future__ import annotations

import importlib
import logging
import re
import shutil
import subprocess
from typing import Any, Protocol

from station.contracts import GpuHealth

log = logging.getLogger(__name__)

_TEGRA_RAM = re.compile(r"\bRAM (?P<used>\d+)/(?P<total>\d+)MB\b")
_TEGRA_GPU = re.compile(r"\bGR3D_FREQ (?P<busy>\d+)%")


class GpuProbe(Protocol):
    """Reads the accelerator's figures, or None where there is none."""

    def read(self) -> GpuHealth | None:
        """Return the current figures."""
        ...


class NoGpu:
    """A node without an accelerator."""

    def read(self) -> GpuHealth | None:
        """Return None: there is nothing to read."""
        return None


class NvmlProbe:
    """The first NVIDIA GPU through NVML (the nvidia-ml-py package)."""

    def __init__(self, nvml: Any, handle: Any) -> None:
        """Use an initialised NVML module and a device handle (see `open`)."""
        self._nvml = nvml
        self._handle = handle

    @classmethod
    def open(cls) -> NvmlProbe | None:
        """Return a probe of GPU 0, or None where NVML or a GPU is missing."""
        try:
            nvml: Any = importlib.import_module("pynvml")
            nvml.nvmlInit()
            return cls(nvml, nvml.nvmlDeviceGetHandleByIndex(0))
        except Exception as err:  # NVMLError has many subclasses; any means no GPU here
            log.debug("no NVML GPU: %s", err)
            return None

    def read(self) -> GpuHealth | None:
        """Return utilisation and memory of the GPU; None if the driver stops answering."""
        nvml = self._nvml
        try:
            name = nvml.nvmlDeviceGetName(self._handle)
            memory = nvml.nvmlDeviceGetMemoryInfo(self._handle)
            rates = nvml.nvmlDeviceGetUtilizationRates(self._handle)
        except Exception as err:
            log.warning("NVML read failed: %s", err)
            return None
        return GpuHealth(
            name=(name.decode() if isinstance(name, bytes) else str(name))[:64],
            utilisation_percent=float(rates.gpu),
            memory_used_mb=memory.used / 2**20,
            memory_total_mb=memory.total / 2**20,
        )


def parse_tegrastats(line: str) -> GpuHealth | None:
    """Read one tegrastats line: a Jetson's GPU shares the RAM, so RAM is its memory."""
    ram = _TEGRA_RAM.search(line)
    busy = _TEGRA_GPU.search(line)
    if ram is None and busy is None:
        return None
    return GpuHealth(
        name="tegra",
        utilisation_percent=float(busy["busy"]) if busy else None,
        memory_used_mb=float(ram["used"]) if ram else None,
        memory_total_mb=float(ram["total"]) if ram else None,
    )


class TegrastatsProbe:
    """A Jetson's GPU through one line of `tegrastats`."""

    def __init__(self, command: str) -> None:
        """Run this tegrastats binary for each reading."""
        self._command = command

    def read(self) -> GpuHealth | None:
        """Return the figures of one tegrastats sample, or None if it gave none."""
        try:
            with subprocess.Popen(
                [self._command, "--interval", "500"],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            ) as process:
                assert process.stdout is not None
                line = process.stdout.readline()
                process.terminate()
        except OSError as err:
            log.warning("tegrastats failed: %s", err)
            return None
        return parse_tegrastats(line)


def find_gpu() -> GpuProbe:
    """The node's accelerator: NVML first, then tegrastats, else none."""
    probe = NvmlProbe.open()
    if probe is not None:
        return probe
    tegrastats = shutil.which("tegrastats")
    return TegrastatsProbe(tegrastats) if tegrastats else NoGpu()
