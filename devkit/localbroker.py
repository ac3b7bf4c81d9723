"""A Mosquitto broker owned by this process (demo, tests), on a free port, own config."""

from __future__ import annotations

import getpass
import random
import shutil
import socket
import subprocess
import time
from pathlib import Path

from devkit.processes import stop_process


class BrokerMissingError(RuntimeError):
    """Mosquitto is not installed."""


# Below the kernel's ephemeral range: a client connecting to a server that is restarting
# there can be given that very port as its own and connect to itself (TCP simultaneous
# open), which then keeps the server from binding it again.
_PORT_FLOOR = 20000
_handed_out: set[int] = set()


def _ephemeral_floor() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """Return a loopback TCP port, free now, that no outgoing connection will be given."""
    ceiling = _ephemeral_floor()
    for _ in range(200):
        port = random.randrange(_PORT_FLOOR, max(ceiling, _PORT_FLOOR + 1000))
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise OSError("no free loopback port below the ephemeral range")


def wait_for_port(port: int, timeout_s: float = 10.0) -> None:
    """Block until something accepts connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout_s} s")


class LocalBroker:
    """Start, stop and restart a Mosquitto process; its state persists in `workdir`."""

    def __init__(
        self,
        workdir: Path,
        extra_config: str = "",
        port: int | None = None,
        config_text: str | None = None,
    ) -> None:
        """Own a broker in `workdir`; `config_text` replaces the whole generated config.

        With `config_text`, it must open a listener on 127.0.0.1:`port`: start() waits there.
        """
        self.workdir = workdir
        self.port = port or free_port()
        self.extra_config = extra_config
        self.config_text = config_text
        self.log_path = workdir / "mosquitto.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def _write_config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "mosquitto.conf"
        if self.config_text is not None:
            conf.write_text(self.config_text)
            return conf
        conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            # Run as whoever started it: as root, mosquitto would switch to a user that
            # cannot write the workdir, silently losing persistence and the log.
            f"user {getpass.getuser()}\n"
            "persistence true\n"
            f"persistence_location {self.workdir}/\n"
            # Deep queues on purpose: a subscriber that lags must not lose QoS 1 messages.
            "max_queued_messages 100000\n"
            "max_inflight_messages 1000\n"
            f"log_dest file {self.log_path}\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
            f"{self.extra_config}\n"
        )
        return conf

    def start(self) -> None:
        """Start the broker and wait until it accepts connections (else stop it again)."""
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(binary).exists():
            raise BrokerMissingError("mosquitto is not installed (apt-get install mosquitto)")
        conf = self._write_config()
        # Its output goes to a file, never to ours: a broker left running must not hold the
        # pipe of whoever started us (a CI runner waits for that pipe to close).
        with (self.workdir / "mosquitto.out").open("ab") as out:
            self._proc = subprocess.Popen(
                [binary, "-c", str(conf)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_for_port(self.port)
        except BaseException:
            self.stop()  # not left behind when it did not come up (or we were interrupted)
            raise

    def stop(self) -> None:
        """Stop the broker cleanly (SIGTERM makes it save its persistence file)."""
        if self._proc is None:
            return
        stop_process(self._proc, timeout_s=10)
        self._proc = None

    def restart(self, down_s: float = 0.0) -> None:
        """Stop, stay down for `down_s` seconds, then start on the same port."""
        self.stop()
        time.sleep(down_s)
        self.start()
