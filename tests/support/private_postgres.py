"""A PostgreSQL cluster of the test's own, on a free port, that the test may kill -9 and start
again (crash recovery and all) without touching the machine's shared server."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import psycopg

from devkit.localbroker import free_port, wait_for_port


def _bin_dir() -> Path:
    """The newest installed PostgreSQL server's binaries (Debian's layout, then PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=_major)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("postgres")
    if on_path is None:
        raise FileNotFoundError("no PostgreSQL server (scripts/bootstrap.sh installs it)")
    return Path(on_path).parent


def _major(path: str) -> int:
    return int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0


def _as_postgres(command: list[str]) -> list[str]:
    # The server refuses to run as root; CI runs as root.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class PrivatePostgres:
    """initdb once, then start / kill -9 / start on the same data folder and port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="uws-pg-"))
        self._bin = _bin_dir()
        self._proc: subprocess.Popen[bytes] | None = None
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        data = str(self.folder / "data")
        initdb = [str(self._bin / "initdb"), "-D", data, "-A", "trust", "-U", "postgres"]
        subprocess.run(_as_postgres([*initdb, "-E", "UTF8"]), check=True, capture_output=True)

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of a database on this cluster."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create a database; return its SQLAlchemy URL."""
        admin = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def start(self) -> None:
        """Start the server (after a kill -9 it recovers from its WAL first)."""
        server = [str(self._bin / "postgres"), "-D", str(self.folder / "data")]
        server += ["-p", str(self.port), "-k", str(self.folder), "-c", "listen_addresses=127.0.0.1"]
        log = (self.folder / "server.log").open("ab")
        # Its own session, so kill -9 takes the postmaster and every backend at once.
        self._proc = subprocess.Popen(
            _as_postgres(server), stdout=log, stderr=log, start_new_session=True
        )
        log.close()
        wait_for_port(self.port, 60)

    def kill(self) -> None:
        """kill -9 the server and all its backends, as a crash would."""
        if self._proc is not None:
            os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait()
            self._proc = None

    def stop(self) -> None:
        """Kill the server and remove its folder."""
        self.kill()
        shutil.rmtree(self.folder, ignore_errors=True)
